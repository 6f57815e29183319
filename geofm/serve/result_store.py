"""The app's finished runs on disk, so a server restart keeps them (``GEOFM_CACHE_DIR/results``).

One uncompressed ``.npz`` per run (arrays only, no pickles), named by a hash of the request; its metadata
(the request itself, grids, scenes, stage times) is JSON inside it, with a SHA-256 of the arrays. A read
checks the checksum and that the stored request is the one asked for: a damaged or foreign entry is
removed and the run is made again. Writes go to a temporary name and are renamed into place; the folder is
kept under ``APP_RESULTS_MAX_MB`` by dropping the least recently used entries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from geofm.config import APP_RESULTS_MAX_MB
from geofm.serve.progress import StageTimes
from geofm.settings import settings
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

log = logging.getLogger(__name__)
STORE_VERSION = 1
_RECON_ARRAYS = ("original_rgb", "masked_rgb", "reconstructed_rgb", "mask", "reconstructed")


def request_key(request: Any) -> str:
    text = json.dumps({"v": STORE_VERSION, "request": dataclasses.asdict(request)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"{name}{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _scene_from(d: dict[str, Any]):
    from geofm.data.scene import Scene  # lazy: pystac_client

    d = dict(d)
    d["datetime"] = dt.datetime.fromisoformat(d["datetime"])
    for key in ("bbox", "transform", "shape"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    return Scene(**d)


class ResultStore:
    """Finished RunOutcomes on disk, bounded by size, checked on every read."""

    _lock = threading.Lock()

    def __init__(self, root: str | Path | None = None, max_bytes: int | None = None) -> None:
        self._root = Path(root) if root is not None else None
        self.max_bytes = max_bytes if max_bytes is not None else int(APP_RESULTS_MAX_MB * 1024 * 1024)

    @property
    def dir(self) -> Path:
        return (self._root or settings().cache_dir) / "results"

    def _path(self, request: Any) -> Path:
        return self.dir / f"{request_key(request)}.npz"

    def put(self, outcome) -> bool:
        """Store the outcome atomically; False (logged) when it cannot be written (the run still counts)."""
        arrays: dict[str, np.ndarray] = {"stack_data": outcome.stack.data, "stack_valid": outcome.stack.valid}
        result = outcome.result
        if isinstance(result, SegmentationResult):
            arrays["classes"] = result.classes
            fields = {k: getattr(result, k) for k in ("model", "class_names", "class_colors", "seconds", "device",
                                                       "checkpoint_sha256", "precision")}
            kind = "classes"
        else:
            arrays.update({k: getattr(result, k) for k in _RECON_ARRAYS})
            fields = {k: getattr(result, k) for k in ("model", "mask_ratio", "seed", "seconds", "device",
                                                       "checkpoint_sha256", "precision")}
            kind = "reconstruction"
        if outcome.confidence is not None:
            arrays["confidence"] = np.asarray(outcome.confidence)
        meta = {
            "v": STORE_VERSION, "request": dataclasses.asdict(outcome.request), "kind": kind, "fields": fields,
            "crs": result.crs.to_wkt(), "transform": list(result.transform)[:6],
            "stack": {"crs": outcome.stack.crs.to_wkt(), "transform": list(outcome.stack.transform)[:6],
                      "times": [t.isoformat() if t else None for t in outcome.stack.times],
                      "scene_ids": list(outcome.stack.scene_ids)},
            "scenes": [s.to_dict() for s in outcome.scenes],
            "times": {"seconds": outcome.times.seconds, "messages": outcome.times.messages},
            "sha256": _digest(arrays),
        }
        path = self._path(outcome.request)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                np.savez(fh, meta=np.array(json.dumps(meta, default=str)), **arrays)  # type: ignore[arg-type]
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as err:
            log.warning("could not keep the result on disk (%s); it stays in memory only", err)
            tmp.unlink(missing_ok=True)
            return False
        self.evict(keep=path)
        return True

    def get(self, request: Any):
        """The stored outcome of ``request`` as the fields of a RunOutcome (geofm.serve.runs builds it), or None
        (missing; damaged or foreign: then removed)."""

        path = self._path(request)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: z[k] for k in z.files if k != "meta"}
            if meta.get("sha256") != _digest(arrays) or meta.get("request") != json.loads(
                    json.dumps(dataclasses.asdict(request))):
                raise ValueError("checksum or request mismatch")
            crs, transform = CRS.from_wkt(meta["crs"]), Affine(*meta["transform"])
            fields = meta["fields"]
            result: SegmentationResult | ReconstructionResult
            if meta["kind"] == "classes":
                fields["class_names"] = tuple(fields["class_names"])
                fields["class_colors"] = tuple(tuple(c) for c in fields["class_colors"])
                result = SegmentationResult(arrays["classes"], crs, transform, **fields)
            else:
                result = ReconstructionResult(**{k: arrays[k] for k in _RECON_ARRAYS}, crs=crs, transform=transform,
                                              **fields)
            sm = meta["stack"]
            stack = HLSStack(arrays["stack_data"], arrays["stack_valid"], CRS.from_wkt(sm["crs"]),
                             Affine(*sm["transform"]),
                             times=[dt.datetime.fromisoformat(t) if t else None for t in sm["times"]],
                             scene_ids=list(sm["scene_ids"]))
            outcome = dict(request=request, result=result, stack=stack,
                           scenes=[_scene_from(s) for s in meta["scenes"]],
                           times=StageTimes(dict(meta["times"]["seconds"]), dict(meta["times"]["messages"])),
                           confidence=arrays.get("confidence"))
        except Exception as err:  # noqa: BLE001 - any damage (zip, json, arrays) means: run it again
            log.warning("dropping damaged result %s: %s", path.name, str(err)[:200])
            path.unlink(missing_ok=True)
            return None
        try:
            os.utime(path)  # recently used
        except OSError:
            pass
        return outcome

    def evict(self, keep: Path | None = None) -> None:
        """Remove the least recently used entries until the folder is under the cap (never ``keep``)."""
        with self._lock:
            try:
                entries = sorted((p.stat().st_mtime, p.stat().st_size, p) for p in self.dir.glob("[!.]*.npz"))
            except OSError:
                return
            total = sum(e[1] for e in entries)
            for _, size, p in entries:
                if total <= self.max_bytes:
                    break
                if p == keep:
                    continue
                p.unlink(missing_ok=True)
                total -= size

    def clear(self) -> None:
        for p in self.dir.glob("*.npz") if self.dir.exists() else ():
            p.unlink(missing_ok=True)
