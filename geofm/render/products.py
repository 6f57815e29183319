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

from geofm.config import HLS_NODATA, TaskSpec
from geofm.progress import Progress, null_progress
from geofm.render.preview import colorize_classes, stretch_rgb
from geofm.render.stats import WaterSummary, class_area_table, reconstruction_error_table, water_summary
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
    target: WaterSummary | None = None  #: the target class's area ("target" view tasks)


@dataclass(frozen=True)
class ReconstructionProducts:
    """The rendered products of an MAE reconstruction."""

    labels: tuple[str, ...]
    cog: bytes  #: the reconstruction as a cloud-optimised GeoTIFF
    png: bytes  #: original | masked | reconstructed of the first date
    geojson: bytes  #: polygons of the hidden patches, GeoJSON
    orig_overlays: tuple[OverlayImage, ...]  #: the input of each date, in web mercator
    recon_overlays: tuple[OverlayImage, ...]  #: the reconstruction of each date, in web mercator
    errors: pd.DataFrame  #: error per band over the hidden pixels


Products = ClassMapProducts | ReconstructionProducts


def frame_label(times: Sequence[datetime | None], sensors: Sequence[str], t: int) -> str:
    """"2019-03-22 (Sentinel-2)" for date t (the date alone without a sensor, "date 2" without a time)."""
    moment = times[t] if t < len(times) else None
    when = moment.date().isoformat() if moment is not None else f"date {t + 1}"
    if t < len(sensors):
        return f"{when} ({SENSOR_NAMES.get(sensors[t], sensors[t])})"
    return when


def true_colour(stack: HLSStack, t: int) -> np.ndarray:
    """(H, W, 3) uint8 true colour of frame t; clouds are shown, only missing data is black."""
    data = stack.data[t]
    return stretch_rgb(data, (data != HLS_NODATA).all(axis=0))


def _overlay(rgba: np.ndarray, stack: HLSStack) -> OverlayImage:
    return reproject_rgba_to_mercator(rgba, stack.crs, stack.transform)


def _write_bytes(writer: Callable[[Any, Path], Any], result: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.tif"
        writer(result, path)
        return path.read_bytes()


def _with_provenance(writer: Callable[[Any, Path], Any], task: TaskSpec,
                     stack: HLSStack) -> Callable[[Any, Path], Any]:
    """``writer``, then the provenance tags (scenes, dates, model, checkpoint SHA-256, version, parameters)."""
    def write(result: Any, path: Path) -> None:
        from geofm.evaluate.provenance import make_provenance, write_tags

        writer(result, path)
        params = {k: getattr(result, k) for k in ("mask_ratio", "seed", "device") if hasattr(result, k)}
        write_tags(path, make_provenance(task.name, result.model, scene_ids=stack.scene_ids, times=stack.times,
                                         parameters=params))
    return write


def _class_products(task: TaskSpec, result: SegmentationResult, stack: HLSStack, labels: tuple[str, ...],
                    progress: Progress) -> ClassMapProducts:
    from geofm.io.geotiff import write_class_map_cog

    rgb = tuple(true_colour(stack, t) for t in range(stack.num_frames))
    rgba = colorize_classes(result.classes, result.class_colors)
    if task.see_through:
        rgba = rgba.copy()
        rgba[np.isin(result.classes, task.see_through), 3] = 0  # the true colour shows through
    progress("render", "Preparing downloads (GeoTIFF, PNG, GeoJSON)", None)
    return ClassMapProducts(
        labels=labels, rgb=rgb,
        rgb_overlay=_overlay(rgb_to_rgba(rgb[-1], (stack.data[-1] != HLS_NODATA).all(0)), stack),
        class_overlay=_overlay(rgba, stack), table=class_area_table(result),
        target=water_summary(result, task.target_class) if task.view == "target" else None,
        cog=_write_bytes(_with_provenance(write_class_map_cog, task, stack), result),
        png=png_bytes(colorize_classes(result.classes, result.class_colors)),
        geojson=class_polygons_geojson(result, skip_classes=task.see_through))


def _reconstruction_products(task: TaskSpec, result: ReconstructionResult, stack: HLSStack,
                             labels: tuple[str, ...]) -> ReconstructionProducts:
    from geofm.io.geotiff import write_reconstruction_cog

    frames = range(stack.num_frames)
    has_data = [(stack.data[t] != HLS_NODATA).all(axis=0) for t in frames]
    hidden = SegmentationResult(
        classes=np.where(stack.valid[0], result.mask[0].astype(np.uint8), 255).astype(np.uint8),
        crs=result.crs, transform=result.transform, model=result.model,
        class_names=("Visible to the model", "Hidden and reconstructed"),
        class_colors=((200, 200, 200), (30, 30, 30)))
    return ReconstructionProducts(
        labels=labels,
        orig_overlays=tuple(_overlay(rgb_to_rgba(result.original_rgb[t], has_data[t]), stack) for t in frames),
        recon_overlays=tuple(_overlay(rgb_to_rgba(result.reconstructed_rgb[t], has_data[t]), stack) for t in frames),
        errors=reconstruction_error_table(stack, result),
        cog=_write_bytes(_with_provenance(write_reconstruction_cog, task, stack), result),
        png=png_bytes(np.concatenate([result.original_rgb[0], result.masked_rgb[0], result.reconstructed_rgb[0]],
                                     axis=1)),
        geojson=class_polygons_geojson(hidden, skip_classes=(0,)))


def render_products(task: TaskSpec, result: SegmentationResult | ReconstructionResult, stack: HLSStack, *,
                    sensors: Sequence[str] = (), progress: Progress = null_progress) -> Products:
    """The products of ``result`` (made by ``task`` from ``stack``; ``sensors``: one "L30"/"S30" per date)."""
    progress("render", "Placing the result on the map", None)
    labels = tuple(frame_label(stack.times or [], sensors, t) for t in range(stack.num_frames))
    if isinstance(result, SegmentationResult):
        return _class_products(task, result, stack, labels, progress)
    return _reconstruction_products(task, result, stack, labels)
