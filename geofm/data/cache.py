"""A bounded disk cache of read stacks, keyed by scenes, area and grid (LRU by total size)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from geofm.config import ENV_CACHE_DIR, ENV_CACHE_MAX_MB
from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.stack import HLSStack

DEFAULT_CACHE_MAX_MB = 2048
CACHE_VERSION = 1


def cache_root() -> Path:
    """$GEOFM_CACHE_DIR, else ~/.cache/geofm."""
    return Path(os.environ.get(ENV_CACHE_DIR) or Path.home() / ".cache" / "geofm")


class StackCache:
    """Stacks as uncompressed .npz files (no pickles) under ``<root>/stacks``; oldest-used evicted first."""

    _lock = threading.Lock()

    def __init__(self, root: str | Path | None = None, max_bytes: int | None = None) -> None:
        self.dir = Path(root or cache_root()) / "stacks"
        if max_bytes is None:
            max_bytes = int(float(os.environ.get(ENV_CACHE_MAX_MB, DEFAULT_CACHE_MAX_MB)) * 1024 * 1024)
        self.max_bytes = max_bytes

    @staticmethod
    def key_for(scene_ids: list[list[str]], aoi: AOI, grid: Grid) -> str:
        """Hash of the frames' scene ids, the area's geometry and the grid."""
        text = json.dumps({"v": CACHE_VERSION, "frames": scene_ids, "aoi": aoi.geometry.wkt,
                           "grid": grid.key()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _path(self, key: str) -> Path:
        return self.dir / f"{key}.npz"

    def get(self, key: str) -> HLSStack | None:
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                stack = HLSStack(
                    data=z["data"], valid=z["valid"], crs=CRS.from_wkt(meta["crs"]),
                    transform=Affine(*meta["transform"][:6]),
                    times=[datetime.fromisoformat(t) if t else None for t in meta["times"]],
                    scene_ids=list(meta["scene_ids"]))
        except (OSError, KeyError, ValueError):
            return None
        os.utime(path)  # mark as recently used
        return stack

    def put(self, key: str, stack: HLSStack) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = {"crs": stack.crs.to_wkt(), "transform": list(stack.transform),
                "times": [t.isoformat() if t else None for t in stack.times], "scene_ids": stack.scene_ids}
        tmp = self.dir / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp.npz"
        np.savez(tmp, data=stack.data, valid=stack.valid, meta=np.array(json.dumps(meta)))
        os.replace(tmp, self._path(key))
        self.evict()

    def evict(self) -> None:
        """Delete least recently used entries until the total size is under the cap."""
        with self._lock:
            entries = []
            for p in self.dir.glob("*.npz"):
                if p.name.startswith("."):
                    continue
                try:
                    st = p.stat()
                except OSError:
                    continue
                entries.append((st.st_mtime, st.st_size, p))
            total = sum(e[1] for e in entries)
            for _, size, p in sorted(entries):
                if total <= self.max_bytes:
                    break
                p.unlink(missing_ok=True)
                total -= size

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.dir.glob("*.npz")) if self.dir.exists() else 0
