"""Display images: true-colour stretch of HLS DN, class-map colouring, PNG output."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from geofm.config import CLASS_NODATA, RGB_INDICES
from geofm.io.safewrite import atomic_output
from geofm.stack import HLSStack, ReconstructionResult

#: Lowest white point of the stretch (DN), as the official MAE inference script.
MIN_STRETCH_MAX: float = 3000.0
STRETCH_PERCENTILE: float = 99.9


def stretch_max(data: np.ndarray, valid: np.ndarray) -> float:
    """White point ``max(3000, p99.9)`` over the valid B04/B03/B02 values of (..., 6, H, W) DN ``data``."""
    rgb = np.take(data, RGB_INDICES, axis=-3)  # (..., 3, H, W)
    mask = np.broadcast_to(np.expand_dims(valid, -3), rgb.shape)
    values = rgb[mask]
    if values.size == 0:
        return MIN_STRETCH_MAX
    return float(max(MIN_STRETCH_MAX, np.percentile(values, STRETCH_PERCENTILE)))


def to_rgb(data: np.ndarray, valid: np.ndarray, vmax: float) -> np.ndarray:
    """(6, H, W) DN -> (H, W, 3) uint8 on the fixed scale 0..vmax; pixels not ``valid`` -> 0."""
    rgb = np.take(data, RGB_INDICES, axis=0).astype(np.float32).transpose(1, 2, 0)
    scaled = np.clip(rgb / np.float32(vmax), 0.0, 1.0) * 255.0
    out = scaled.astype(np.uint8)  # truncation, as the official script
    out[~valid] = 0
    return out


def stretch_rgb(data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(6, H, W) DN -> (H, W, 3) uint8: B04/B03/B02 stretched 0..max(3000, p99.9 of valid RGB)."""
    return to_rgb(data, valid, stretch_max(data, valid))


def with_display_rgbs(result: ReconstructionResult, stack: HLSStack) -> ReconstructionResult:
    """``result`` (a reconstruction of ``stack``) with its display RGBs: the input, the input with the hidden
    patches black, and the reconstruction, all on one stretch (the white point over every date's valid input)."""
    valid = np.asarray(stack.valid, dtype=bool)
    vmax = stretch_max(stack.data, valid)
    t = stack.data.shape[0]
    rec_dn = np.where(result.mask[:, None], result.reconstructed, stack.data)  # nodata pixels: black either way
    original = np.stack([to_rgb(stack.data[i], valid[i], vmax) for i in range(t)])
    masked = (original * ~result.mask[..., None]).astype(np.uint8)
    reconstructed = np.stack([to_rgb(rec_dn[i], valid[i], vmax) for i in range(t)])
    return dataclasses.replace(result, original_rgb=original, masked_rgb=masked, reconstructed_rgb=reconstructed)


def colorize_classes(classes: np.ndarray, colors: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """(H, W) uint8 class ids -> (H, W, 4) RGBA; CLASS_NODATA (and unknown ids) transparent."""
    lut = np.zeros((256, 4), dtype=np.uint8)
    for k, color in enumerate(colors):
        lut[k, :3] = color
        lut[k, 3] = 255
    lut[CLASS_NODATA] = 0
    return lut[classes]


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an (H, W, 3|4) uint8 array as PNG."""

    path = Path(path)
    with atomic_output(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")
    return path
