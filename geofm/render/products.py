"""Everything a result view shows, rendered once per run: overlays, tables, numbers and download files.

No Streamlit here: the app's pages only arrange these products in widgets, and any other front end (or a
test) can build them from a model result and the stack it saw.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geofm.config import CLASS_NODATA, HLS_NODATA, TaskSpec
from geofm.io.geotiff import write_class_map_cog, write_reconstruction_cog
from geofm.progress import Progress, null_progress
from geofm.render.preview import colorize_classes, stretch_rgb
from geofm.render.stats import (WaterSummary, class_area_table, reconstruction_error_table, unclear_percent,
                                water_summary)
from geofm.render.vector import class_polygons_geojson
from geofm.render.webmerc import OverlayImage, png_bytes, reproject_rgba_to_mercator, rgb_to_rgba
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

SENSOR_NAMES = {"L30": "Landsat", "S30": "Sentinel-2"}


@dataclass(frozen=True)
class ClassMapProducts:
    """The rendered products of a class map."""

    labels: tuple[str, ...]  #: one label per date: "2019-03-22 (Sentinel-2)"
    cog: bytes  #: the class map as a cloud-optimised GeoTIFF
    png: bytes  #: the class map in its colours
    geojson: bytes  #: polygons per class (see-through classes left out), GeoJSON
    rgb: tuple[np.ndarray, ...]  #: true colour of each date, (H, W, 3) uint8
    rgb_overlay: OverlayImage  #: true colour of the last date, in web mercator
    class_overlay: OverlayImage  #: the class map in web mercator (see-through classes transparent)
    table: pd.DataFrame  #: area per class
    cloud_overlay: OverlayImage  #: cloud, shadow and missing data, hatched grey (the rest transparent)
    cloud_percent: float  #: share of the drawn area that is cloud or without data (no class there)
    target: WaterSummary | None = None  #: the target class's area ("target" view tasks)
    confidence_overlay: OverlayImage | None = None  #: the model's probability of the class it chose
    confidence_label: str = ""  #: what the confidence layer shows ("Probability of water")


@dataclass(frozen=True)
class ReconstructionProducts:
    """The rendered products of an MAE reconstruction."""

    labels: tuple[str, ...]
    cog: bytes  #: the reconstruction as a cloud-optimised GeoTIFF
    png: bytes  #: original | masked | reconstructed of the first date
    orig_overlays: tuple[OverlayImage, ...]  #: the input of each date, in web mercator
    recon_overlays: tuple[OverlayImage, ...]  #: the reconstruction of each date, in web mercator
    errors: pd.DataFrame  #: error per band over the hidden pixels
    cloud_overlays: tuple[OverlayImage, ...]  #: cloud, shadow and missing data of each date, hatched grey
    cloud_percents: tuple[float, ...]  #: share of the area that is cloud or without data, per date


Products = ClassMapProducts | ReconstructionProducts


def frame_label(times: Sequence[datetime | None], sensors: Sequence[str], t: int) -> str:
    """"2019-03-22 (Sentinel-2)" for date t (the date alone without a sensor, "date 2" without a time)."""
    moment = times[t] if t < len(times) else None
    when = moment.date().isoformat() if moment is not None else f"date {t + 1}"
    if t < len(sensors) and sensors[t]:
        return f"{when} ({SENSOR_NAMES.get(sensors[t], sensors[t])})"
    return when


def true_colour(stack: HLSStack, t: int) -> np.ndarray:
    """(H, W, 3) uint8 true colour of frame t; clouds are shown, only missing data is black."""
    data = stack.data[t]
    return stretch_rgb(data, (data != HLS_NODATA).all(axis=0))


#: Colours of the confidence colour bar, from probability 0 to 1 (light yellow to dark blue).
CONFIDENCE_COLORS: tuple[str, ...] = ("#ffffd9", "#c7e9b4", "#41b6c4", "#225ea8", "#081d58")
#: Grey hatching of cloud, cloud shadow and missing data (dark and light stripes, RGBA).
CLOUD_HATCH: tuple[tuple[int, int, int, int], tuple[int, int, int, int]] = ((90, 90, 90, 215), (200, 200, 200, 170))
CLOUD_LEGEND = "Cloud, shadow or no data"
CLOUD_SWATCH = "repeating-linear-gradient(45deg, #5a5a5a 0 3px, #c8c8c8 3px 6px)"


def cloud_rgba(unclear: np.ndarray) -> np.ndarray:
    """(H, W, 4) grey diagonal hatching where ``unclear`` is True, transparent elsewhere."""
    h, w = unclear.shape
    rows, cols = np.indices((h, w))
    stripe = ((rows + cols) // 2) % 2 == 0
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[unclear & stripe] = CLOUD_HATCH[0]
    rgba[unclear & ~stripe] = CLOUD_HATCH[1]
    return rgba


def confidence_rgba(probability: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W, 4) colours of a probability map (0..1) on :data:`CONFIDENCE_COLORS`; invalid pixels transparent."""
    stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in CONFIDENCE_COLORS], np.float64)
    x = np.clip(np.nan_to_num(probability.astype(np.float64)), 0.0, 1.0)
    at = np.linspace(0.0, 1.0, len(stops))
    rgba = np.zeros((*x.shape, 4), np.uint8)
    for c in range(3):
        rgba[..., c] = np.round(np.interp(x, at, stops[:, c])).astype(np.uint8)
    rgba[..., 3] = np.where(valid, 255, 0)
    return rgba


