"""The data types that flow through the pipeline: an HLS stack in, model results out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from affine import Affine
from rasterio.crs import CRS


@dataclass
class HLSStack:
    """A (T, 6, H, W) int16 stack in HLS DN (nodata -9999), model band order, on one grid."""

    data: np.ndarray  # (T, 6, H, W) int16
    valid: np.ndarray  # (T, H, W) bool: finite, not fill, not cloud
    crs: CRS
    transform: Affine
    times: list[datetime | None] = field(default_factory=list)
    scene_ids: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.data.shape[-2]), int(self.data.shape[-1])

    @property
    def num_frames(self) -> int:
        return int(self.data.shape[0])

    def frames(self, idx: list[int]) -> "HLSStack":
        """A new stack holding only the frames ``idx``."""
        return HLSStack(self.data[idx], self.valid[idx], self.crs, self.transform,
                        [self.times[i] for i in idx] if self.times else [],
                        [self.scene_ids[i] for i in idx] if self.scene_ids else [])


@dataclass
class SegmentationResult:
    """A class map on the input's grid; 255 marks no data."""

    classes: np.ndarray  # (H, W) uint8, CLASS_NODATA where input invalid
    crs: CRS
    transform: Affine
    model: str
    class_names: tuple[str, ...]
    class_colors: tuple[tuple[int, int, int], ...]
    probabilities: np.ndarray | None = None  # (K, H, W) float32
    seconds: float = 0.0
    device: str = "cpu"
    checkpoint_sha256: str = ""  # of the weights file that made it (provenance)


@dataclass
class ReconstructionResult:
    """MAE reconstruction of each date, with display RGBs on a shared stretch."""

    original_rgb: np.ndarray  # (T, H, W, 3) uint8
    masked_rgb: np.ndarray  # (T, H, W, 3) uint8, hidden patches black
    reconstructed_rgb: np.ndarray  # (T, H, W, 3) uint8
    mask: np.ndarray  # (T, H, W) bool, True where a patch was hidden
    reconstructed: np.ndarray  # (T, 6, H, W) float32 in DN
    crs: CRS
    transform: Affine
    model: str
    mask_ratio: float
    seed: int
    seconds: float = 0.0
    device: str = "cpu"
    checkpoint_sha256: str = ""  # of the weights file that made it (provenance)
