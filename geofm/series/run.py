"""Run a series: find the dates, run the model on the clear ones (windows of several dates share forward
passes, one model load), write a COG per date and the series' products."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geofm import pipeline
from geofm.config import HLS_RESOLUTION_M, SERIES, TaskSpec, check_task_model, get_model_spec
from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.data.reader import read_aoi
from geofm.errors import InputError, OutputError
from geofm.evaluate.provenance import item_path, make_provenance, stac_item
from geofm.inference.device import resolve_device
from geofm.inference.precision import resolve_precision
from geofm.inference.sliding import grid_count
from geofm.io.geotiff import write_class_map_cog
from geofm.io.safewrite import check_writable_folder
from geofm.progress import Progress, null_progress
from geofm.render.series_chart import write_series_chart
from geofm.render.timelapse import UNCLEAR_GREY, compose_frame, frame_shape, map_image, resize, true_colour, write_gif
from geofm.series.dates import (SeriesDate, check_kept, check_series_area, check_series_range, check_series_task,
                                find_dates)
from geofm.series.manifest import SeriesManifest, open_series_manifest, write_json
from geofm.series.products import SeriesRow, series_rows, task_target_name, write_change, write_collection, write_csv
from geofm.series.products import read_classes
from geofm.stack import HLSStack


@dataclass
class SeriesResult:
    """What a series wrote and did."""

    folder: Path
    task: str
    dates: list[SeriesDate]  # every date found, in time order; ``reason`` set on the left-out ones
    rows: list[SeriesRow]
    files: dict[str, Path] = field(default_factory=dict)  # product -> path (csv, chart, gif, change, item)
    run_dates: list[str] = field(default_factory=list)  # dates the model ran on in this call
    resumed_dates: list[str] = field(default_factory=list)  # dates whose complete COG was kept
    model_seconds: float = 0.0
    seconds: float = 0.0
    device: str = ""

    @property
    def kept(self) -> list[SeriesDate]:
        return [d for d in self.dates if d.kept]


def series_params(task: str, aoi: AOI, start: date, end: date, *, max_cloud: float, min_clear: float,
                  model: str) -> dict[str, Any]:
    """What defines a series (``--resume`` continues only a series with the same ones)."""

    params = {"task": task, "geometry": aoi.to_geojson(), "start": start.isoformat(), "end": end.isoformat(),
              "max_cloud": float(max_cloud), "min_clear": float(min_clear), "model": model}
    return dict(json.loads(json.dumps(params)))  # as it reads back from series.json (lists, not tuples)


def series_windows(aoi: AOI, dates: int, task: str) -> int:
    """Model windows a series of ``dates`` dates over ``aoi`` runs (for the estimate before a run)."""

    spec = get_model_spec(task)
    h, w = Grid.for_aoi(aoi, HLS_RESOLUTION_M).shape
    return dates * grid_count(h, spec.window, spec.stride) * grid_count(w, spec.window, spec.stride)


def check_series_model(spec: TaskSpec, model: str | None) -> str:
    """The registry model: the task's own unless another model of the task is named (``task_models``)."""

    return spec.model if model is None else check_task_model(spec.name, model)


def _check_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file; a series writes a folder.")
    check_writable_folder(out / SERIES.manifest_name, "--out")


def _date_progress(progress: Progress, day: str) -> Progress:
    def note(stage: str, message: str, fraction: float | None = None) -> None:
        progress(stage, f"{day}: {message}", fraction)

    return note


def run_series(task: str, aoi: AOI, start: date | str, end: date | str, out: str | Path, *,
               max_cloud: float = SERIES.max_cloud, min_clear: float = SERIES.min_clear, model: str | None = None,
               device: str | torch.device = "auto", precision: str | None = None, batch_size: int | None = None,
               stac_url: str | None = None, weights_dir: str | Path | None = None, resume: bool = False,
               progress: Progress = null_progress) -> SeriesResult:
    """Run ``task`` on every date over ``aoi`` from ``start`` to ``end`` at least ``min_clear`` clear; write
    ``out/YYYY-MM-DD.tif`` per date, series.csv, series.png, timelapse.gif, change.tif and item.json.

    Every check (task, range, area, folder) runs before any search; the dates' count is checked before
    any pixel is read. ``resume`` keeps the dates whose COG is complete (sha256 in series.json).
    """

    t0 = time.perf_counter()
    spec = check_series_task(task)
    model_name = check_series_model(spec, model)
    d0, d1 = check_series_range(start, end)
    check_series_area(aoi)
    if not 0.0 <= min_clear <= 1.0:
        raise InputError(f"The least clear share must be between 0 and 100%; got {100 * min_clear:g}%.")
    dev = resolve_device(device)
    resolve_precision(precision, dev)  # a precision the device lacks fails before any search
    out = Path(out)
    _check_folder(out)
    params = series_params(spec.name, aoi, d0, d1, max_cloud=max_cloud, min_clear=min_clear, model=model_name)
    manifest = open_series_manifest(out, params, resume=resume)
    dates = find_dates(aoi, d0, d1, max_cloud=max_cloud, min_clear=min_clear, stac_url=stac_url, progress=progress)
    kept = check_kept(dates, d0, d1, min_clear)
    result = SeriesResult(out, spec.name, dates, [], device=str(dev))
    done = {d.day.isoformat() for d in kept if manifest.is_complete(d.day.isoformat())}
    todo = [d for d in kept if d.day.isoformat() not in done]
    result.resumed_dates = sorted(done)
    if done:
        progress("infer", f"{len(done)} of {len(kept)} dates already complete; running {len(todo)}", None)
    frames: dict[str, np.ndarray] = {}
    labels = {d.day.isoformat(): f"date {k + 1} of {len(todo)} ({d.day})" for k, d in enumerate(todo)}
    for start_at in range(0, len(todo), SERIES.group_dates):
        group = todo[start_at:start_at + SERIES.group_dates]
        result.model_seconds += _run_group(spec, group, aoi, out, manifest, params, frames, labels, device=dev,
                                           precision=precision, batch_size=batch_size, weights_dir=weights_dir,
                                           progress=progress)
        result.run_dates += [d.day.isoformat() for d in group]
    for d in kept:
        if d.day.isoformat() not in frames:
            stack = _read(d, aoi, _date_progress(progress, f"{d.day} (for the timelapse)"))
            frames[d.day.isoformat()] = _frame_rgb(stack)
    progress("render", "writing the table, chart, timelapse, recurrence map and collection", None)
    result.rows = series_rows(spec, dates, out)
    result.files = write_products(spec, out, result.rows, kept, frames, params)
    result.seconds = time.perf_counter() - t0
    return result


