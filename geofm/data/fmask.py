"""HLS Fmask (quality band) to masks.

Not clear: cloud (bit 1), adjacent to cloud/shadow (bit 2), cloud shadow (bit 3), high aerosol (bits 6-7 = 11,
which the HLS v2 known-issues notes say to discard), or fill (255). Snow/ice (bit 4) and water (bit 5) are
clear: they are what the surface is, and the models should see them.
"""

from __future__ import annotations

import numpy as np

from geofm.config import FMASK_AEROSOL_HIGH, FMASK_AEROSOL_SHIFT, FMASK_FILL, FMASK_NOT_CLEAR_BITS


def high_aerosol(fmask: np.ndarray) -> np.ndarray:
    """True where the aerosol level (bits 6-7) is high (11)."""
    fmask = np.asarray(fmask, dtype=np.uint8)
    return ((fmask >> FMASK_AEROSOL_SHIFT) & 0b11) == FMASK_AEROSOL_HIGH


def not_clear(fmask: np.ndarray, *, allow_high_aerosol: bool = False) -> np.ndarray:
    """True where Fmask marks cloud, adjacency, cloud shadow or (unless allowed) high aerosol, or is fill."""
    fmask = np.asarray(fmask, dtype=np.uint8)
    bad = ((fmask & FMASK_NOT_CLEAR_BITS) != 0) | (fmask == FMASK_FILL)
    if not allow_high_aerosol:
        bad |= high_aerosol(fmask) & (fmask != FMASK_FILL)
    return bad


def clear(fmask: np.ndarray, *, allow_high_aerosol: bool = False) -> np.ndarray:
    """True where a pixel has data and none of the not-clear conditions (snow/ice and water are clear)."""
    return ~not_clear(fmask, allow_high_aerosol=allow_high_aerosol)


def clear_fraction(fmask: np.ndarray, area: np.ndarray | None = None) -> float:
    """Fraction of the area's pixels that are clear (pixels without data count as not clear)."""
    ok = clear(fmask)
    if area is None:
        return float(ok.mean()) if ok.size else 0.0
    n = int(area.sum())
    return float((ok & area).sum()) / n if n else 0.0
