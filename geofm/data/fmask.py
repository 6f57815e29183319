"""HLS Fmask (quality band) to masks: not clear = cloud, adjacent to cloud/shadow, or shadow; 255 = fill."""

from __future__ import annotations

import numpy as np

from geofm.config import FMASK_FILL, FMASK_NOT_CLEAR_BITS


def not_clear(fmask: np.ndarray) -> np.ndarray:
    """True where Fmask marks cloud (bit 1), adjacency (bit 2) or cloud shadow (bit 3), or is fill."""
    fmask = np.asarray(fmask, dtype=np.uint8)
    return ((fmask & FMASK_NOT_CLEAR_BITS) != 0) | (fmask == FMASK_FILL)


def clear(fmask: np.ndarray) -> np.ndarray:
    """True where a pixel has data and no cloud, adjacency or shadow bit."""
    return ~not_clear(fmask)


def clear_fraction(fmask: np.ndarray, area: np.ndarray | None = None) -> float:
    """Fraction of the area's pixels that are clear (pixels without data count as not clear)."""
    ok = clear(fmask)
    if area is None:
        return float(ok.mean()) if ok.size else 0.0
    n = int(area.sum())
    return float((ok & area).sum()) / n if n else 0.0
