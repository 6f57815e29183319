"""Place rasters exactly on a web map: reproject to EPSG:3857 and give the overlay's lat/lon bounds."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from affine import Affine
from PIL import Image
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.transform import array_bounds
from rasterio.warp import Resampling, calculate_default_transform, reproject

WEB_MERCATOR = CRS.from_epsg(3857)
_TO_LONLAT = Transformer.from_crs(3857, 4326, always_xy=True)


@dataclass(frozen=True)
class OverlayImage:
    """An RGBA image on the web-mercator grid plus the lat/lon corners Leaflet needs."""

    rgba: np.ndarray  # (H, W, 4) uint8 on an EPSG:3857 grid
    bounds_3857: tuple[float, float, float, float]  # minx, miny, maxx, maxy

    @property
    def latlon_bounds(self) -> list[list[float]]:
        """[[south, west], [north, east]] as folium's ImageOverlay takes them."""
        return mercator_to_latlon_bounds(self.bounds_3857)

    def png(self) -> bytes:
        """The image as PNG bytes."""
        return png_bytes(self.rgba)


def mercator_to_latlon_bounds(bounds: tuple[float, float, float, float]) -> list[list[float]]:
    """EPSG:3857 (minx, miny, maxx, maxy) -> [[south, west], [north, east]] in degrees."""
    west, south = _TO_LONLAT.transform(bounds[0], bounds[1])
    east, north = _TO_LONLAT.transform(bounds[2], bounds[3])
    return [[float(south), float(west)], [float(north), float(east)]]


def reproject_rgba_to_mercator(rgba: np.ndarray, crs: CRS, transform: Affine,
                               *, resampling: Resampling = Resampling.nearest) -> OverlayImage:
    """Warp an (H, W, 4) RGBA image on (crs, transform) to web mercator; outside pixels become transparent."""
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) RGBA array, got {rgba.shape}")
    height, width = rgba.shape[:2]
    left, bottom, right, top = array_bounds(height, width, transform)
    dst_transform, dst_width, dst_height = calculate_default_transform(
        crs, WEB_MERCATOR, width, height, left=left, bottom=bottom, right=right, top=top)
    src = np.ascontiguousarray(np.moveaxis(rgba, -1, 0))
    dst = np.zeros((4, dst_height, dst_width), dtype=np.uint8)
    reproject(src, dst, src_transform=transform, src_crs=crs, dst_transform=dst_transform,
              dst_crs=WEB_MERCATOR, resampling=resampling, src_nodata=None, dst_nodata=0)
    # Alpha decides visibility: never let interpolation invent half-covered edge pixels.
    alpha = np.zeros((1, dst_height, dst_width), dtype=np.uint8)
    reproject(src[3:4], alpha, src_transform=transform, src_crs=crs, dst_transform=dst_transform,
              dst_crs=WEB_MERCATOR, resampling=Resampling.nearest, src_nodata=None, dst_nodata=0)
    dst[3] = alpha[0]
    minx, miny, maxx, maxy = array_bounds(dst_height, dst_width, dst_transform)
    return OverlayImage(np.moveaxis(dst, 0, -1).copy(), (minx, miny, maxx, maxy))


def rgb_to_rgba(rgb: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Add an alpha channel: opaque where ``valid`` (everywhere when None), transparent elsewhere."""
    alpha = np.full(rgb.shape[:2], 255, dtype=np.uint8) if valid is None else np.where(valid, 255, 0).astype(np.uint8)
    return np.dstack([rgb.astype(np.uint8), alpha])


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an (H, W), (H, W, 3) or (H, W, 4) uint8 array as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
