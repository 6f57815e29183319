"""Small GeoTIFF writers for tests (inputs for the reader, the pipeline and the CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

UTM14 = "EPSG:32614"
ORIGIN = Affine(30.0, 0.0, 700_000.0, 0.0, -30.0, 4_600_000.0)
UTM15 = CRS.from_epsg(32615)
# 100 x 80 pixels of 30 m near Omaha (UTM 15N): the web map tests' raster
TRANSFORM = Affine(30.0, 0.0, 253_000.0, 0.0, -30.0, 4_575_000.0)


def hls_like(num_dates: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """(T, 6, H, W) int16 DN with plausible per-band levels and some spatial structure."""
    rng = np.random.default_rng(seed)
    base = np.array([600, 900, 1000, 2800, 2200, 1500], dtype=np.float64).reshape(1, 6, 1, 1)
    yy, xx = np.mgrid[0:height, 0:width]
    pattern = (np.sin(yy / 9.0) + np.cos(xx / 13.0))[None, None] * 300
    noise = rng.normal(0, 150, size=(num_dates, 6, height, width))
    return np.clip(base + pattern + noise, 1, 9000).astype(np.int16)


def write_tif(path: Path, bands: np.ndarray, *, crs: str | None = UTM14, transform: Affine | None = ORIGIN,
              nodata: float | None = -9999) -> Path:
    """Write (bands, H, W) as a GeoTIFF (georeference optional)."""
    count, height, width = bands.shape
    profile = dict(driver="GTiff", width=width, height=height, count=count, dtype=bands.dtype.name)
    if crs is not None:
        profile["crs"] = crs
    if transform is not None:
        profile["transform"] = transform
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(bands)
    return path