def confidence_map(task: TaskSpec, result: SegmentationResult) -> np.ndarray | None:
    """(H, W) float32: the probability of the target class ("target" tasks) or of the class chosen (others)."""
    probs = result.probabilities
    if probs is None:
        return None
    if task.view == "target":
        return probs[task.target_class].astype(np.float32)
    return probs.max(axis=0).astype(np.float32)


def confidence_label(task: TaskSpec, result: SegmentationResult) -> str:
    if task.view == "target":
        return f"Probability of {result.class_names[task.target_class].lower()}"
    return "Probability of the class shown"


def _overlay(rgba: np.ndarray, stack: HLSStack) -> OverlayImage:
    return reproject_rgba_to_mercator(rgba, stack.crs, stack.transform)


def _write_bytes(writer: Callable[[Any, Path], Any], result: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.tif"
        writer(result, path)
        return path.read_bytes()


def _with_provenance(writer: Callable[..., Any], task: TaskSpec,
                     stack: HLSStack) -> Callable[[Any, Path], Any]:
    """``writer`` with the provenance tags (scenes, dates, model, checkpoint SHA-256, version, parameters) in the
    same write."""
    def write(result: Any, path: Path) -> None:
        from geofm.evaluate.provenance import make_provenance  # lazy: pystac_client

        params = {k: getattr(result, k) for k in ("mask_ratio", "seed", "device") if hasattr(result, k)}
        prov = make_provenance(task.name, result.model, scene_ids=stack.scene_ids, times=stack.times,
                               parameters=params)
        writer(result, path, tags=prov.tags())
    return write


def _class_products(task: TaskSpec, result: SegmentationResult, stack: HLSStack, labels: tuple[str, ...],
                    progress: Progress, confidence: np.ndarray | None, area: np.ndarray) -> ClassMapProducts:
    rgb = tuple(true_colour(stack, t) for t in range(stack.num_frames))
    rgba = colorize_classes(result.classes, result.class_colors)
    if task.see_through:
        rgba = rgba.copy()
        rgba[np.isin(result.classes, task.see_through), 3] = 0  # the true colour shows through
    unclear = (result.classes == CLASS_NODATA) & area
    if confidence is None:
        confidence = confidence_map(task, result)
    progress("render", "Preparing downloads (GeoTIFF, PNG, GeoJSON)", None)
    return ClassMapProducts(
        labels=labels, rgb=rgb,
        rgb_overlay=_overlay(rgb_to_rgba(rgb[-1], (stack.data[-1] != HLS_NODATA).all(0)), stack),
        class_overlay=_overlay(rgba, stack), table=class_area_table(result),
        cloud_overlay=_overlay(cloud_rgba(unclear), stack),
        cloud_percent=unclear_percent(unclear, result.crs, result.transform, area),
        confidence_overlay=None if confidence is None else _overlay(
            confidence_rgba(confidence, result.classes != CLASS_NODATA), stack),
        confidence_label=confidence_label(task, result),
        target=water_summary(result, task.target_class) if task.view == "target" else None,
        cog=_write_bytes(_with_provenance(write_class_map_cog, task, stack), result),
        png=png_bytes(colorize_classes(result.classes, result.class_colors)),
        geojson=class_polygons_geojson(result, skip_classes=task.see_through))


def _reconstruction_products(task: TaskSpec, result: ReconstructionResult, stack: HLSStack,
                             labels: tuple[str, ...], sensors: Sequence[str],
                             area: np.ndarray) -> ReconstructionProducts:
    frames = range(stack.num_frames)
    has_data = [(stack.data[t] != HLS_NODATA).all(axis=0) for t in frames]
    return ReconstructionProducts(
        labels=labels,
        orig_overlays=tuple(_overlay(rgb_to_rgba(result.original_rgb[t], has_data[t]), stack) for t in frames),
        recon_overlays=tuple(_overlay(rgb_to_rgba(result.reconstructed_rgb[t], has_data[t]), stack) for t in frames),
        errors=reconstruction_error_table(stack, result, sensors=list(sensors)[:stack.num_frames]),
        cloud_overlays=tuple(_overlay(cloud_rgba(~stack.valid[t] & area), stack) for t in frames),
        cloud_percents=tuple(unclear_percent(~stack.valid[t] & area, stack.crs, stack.transform, area)
                             for t in frames),
        cog=_write_bytes(_with_provenance(write_reconstruction_cog, task, stack), result),
        png=png_bytes(np.concatenate([result.original_rgb[0], result.masked_rgb[0], result.reconstructed_rgb[0]],
                                     axis=1)))


def render_products(task: TaskSpec, result: SegmentationResult | ReconstructionResult, stack: HLSStack, *,
                    sensors: Sequence[str] = (), progress: Progress = null_progress,
                    confidence: np.ndarray | None = None, area: np.ndarray | None = None) -> Products:
    """The products of ``result`` (made by ``task`` from ``stack``; ``sensors``: one "L30"/"S30" per date).

    ``area`` ((H, W) bool) marks the pixels inside the drawn area (the grid is the area's bounding box): cloud
    and missing data are shown and counted there only, so "cloud or no data" and "clear area" add up to the
    area. Without it the whole grid is the area (an uploaded file).

    ``confidence`` ((H, W), 0..1) is the model's probability map when the result no longer holds its
    probabilities; without either there is no confidence layer.
    """
    progress("render", "Placing the result on the map", None)
    labels = tuple(frame_label(stack.times or [], sensors, t) for t in range(stack.num_frames))
    inside = np.ones(stack.shape, bool) if area is None else np.asarray(area, bool)
    if isinstance(result, SegmentationResult):
        return _class_products(task, result, stack, labels, progress, confidence, inside)
    return _reconstruction_products(task, result, stack, labels, sensors, inside)
