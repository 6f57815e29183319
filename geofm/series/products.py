"""What a series leaves beside its COGs, all computed from the COGs on disk (so a resumed series and a fresh
one give the same files): the per-date table (series.csv), the recurrence map (change.tif) and the STAC
Collection (item.json)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio

from geofm.config import CLASS_NODATA, SERIES, TaskSpec, get_model_spec
from geofm.errors import OutputError
from geofm.io.geotiff import write_cog
from geofm.io.safewrite import atomic_output
from geofm.render.stats import pixel_area_m2
from geofm.series.dates import SENSOR_NAMES, SeriesDate
from geofm.series.manifest import write_json

CSV_COLUMNS = ["date", "status", "sensor", "clear_percent", "target", "area_km2", "clear_km2", "percent_of_clear",
               "scene_ids", "file", "reason"]


@dataclass
class SeriesRow:
    """One line of series.csv: a date run (``status`` kept) or left out (with ``reason``)."""

    date: str
    status: str  # "kept" | "left out"
    sensor: str
    clear_percent: float  # of the area, from the mosaic's Fmask
    target: str  # the measured class ("Water / flood", "Burn scar")
    area_km2: float | None  # the target class's area on that date (None: left out)
    clear_km2: float | None  # area the model classified (clear, inside the area)
    percent_of_clear: float | None
    scene_ids: str
    file: str
    reason: str


def read_classes(path: Path) -> tuple[np.ndarray, Any, Any]:
    with rasterio.open(path) as src:
        return src.read(1), src.crs, src.transform


def cog_areas(path: Path, target_class: int) -> tuple[float, float]:
    """(target km², classified km²) of a class-map COG."""
    classes, crs, transform = read_classes(path)
    areas = np.broadcast_to(pixel_area_m2(crs, transform, classes.shape), classes.shape)
    return (float(areas[classes == target_class].sum()) / 1e6, float(areas[classes != CLASS_NODATA].sum()) / 1e6)


def series_rows(task: TaskSpec, dates: list[SeriesDate], folder: Path) -> list[SeriesRow]:
    """A row per date, in time order: kept dates with their areas measured on their COG, the others with why."""
    target = task_target_name(task)
    rows = []
    for d in dates:
        base: dict[str, Any] = dict(date=d.day.isoformat(), sensor=SENSOR_NAMES.get(d.sensor, d.sensor),
                    clear_percent=round(100 * d.clear, 2), target=target, scene_ids=" ".join(d.scene_ids))
        if d.kept:
            water, clear = cog_areas(folder / d.name, task.target_class)
            rows.append(SeriesRow(status="kept", area_km2=round(water, 4), clear_km2=round(clear, 4),
                                  percent_of_clear=round(100 * water / clear, 2) if clear else 0.0, file=d.name,
                                  reason="", **base))
        else:
            rows.append(SeriesRow(status="left out", area_km2=None, clear_km2=None, percent_of_clear=None, file="",
                                  reason=d.reason, **base))
    return rows


def task_target_name(task: TaskSpec) -> str:
    return get_model_spec(task.model).classes[task.target_class].name


def rows_frame(rows: list[SeriesRow]) -> pd.DataFrame:
    return pd.DataFrame([asdict(r) for r in rows], columns=CSV_COLUMNS)


def write_csv(rows: list[SeriesRow], path: Path) -> Path:
    with atomic_output(path) as tmp:
        rows_frame(rows).to_csv(tmp, index=False)
    return path


def recurrence(paths: list[Path], target_class: int) -> tuple[np.ndarray, np.ndarray, Any, Any]:
    """Per pixel: dates it was the target class, dates it was clear (classified); uint16 (H, W) each."""
    target = clear = None
    crs = transform = None
    for path in paths:
        classes, c, t = read_classes(path)
        if target is None or clear is None:
            target = np.zeros(classes.shape, np.uint16)
            clear = np.zeros(classes.shape, np.uint16)
            crs, transform = c, t
        elif classes.shape != target.shape or c != crs or not t.almost_equals(transform):
            raise OutputError(f"{path.name} is on another grid than the series' other dates; start the series again "
                              "in an empty folder.")
        target += classes == target_class
        clear += classes != CLASS_NODATA
    if target is None or clear is None:
        raise ValueError("recurrence needs at least one COG")
    return target, clear, crs, transform


def write_change(paths: list[Path], task: TaskSpec, path: Path) -> Path:
    """change.tif: band 1 the dates each pixel was the target class, band 2 the dates it was clear (uint16)."""

    target, clear, crs, transform = recurrence(paths, task.target_class)
    name = task_target_name(task)
    return write_cog(np.stack([target, clear]), path, crs=crs, transform=transform, nodata=None,
                      descriptions=[f"dates {name.lower()}", "dates clear"],
                      tags={"GEOFM_TASK": task.name, "GEOFM_PRODUCT": "recurrence",
                            "GEOFM_DATES": ",".join(p.stem for p in paths)})


def write_collection(task: TaskSpec, folder: Path, items: list[Path], params: dict[str, Any], *,
                     assets: dict[str, Path]) -> Path:
    """item.json: a STAC Collection over the series; a link to each date's Item (``YYYY-MM-DD.item.json``)."""

    bboxes, days = [], []
    for item in items:
        raw = json.loads(item.read_text())
        bboxes.append(raw["bbox"])
        days.append(raw["properties"]["datetime"])
    b = np.array(bboxes, dtype=float)
    media = {".csv": "text/csv", ".png": "image/png", ".gif": "image/gif", ".mp4": "video/mp4",
             ".tif": "image/tiff; application=geotiff; profile=cloud-optimized"}
    collection = {
        "type": "Collection", "stac_version": "1.0.0",
        "id": f"geofm-series-{task.name}-{params.get('start')}-{params.get('end')}",
        "title": f"{task.title} through time", "license": "other",
        "description": f"{task.title} on every date at least {100 * float(params.get('min_clear', 0)):.0f}% clear over "
                       f"the area from {params.get('start')} to {params.get('end')}, by geofm.",
        "extent": {"spatial": {"bbox": [[float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
                                         float(b[:, 3].max())]]},
                   "temporal": {"interval": [[min(days), max(days)]]}},
        "summaries": {"geofm:task": [task.name], "geofm:dates": [Path(i).name.split(".")[0] for i in items]},
        "geofm:parameters": params,
        "links": [{"rel": "item", "href": f"./{i.name}", "type": "application/geo+json"} for i in items],
        "assets": {key: {"href": f"./{p.name}", "type": media.get(p.suffix, "application/octet-stream"),
                         "roles": ["data" if key in ("change", "csv") else "overview"]}
                   for key, p in assets.items()},
    }
    out = folder / SERIES.item_name
    write_json(out, collection)
    return out
