"""A bounded disk cache of read stacks, keyed by scenes, area and grid (LRU by total size)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.settings import settings
from geofm.stack import HLSStack

CACHE_VERSION = 2  # 2: entries carry a checksum

log = logging.getLogger(__name__)


def cache_root() -> Path:
    """$GEOFM_CACHE_DIR, else ~/.cache/geofm."""
    return settings().cache_dir


#: A temporary file older than this is an orphan (its writer died): removed by the next eviction.
ORPHAN_AGE_S = 3600.0


class StackCache:
    """Stacks as uncompressed .npz files (no pickles) under ``<root>/stacks``; oldest-used evicted first.

    Entries carry a SHA-256 of their arrays, checked on every read: a damaged, truncated or empty entry is
    dropped and the caller reads the area again. Writes go to a temporary name and are renamed into place;
    a write that fails (a full disk) is logged and never fails the run that produced the stack.
    """

    _lock = threading.Lock()

    def __init__(self, root: str | Path | None = None, max_bytes: int | None = None) -> None:
        self.dir = Path(root or cache_root()) / "stacks"
        if max_bytes is None:
            max_bytes = int(settings().cache_max_mb * 1024 * 1024)
        self.max_bytes = max_bytes

    @staticmethod
    def key_for(scene_ids: list[list[str]], aoi: AOI, grid: Grid) -> str:
        """Hash of the frames' scene ids, the area's geometry and the grid."""
        text = json.dumps({"v": CACHE_VERSION, "frames": scene_ids, "aoi": aoi.geometry.wkt,
                           "grid": grid.key()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _path(self, key: str) -> Path:
        return self.dir / f"{key}.npz"

    @staticmethod
    def _digest(data: np.ndarray, valid: np.ndarray) -> str:
        h = hashlib.sha256()
        for a in (data, valid):
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def get(self, key: str) -> HLSStack | None:
        """The cached stack, or None (missing, or damaged: then the entry is removed)."""
        path = self._path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                data, valid = z["data"], z["valid"]
            if meta.get("sha256") != self._digest(data, valid) or data.ndim != 4 or valid.shape != (
                    data.shape[0], *data.shape[2:]):
                raise ValueError("checksum or shape mismatch")
            stack = HLSStack(
                data=data, valid=valid, crs=CRS.from_wkt(meta["crs"]),
                transform=Affine(*meta["transform"][:6]),
                times=[datetime.fromisoformat(t) if t else None for t in meta["times"]],
                scene_ids=list(meta["scene_ids"]))
        except Exception as err:  # noqa: BLE001 - any damage (zip, json, CRS, arrays) means: read again
            log.warning("dropping damaged cache entry %s: %s", path.name, str(err)[:200])
            path.unlink(missing_ok=True)
            return None
        try:
            os.utime(path)  # mark as recently used
        except OSError:
            pass
        return stack

    def put(self, key: str, stack: HLSStack) -> bool:
        """Store the stack atomically; False (logged) when it could not be written."""
        meta = {"crs": stack.crs.to_wkt(), "transform": list(stack.transform),
                "times": [t.isoformat() if t else None for t in stack.times], "scene_ids": stack.scene_ids,
                "sha256": self._digest(stack.data, stack.valid)}
        tmp = self.dir / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp.npz"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                np.savez(fh, data=stack.data, valid=stack.valid, meta=np.array(json.dumps(meta)))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path(key))
        except OSError as err:
            log.warning("could not write cache entry %s (%s); the run goes on without caching it", key, err)
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            return False
        try:
            self.evict()
        except OSError as err:
            log.warning("cache eviction failed: %s", err)
        return True

    def _entries(self) -> list[tuple[float, int, Path]]:
        entries = []
        now = time.time()
        for p in self.dir.glob("*.npz"):
            try:
                st = p.stat()
            except OSError:
                continue
            if p.name.startswith("."):  # a temporary file: an orphan when its writer is long gone
                if now - st.st_mtime > ORPHAN_AGE_S:
                    p.unlink(missing_ok=True)
                    continue
            entries.append((st.st_mtime, st.st_size, p))
        return entries

    def evict(self) -> None:
        """Remove orphaned temporary files, then least recently used entries until under the cap
        (temporary files in progress count against the cap but are not removed)."""
        with self._lock:
            if not self.dir.exists():
                return
            entries = self._entries()
            total = sum(e[1] for e in entries)
            for _, size, p in sorted(entries):
                if total <= self.max_bytes:
                    break
                if p.name.startswith("."):
                    continue
                p.unlink(missing_ok=True)
                total -= size

    def size_bytes(self) -> int:
        """Bytes on disk: entries and temporary files."""
        return sum(e[1] for e in self._entries()) if self.dir.exists() else 0
