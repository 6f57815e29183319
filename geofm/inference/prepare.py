"""Turn an HLS DN stack into the normalised tensor layout each published model was trained on.

Every model gets its own constants in its own units (see ``geofm.config``):

* flood (Sen1Floods11): fill (-9999) -> 0 *before* scaling DN by 1e-4 to reflectance, then
  ``(x - mean) / std``; layout (6, 1, H, W).
* crop (multi-temporal): DN, the 6 stats tiled x3 over the time-major 18-channel chip, then the
  published quirk: a *plain* reshape of the 18 channels to (6, 3, H, W), so model band ``b'`` and
  frame ``t'`` hold input channel ``3*b' + t'``. Fill pixels are set to the band mean (0 after
  normalising): the training chips had none, and a neutral value keeps -9999 from leaking into
  neighbouring pixels through attention; those pixels are reported as no data anyway.
* MAE (pretrained): DN, ``(x - mean) / std`` with fill -> 0.0001 in normalised space, exactly as the
  official ``inference.py``; layout (6, T, H, W).
"""

from __future__ import annotations

import numpy as np

from geofm.config import HLS_NODATA, HLS_SCALE, ModelSpec, Normalisation
from geofm.errors import InputError

#: Value the official MAE inference script gives fill pixels in normalised space.
MAE_FILL_VALUE: float = 0.0001


def _stats(norm: Normalisation) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(norm.mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(norm.std, dtype=np.float32).reshape(-1, 1, 1)
    return mean, std


def _check(data: np.ndarray, frames: int | None) -> None:
    if data.ndim != 4 or data.shape[1] != 6:
        raise InputError(f"Expected a (T, 6, H, W) stack, got shape {tuple(data.shape)}.")
    if frames is not None and data.shape[0] != frames:
        raise InputError(f"This model takes {frames} date(s); the input has {data.shape[0]}.")


def prepare_flood(data: np.ndarray, norm: Normalisation) -> np.ndarray:
    """(1, 6, H, W) DN -> (6, 1, H, W) float32: fill -> 0, x1e-4, (x - mean) / std."""
    _check(data, 1)
    if norm.units != "reflectance":
        raise ValueError("flood preparation expects reflectance statistics")
    x = data[0].astype(np.float32)
    x[data[0] == HLS_NODATA] = 0.0
    x *= np.float32(HLS_SCALE)
    mean, std = _stats(norm)
    x -= mean
    x /= std
    return x[:, None]


def prepare_crop(data: np.ndarray, norm: Normalisation) -> np.ndarray:
    """(3, 6, H, W) DN -> (6, 3, H, W) float32 with the published time-major plain-reshape quirk."""
    _check(data, 3)
    t, c, h, w = data.shape
    chip = data.reshape(t * c, h, w).astype(np.float32)  # time-major: channel t*6 + b
    mean, std = _stats(norm)
    mean18, std18 = np.tile(mean, (t, 1, 1)), np.tile(std, (t, 1, 1))
    chip = np.where(data.reshape(t * c, h, w) == HLS_NODATA, mean18, chip)
    chip -= mean18
    chip /= std18
    return chip.reshape(c, t, h, w)  # plain reshape: (b', t') <- 3b' + t'


def prepare_mae(data: np.ndarray, norm: Normalisation) -> np.ndarray:
    """(T, 6, H, W) DN -> (6, T, H, W) float32: (x - mean) / std, fill -> 0.0001."""
    _check(data, None)
    mean, std = _stats(norm)
    x = (data.astype(np.float32) - mean[None]) / std[None]
    x[data == HLS_NODATA] = np.float32(MAE_FILL_VALUE)
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3))


def prepare_input(data: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Normalise a (T, 6, H, W) DN stack for ``spec``; returns (6, T, H, W) float32."""
    if spec.kind == "mae":
        if not 1 <= data.shape[0] <= spec.num_frames:
            raise InputError(f"{spec.title} takes 1 to {spec.num_frames} dates; the input has {data.shape[0]}.")
        return prepare_mae(data, spec.norm)
    if spec.time_major_reshape:
        return prepare_crop(data, spec.norm)
    if spec.num_frames == 1 and spec.norm.units == "reflectance":
        return prepare_flood(data, spec.norm)
    raise ValueError(f"no input preparation known for {spec.name}")


def denormalise_mae(x: np.ndarray, norm: Normalisation) -> np.ndarray:
    """Inverse of the MAE normalisation for a (6, ...) array: x * std + mean (DN)."""
    mean = np.asarray(norm.mean, dtype=np.float32).reshape((6,) + (1,) * (x.ndim - 1))
    std = np.asarray(norm.std, dtype=np.float32).reshape((6,) + (1,) * (x.ndim - 1))
    return x * std + mean
