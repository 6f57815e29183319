"""Categorical resampling: a fine class raster to a coarser grid by the most frequent class in each block."""

from __future__ import annotations

import numpy as np


def mode_downsample(arr: np.ndarray, factor: int, nodata: int) -> np.ndarray:
    """(H*factor, W*factor) -> (H, W): each block's most frequent value other than ``nodata`` (ties: the
    smaller value); ``nodata`` where the whole block is."""
    if factor == 1:
        return arr.copy()
    h, w = arr.shape[0] // factor, arr.shape[1] // factor
    blocks = arr[:h * factor, :w * factor].reshape(h, factor, w, factor).transpose(0, 2, 1, 3).reshape(h, w, -1)
    srt = np.sort(blocks, axis=-1)
    counts = np.zeros(srt.shape, np.int16)
    for i in range(srt.shape[-1]):
        counts += srt == srt[..., i:i + 1]
    counts[srt == nodata] = -1
    best = np.take_along_axis(srt, counts.argmax(axis=-1)[..., None], axis=-1)[..., 0]
    return np.where(counts.max(axis=-1) < 0, nodata, best).astype(arr.dtype)