def _read(d: SeriesDate, aoi: AOI, progress: Progress) -> HLSStack:
    return read_aoi([d.scenes], aoi, progress=progress)


def _frame_rgb(stack: HLSStack) -> np.ndarray:
    """The date's true colour at timelapse size (kept instead of the stack, so memory stays small)."""

    rgb = true_colour(stack.data[0])
    return resize(rgb, frame_shape(*stack.shape), nearest=False)


def _run_group(spec: TaskSpec, group: list[SeriesDate], aoi: AOI, out: Path, manifest: SeriesManifest,
               params: dict[str, Any], frames: dict[str, np.ndarray], labels: dict[str, str], *,
               device: torch.device,
               precision: str | None, batch_size: int | None, weights_dir: str | Path | None,
               progress: Progress) -> float:
    """Read a group of dates, run them through the model together, write each COG (+ Item), record it."""

    stacks = [_read(d, aoi, _date_progress(progress, labels[d.day.isoformat()])) for d in group]
    for d, stack in zip(group, stacks):
        frames[d.day.isoformat()] = _frame_rgb(stack)
    notes = [_date_progress(progress, labels[d.day.isoformat()]) for d in group]
    results = pipeline.run_segmentations(spec.name, stacks, weights_dir=weights_dir, device=device, progress=notes,
                                         batch_size=batch_size, precision=precision, model=params["model"])
    for d, stack, seg in zip(group, stacks, results):
        prov = make_provenance(spec.name, seg.model, weights_dir=weights_dir, scene_ids=stack.scene_ids,
                               times=stack.times, parameters={**_prov_params(params), "device": seg.device,
                                                              "precision": seg.precision, "batch_size": batch_size,
                                                              "clear_fraction": round(d.clear, 4)})
        cog = out / d.name
        write_class_map_cog(seg, cog, tags=prov.tags())
        item = stac_item(cog, prov, crs=seg.crs, transform=seg.transform, shape=seg.classes.shape)
        write_json(item_path(cog), item)
        manifest.record(d.day.isoformat(), d.name, sensor=d.sensor, scene_ids=d.scene_ids, clear=round(d.clear, 4))
        manifest.save()
    return results[0].seconds if results else 0.0


def _prov_params(params: dict[str, Any]) -> dict[str, Any]:
    w, s, e, n = AOI.from_geojson(params["geometry"], max_km=float("inf")).bounds
    return {"series": True, "bbox": [w, s, e, n], "start": params["start"], "end": params["end"],
            "max_cloud": params["max_cloud"], "min_clear": params["min_clear"]}


def write_products(spec: TaskSpec, out: Path, rows: list[SeriesRow], kept: list[SeriesDate],
                   frames: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, Path]:
    """series.csv, series.png, timelapse.gif, change.tif and item.json from the COGs on disk."""

    color = get_model_spec(spec.model).classes[spec.target_class].color
    target = task_target_name(spec)
    files: dict[str, Path] = {}
    files["csv"] = write_csv(rows, out / SERIES.csv_name)
    first, last = rows[0].date, rows[-1].date
    files["chart"] = write_series_chart(rows, out / SERIES.chart_name, target=target, color=color,
                                        title=f"{spec.title}: {target.lower()} from {first} to {last}")
    files["gif"] = write_timelapse(spec, out, rows, frames)
    cogs = [out / d.name for d in kept]
    files["change"] = write_change(cogs, spec, out / SERIES.change_name)
    files["item"] = write_collection(spec, out, [item_path(c) for c in cogs], params,
                                     assets={k: files[k] for k in ("csv", "chart", "gif", "change")})
    return files


def timelapse_frames(spec: TaskSpec, out: Path, rows: list[SeriesRow], frames: dict[str, np.ndarray]) -> list:
    """One PIL image per kept date: true colour + layer, date and area figure, legend."""

    model = get_model_spec(spec.model)
    color = model.classes[spec.target_class].color
    target = model.classes[spec.target_class].name
    legend = [(target, color), ("cloud / no data", (UNCLEAR_GREY,) * 3)]
    kept = [r for r in rows if r.status == "kept"]
    images = []
    for k, row in enumerate(kept):
        rgb = frames[row.date]
        classes = read_classes(out / row.file)[0]
        image = map_image(rgb, classes, spec.target_class, color, rgb.shape[:2])
        figure = (f"{target}: {row.area_km2:.2f} km² ({row.percent_of_clear:.0f}% of the clear area) · "
                  f"{row.clear_percent:.0f}% clear · {row.sensor}")
        images.append(compose_frame(image, title=row.date, figure=figure, legend=legend, index=k, count=len(kept)))
    return images


def write_timelapse(spec: TaskSpec, out: Path, rows: list[SeriesRow], frames: dict[str, np.ndarray]) -> Path:
    return write_gif(timelapse_frames(spec, out, rows, frames), out / SERIES.gif_name)
