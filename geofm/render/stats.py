"""Numbers shown next to results: areas per class, water extent, reconstruction error per band."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from affine import Affine
from pyproj import Geod
from rasterio.crs import CRS

from geofm.config import BAND_LABELS, CLASS_NODATA, HLS_BAND_ASSETS, HLS_SCALE, MODEL_BANDS
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

_GEOD = Geod(ellps="WGS84")


def pixel_area_m2(crs: CRS, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    """Area of each pixel in m², shaped (H, 1) so it broadcasts over columns."""
    height = shape[0]
    if not crs.is_geographic:
        factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
        area = abs(transform.a * transform.e - transform.b * transform.d) * factor ** 2
        return np.full((height, 1), area, dtype=np.float64)
    rows = np.arange(height)
    west = transform.c
    east = transform.c + transform.a
    top = transform.f + transform.e * rows
    bottom = top + transform.e
    areas = np.empty(height)
    for i in range(height):
        lons = [west, east, east, west]
        lats = [bottom[i], bottom[i], top[i], top[i]]
        areas[i] = abs(_GEOD.polygon_area_perimeter(lons, lats)[0])
    return areas[:, None]


def hex_color(rgb: tuple[int, int, int]) -> str:
    """(r, g, b) -> '#rrggbb'."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def class_area_table(result: SegmentationResult) -> pd.DataFrame:
    """One row per class: name, colour, pixels, hectares and percent of the classified area."""
    areas = np.broadcast_to(pixel_area_m2(result.crs, result.transform, result.classes.shape), result.classes.shape)
    classified = result.classes != CLASS_NODATA
    total = float(areas[classified].sum())
    rows = []
    for k, name in enumerate(result.class_names):
        hit = result.classes == k
        area_m2 = float(areas[hit].sum())
        rows.append({"class": name, "colour": hex_color(result.class_colors[k]), "pixels": int(hit.sum()),
                     "area_ha": round(area_m2 / 1e4, 2),
                     "percent": round(100.0 * area_m2 / total, 2) if total else 0.0})
    return pd.DataFrame(rows, columns=["class", "colour", "pixels", "area_ha", "percent"])


@dataclass(frozen=True)
class WaterSummary:
    """Water extent of a flood map: km² and share of the clear (classified) area."""

    water_km2: float
    clear_km2: float
    total_km2: float

    @property
    def water_percent(self) -> float:
        return 100.0 * self.water_km2 / self.clear_km2 if self.clear_km2 else 0.0


def water_summary(result: SegmentationResult, water_class: int = 1) -> WaterSummary:
    """Water area and clear area of a flood map (clear = not nodata/cloud)."""
    areas = np.broadcast_to(pixel_area_m2(result.crs, result.transform, result.classes.shape), result.classes.shape)
    water = float(areas[result.classes == water_class].sum()) / 1e6
    clear = float(areas[result.classes != CLASS_NODATA].sum()) / 1e6
    return WaterSummary(water_km2=water, clear_km2=clear, total_km2=float(areas.sum()) / 1e6)


def band_names(sensors: Sequence[str]) -> tuple[str, ...]:
    """Band names of the model's six bands for the dates' sensors: "B8A NIR narrow" (Sentinel-2),
    "B05 NIR narrow" (Landsat), "B05 / B8A NIR narrow" when the dates mix both."""
    names = []
    for b, label in enumerate(BAND_LABELS):
        ids = list(dict.fromkeys(HLS_BAND_ASSETS[s][b] for s in sensors if s in HLS_BAND_ASSETS))
        names.append(f"{' / '.join(ids or [MODEL_BANDS[b]])} {label}")
    return tuple(names)


def reconstruction_error_table(stack: HLSStack, result: ReconstructionResult,
                               sensors: Sequence[str] = ()) -> pd.DataFrame:
    """Mean absolute and RMS error per band over the hidden, valid pixels, in surface reflectance.

    ``sensors`` ("L30"/"S30" per date) names the bands as the sensors do; without them the band is named by
    what it measures only.
    """
    original = stack.data.astype(np.float64)
    recon = result.reconstructed.astype(np.float64)
    hidden = result.mask & stack.valid  # (T, H, W)
    names = band_names(sensors) if sensors else BAND_LABELS
    rows = []
    for b, name in enumerate(names):
        diff = (recon[:, b] - original[:, b])[hidden] * HLS_SCALE
        mae = float(np.abs(diff).mean()) if diff.size else float("nan")
        rmse = float(np.sqrt((diff ** 2).mean())) if diff.size else float("nan")
        rows.append({"band": name, "mean_abs_error": round(mae, 4), "rmse": round(rmse, 4),
                     "pixels": int(diff.size)})
    return pd.DataFrame(rows, columns=["band", "mean_abs_error", "rmse", "pixels"])


def unclear_percent(unclear: np.ndarray, crs: CRS, transform: Affine, area: np.ndarray | None = None) -> float:
    """Share (%) of the area (``area`` True; the whole grid without it) that is cloud, cloud shadow or without
    data (``unclear`` True)."""
    areas = np.broadcast_to(pixel_area_m2(crs, transform, unclear.shape), unclear.shape)
    inside = np.ones(unclear.shape, bool) if area is None else np.asarray(area, bool)
    total = float(areas[inside].sum())
    return 100.0 * float(areas[unclear & inside].sum()) / total if total else 0.0
