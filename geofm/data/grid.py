"""The output grid of a read: the area's UTM zone at 30 m, snapped to whole pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import geometry_mask

from geofm.config import HLS_RESOLUTION_M
from geofm.data.aoi import AOI


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: CRS, transform and size."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @classmethod
    def for_aoi(cls, aoi: AOI, resolution: float = HLS_RESOLUTION_M) -> "Grid":
        """The grid covering the area's box in its UTM zone, edges on multiples of ``resolution``."""
        crs = aoi.utm_crs()
        x0, y0, x1, y1 = aoi.projected(crs).bounds
        r = float(resolution)
        left, right = math.floor(x0 / r) * r, math.ceil(x1 / r) * r
        bottom, top = math.floor(y0 / r) * r, math.ceil(y1 / r) * r
        width, height = max(1, int(round((right - left) / r))), max(1, int(round((top - bottom) / r)))
        return cls(crs, Affine(r, 0.0, left, 0.0, -r, top), width, height)

    @property
    def resolution(self) -> float:
        return float(self.transform.a)

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    def key(self) -> str:
        """A stable text key (CRS, transform, size) for caches."""
        t = self.transform
        return f"{self.crs.to_string()}|{t.a:g},{t.c:.3f},{t.e:g},{t.f:.3f}|{self.width}x{self.height}"

    def area_mask(self, aoi: AOI) -> np.ndarray:
        """(H, W) bool: pixels whose centre lies inside the area's polygon."""
        return geometry_mask([aoi.projected(self.crs)], out_shape=self.shape, transform=self.transform,
                             invert=True, all_touched=False)
