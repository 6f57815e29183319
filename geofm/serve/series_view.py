"""The "Through time" section of the flood and burn-scar pages: the task on every clear date of a range.

Find the dates (with the estimate), run them (one queue slot, one model load, dates' windows batched together),
then a chart (click a date), a date slider that steps the map through the dates from the results on disk (no
model run), the recurrence layer, the timelapse and the table. A series' files live in the server's cache
folder, one folder per (task, area, dates, cloud, clear share): a second run of the same series is a resume that
runs nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import rasterio
import streamlit as st

from geofm.config import CLASS_NODATA, HLS_RESOLUTION_M, SERIES, TaskSpec, get_model_spec
from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.data.reader import read_aoi
from geofm.errors import GeofmError
from geofm.examples import EXAMPLES
from geofm.render import maps
from geofm.render.preview import colorize_classes
from geofm.render.products import CLOUD_LEGEND, CLOUD_SWATCH, cloud_rgba
from geofm.render.stats import hex_color
from geofm.render.timelapse import true_colour
from geofm.render.webmerc import reproject_rgba_to_mercator
from geofm.serve import ui
from geofm.serve.queue import RunAbandoned, gpu_queue
from geofm.settings import settings

if TYPE_CHECKING:
    import altair as alt

    from geofm.data.aoi import AOI
    from geofm.render.webmerc import OverlayImage
    from geofm.series import SeriesDate, SeriesResult

PLANS = "geofm_series_plans"  # session: task -> SeriesPlan
RESULTS = "geofm_series_results"  # session: task -> SeriesResult
MESSAGES = "geofm_series_messages"  # session: task -> error text
#: Seconds per window the last series on this server measured (the estimate's second guess), per device type.
_MEASURED: dict[str, float] = {}


@dataclass
class SeriesPlan:
    """The dates found for a series, before it runs, and what running them costs."""

    key: str  # the folder name: a digest of what defines the series
    dates: list[SeriesDate]
    windows: int
    seconds: float
    device: str

    @property
    def kept(self) -> list[SeriesDate]:
        return [d for d in self.dates if d.kept]


def series_key(task: str, geometry: dict, start: date, end: date, max_cloud: float, min_clear: float) -> str:
    raw = json.dumps([task, geometry, str(start), str(end), float(max_cloud), float(min_clear), settings().stac_url,
                      str(settings().weights_dir or "")], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def series_folder(key: str) -> Path:
    return Path(settings().cache_dir) / "series" / key


def window_seconds(device: str) -> float:
    kind = "cuda" if device.startswith("cuda") else "cpu"
    return _MEASURED.get(kind, SERIES.window_seconds_gpu if kind == "cuda" else SERIES.window_seconds_cpu)


def default_dates(task: TaskSpec) -> tuple[date, date]:
    """The range to start from: the example's series dates when an example of this task is chosen, else
    Explore's dates."""
    q = ui.query()
    example = next((e for e in EXAMPLES if e.key == q.get("example") and e.task == task.name), None)
    if example is not None and example.series_start and example.series_end:
        return date.fromisoformat(example.series_start), date.fromisoformat(example.series_end)
    return q["start"], q["end"]


def plan_series(task: TaskSpec, aoi: AOI, start: date, end: date, max_cloud: float, min_clear: float,
                progress: Any) -> SeriesPlan:
    from geofm.inference.device import resolve_device  # lazy: torch
    from geofm.series import find_dates  # lazy: torch
    from geofm.series.dates import check_kept, check_series_area, check_series_task  # lazy: torch
    from geofm.series.run import series_windows  # lazy: torch

    check_series_task(task.name)
    check_series_area(aoi)
    dates = find_dates(aoi, start, end, max_cloud=max_cloud, min_clear=min_clear,
                       stac_url=settings().stac_url, progress=progress)
    kept = check_kept(dates, start, end, min_clear)
    device = str(resolve_device("auto"))
    key = series_key(task.name, ui.query()["geometry"], start, end, max_cloud, min_clear)
    folder = series_folder(key)
    done = sum((folder / d.name).is_file() for d in kept)
    windows = series_windows(aoi, len(kept) - done, task.name)
    return SeriesPlan(key, dates, windows, windows * window_seconds(device), device)


def _fmt_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    return f"about {round(seconds / 60)} min"


def through_time(task: TaskSpec, aoi: AOI | None) -> None:
    """The section: range and clear share, Find dates (with the estimate), Run, and the results."""
    if aoi is None:  # the page above already says how to choose one
        return
    st.divider()
    st.subheader("Through time", anchor="through-time")
    st.markdown(f"{task.title} on every date the area was clear enough — as a chart, a map you step through, a "
               "timelapse and a table. Every scene counts, however cloudy its whole tile: a date is judged by how "
               "clear your area is.")
    name = task.name
    plans: dict[str, SeriesPlan] = st.session_state.setdefault(PLANS, {})
    results: dict[str, SeriesResult] = st.session_state.setdefault(RESULTS, {})
    messages: dict[str, str] = st.session_state.setdefault(MESSAGES, {})
    d0, d1 = default_dates(task)
    st.session_state.setdefault(f"{name}-series-dates", (d0, d1))
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    picked = c1.date_input("Dates of the series", key=f"{name}-series-dates", min_value=date(2013, 4, 1),
                           max_value=date.today(), help=f"Up to {SERIES.max_days} days.")
    min_clear = c2.slider("Least clear share of the area (%)", 0, 100, int(100 * SERIES.min_clear), step=5,
                          key=f"{name}-series-clear", help="Dates less clear than this over the area are left out "
                          "(and listed in the table with the reason).")
    if not (isinstance(picked, (tuple, list)) and len(picked) == 2):
        st.info("Pick the first and the last date.", icon=":material/date_range:")
        return
    start, end = picked
    max_cloud = SERIES.max_cloud  # every scene: the clear share over the area decides (Explore's slider is per run)
    if ui.pressed(c3.button, "Find dates", key=f"{name}-series-find", icon=":material/event_available:",
                  width="stretch"):
        panel = ui.ProgressPanel("Finding the dates…")
        try:
            plans[name] = plan_series(task, aoi, start, end, max_cloud, min_clear / 100.0, panel)
            messages.pop(name, None)
            panel.status.update(label=f"{len(plans[name].kept)} clear dates", state="complete", expanded=False)
        except GeofmError as err:
            panel.failed()
            plans.pop(name, None)
            messages[name] = ui.user_message(err)
    plan = plans.get(name)
    wanted = series_key(name, ui.query()["geometry"], start, end, max_cloud, min_clear / 100.0)
    if name in messages:
        st.error(messages[name], icon=":material/error:")
    elif plan is not None and plan.key == wanted:
        left = len(plan.dates) - len(plan.kept)
        where = "GPU" if plan.device.startswith("cuda") else "CPU"
        cost = (f"{plan.windows} model windows, {_fmt_seconds(plan.seconds)} on the {where}" if plan.windows
                else "all dates already done: nothing to run")
        st.markdown(f"**{len(plan.kept)} clear dates** ({left} left out) · {cost}")
        if ui.pressed(st.button, f"Run on {len(plan.kept)} dates", type="primary", key=f"{name}-series-run",
                      icon=":material/play_arrow:", disabled=bool(ui.weights_blocking(name))):
            run_plan(task, aoi, plan, start, end, max_cloud, min_clear / 100.0, results, messages)
            if name in messages:
                st.error(messages[name], icon=":material/error:")
    elif plan is not None:
        st.info("The dates or the clear share changed: press Find dates again.", icon=":material/history:")
    result = results.get(name)
    if result is not None:
        show_series(task, result, key=f"{name}-series")


def run_plan(task: TaskSpec, aoi: AOI, plan: SeriesPlan, start: date, end: date, max_cloud: float,
             min_clear: float, results: dict, messages: dict) -> None:
    """Run the series in the model's queue (one slot), the dates' windows together; results stay on disk."""
    from geofm.series import run_series  # lazy: torch

    panel = ui.ProgressPanel(f"Running {task.title.lower()} on {len(plan.kept)} dates…")
    visitor = ui.visitor()
    started = time.perf_counter()
    try:
        result = gpu_queue().run(run_series, task.name, aoi, start, end, series_folder(plan.key),
                                 max_cloud=max_cloud, min_clear=min_clear, stac_url=settings().stac_url,
                                 weights_dir=settings().weights_dir, resume=True, progress=panel,
                                 label=f"{task.name} series", owner=visitor.id, alive=visitor.alive)
    except RunAbandoned:
        panel.failed()
        return
    except GeofmError as err:
        panel.failed()
        messages[task.name] = ui.user_message(err)
        return
    if result.run_dates and plan.windows:
        kind = "cuda" if plan.device.startswith("cuda") else "cpu"
        _MEASURED[kind] = result.model_seconds / max(1, plan.windows)
    panel.status.update(label=f"{len(result.kept)} dates in {time.perf_counter() - started:.0f} s "
                              f"({len(result.run_dates)} run, {len(result.resumed_dates)} already done)",
                        state="complete", expanded=False)
    messages.pop(task.name, None)
    results[task.name] = result


# ------------------------------------------------------------------------------------- the results

_LAYERS: OrderedDict[tuple[str, str, str], tuple[OverlayImage, OverlayImage, OverlayImage]] = OrderedDict()
_LAYERS_LOCK = threading.Lock()
_LAYERS_KEPT = 64


def date_layers(result: SeriesResult, day: str, task: TaskSpec) -> tuple[OverlayImage, OverlayImage, OverlayImage]:
    """(true colour, target layer, cloud layer) of one date on web mercator; cached per COG checksum, so the
    slider steps through dates without reading or running anything twice."""
    from geofm.region.job import sha256_of  # lazy: torch

    cog = result.folder / f"{day}.tif"
    key = (str(result.folder), day, sha256_of(cog))
    with _LAYERS_LOCK:
        hit = _LAYERS.get(key)
        if hit is not None:
            _LAYERS.move_to_end(key)
            return hit
    layers = _make_layers(result, day, task, cog)
    with _LAYERS_LOCK:
        _LAYERS[key] = layers
        while len(_LAYERS) > _LAYERS_KEPT:
            _LAYERS.popitem(last=False)
    return layers


def _make_layers(result: SeriesResult, day: str, task: TaskSpec,
                 cog: Path) -> tuple[OverlayImage, OverlayImage, OverlayImage]:
    from geofm.series.products import read_classes  # lazy: torch

    classes, crs, transform = read_classes(cog)
    sdate = next(d for d in result.dates if d.day.isoformat() == day and d.kept)
    aoi = AOI.from_geojson(json.loads(json.dumps(_geometry(result))), max_km=float("inf"))
    stack = read_aoi([sdate.scenes], aoi)  # the stack cache has it from the run
    rgb = true_colour(stack.data[0])
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    colors = get_model_spec(task.model).classes
    layer = colorize_classes(classes, tuple(c.color for c in colors))
    for k in task.see_through:
        layer[classes == k, 3] = 0
    unclear = (classes == CLASS_NODATA) & _area_mask(aoi, classes.shape)
    return (reproject_rgba_to_mercator(rgba, crs, transform), reproject_rgba_to_mercator(layer, crs, transform),
            reproject_rgba_to_mercator(cloud_rgba(unclear), crs, transform))


def _area_mask(aoi: AOI, shape: tuple[int, int]) -> np.ndarray:
    mask = Grid.for_aoi(aoi, HLS_RESOLUTION_M).area_mask(aoi)
    return mask if mask.shape == shape else np.ones(shape, bool)


def _geometry(result: SeriesResult) -> dict:
    manifest = json.loads((result.folder / SERIES.manifest_name).read_text())
    return dict(manifest["params"]["geometry"])


def recurrence_layer(result: SeriesResult, task: TaskSpec) -> OverlayImage:
    """change.tif as a layer: the share of clear dates each pixel was the target class (transparent at 0)."""

    with rasterio.open(result.files["change"]) as src:
        target, clear = src.read(1).astype(np.float32), src.read(2).astype(np.float32)
        crs, transform = src.crs, src.transform
    share = np.divide(target, clear, out=np.zeros_like(target), where=clear > 0)
    color = np.asarray(get_model_spec(task.model).classes[task.target_class].color, np.float32)
    rgba = np.zeros(share.shape + (4,), np.uint8)
    rgba[..., :3] = (255 - share[..., None] * (255 - color)).astype(np.uint8)
    rgba[..., 3] = np.where(target > 0, 90 + 165 * share, 0).astype(np.uint8)
    return reproject_rgba_to_mercator(rgba, crs, transform)


def series_chart(rows: list, target: str, color: str) -> alt.LayerChart:
    """Target area per date (line and points, click a point to show that date); left-out dates as grey x."""
    import altair as alt  # lazy: altair

    table = pd.DataFrame([{"date": r.date, "area_km2": r.area_km2, "clear_percent": r.clear_percent,
                           "status": r.status, "reason": r.reason or "run"} for r in rows])
    table["segment"] = (table["status"] != "kept").cumsum()  # a left-out date ends a stretch of the line
    kept = table[table["status"] == "kept"]
    left = table[table["status"] != "kept"].assign(area_km2=0.0)
    pick = alt.selection_point(name="pick", fields=["date"], on="click")
    x = alt.X("date:T", title=None)
    top = float(kept["area_km2"].max()) * 1.15 if len(kept) and kept["area_km2"].max() > 0 else 1.0
    y = alt.Y("area_km2:Q", title=f"{target} (km²)", scale=alt.Scale(domain=[0, top]))
    line = alt.Chart(kept).mark_line(color=color).encode(x=x, y=y, detail="segment:N")  # gaps at left-out dates
    points = alt.Chart(kept).mark_circle(size=110, color=color).encode(
        x=x, y=y, opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
        tooltip=["date", alt.Tooltip("area_km2:Q", format=".2f"), alt.Tooltip("clear_percent:Q", format=".0f")],
    ).add_params(pick)
    gaps = alt.Chart(left).mark_point(shape="cross", size=90, color="#999999").encode(
        x=x, y=y, tooltip=["date", "reason", alt.Tooltip("clear_percent:Q", format=".0f")])
    return alt.LayerChart(layer=[line, points, gaps], height=220)


def show_series(task: TaskSpec, result: SeriesResult, *, key: str) -> None:
    """Chart, date slider + map, recurrence layer, timelapse, downloads and the table."""
    from geofm.series.products import rows_frame, task_target_name  # lazy: torch
    from geofm.serve.views import show_map  # lazy: streamlit_folium

    rows = result.rows
    kept = [r for r in rows if r.status == "kept"]
    if not kept:
        return
    target = task_target_name(task)
    color = hex_color(get_model_spec(task.model).classes[task.target_class].color)
    slider_key = f"{key}-date"
    days = [r.date for r in kept]
    if st.session_state.get(slider_key) not in days:
        st.session_state[slider_key] = days[0]

    def on_pick() -> None:  # a click on a point of the chart: that date on the map
        picked = st.session_state[f"{key}-chart"].selection.get("pick") or []
        for p in picked:
            value = p.get("date")
            day = (date.fromtimestamp(value / 1000).isoformat() if isinstance(value, (int, float))
                   else str(value)[:10])
            if day in days:
                st.session_state[slider_key] = day

    st.markdown(f"**{target} through time** — {len(kept)} dates, {len(rows) - len(kept)} left out. "
                "Click a date to show it on the map.")
    st.altair_chart(series_chart(rows, target, color), width="stretch", on_select=on_pick, key=f"{key}-chart")
    day = st.select_slider("Date on the map", options=days, key=slider_key)
    row = next(r for r in kept if r.date == day)
    c1, c2, c3 = st.columns(3)
    c1.metric(target, f"{row.area_km2:.2f} km²")
    c2.metric("Share of the clear area", f"{row.percent_of_clear:.1f} %")
    c3.metric("Clear over the area", f"{row.clear_percent:.0f} %")
    true_colour, layer, clouds = date_layers(result, day, task)
    fmap = maps.new_map(bounds=true_colour.latlon_bounds)
    maps.add_overlay(fmap, true_colour, name=f"True colour {day}")
    maps.add_overlay(fmap, clouds, name=CLOUD_LEGEND, opacity=0.8)
    placed = maps.add_overlay(fmap, layer, name=f"{task.layer} {day}", opacity=0.75)
    recurrence = maps.add_overlay(fmap, recurrence_layer(result, task),
                                  name=f"Recurrence ({target.lower()}, % of clear dates)", opacity=0.85, show=False)
    maps.add_area_outline(fmap, _geometry(result))
    maps.OpacitySlider([placed], label="Opacity", value=0.75).add_to(fmap)
    maps.add_legend(fmap, [(target, color), (CLOUD_LEGEND, CLOUD_SWATCH), ("Area outline", maps.OUTLINE_COLOR)],
                    title=f"{day}", colorbars=[maps.ColorBar(("#ffffff", color), 0, 100,
                                                             "Recurrence: % of clear dates", layer=recurrence)])
    maps.add_layer_control(fmap)
    maps.add_offline_notice(fmap)
    st.markdown(":material/layers: The recurrence layer (in the layer switcher, top right) shows how often each "
               f"pixel was {target.lower()} out of the dates it was clear.")
    show_map(fmap, key=f"{key}-map")
    st.markdown("**Timelapse**")
    gif = result.files["gif"].read_bytes()
    st.image(gif, caption=f"{len(kept)} frames: true colour with {target.lower()}, the date and the area on each")
    cols = st.columns(4)
    downloads = [("Timelapse (GIF)", "gif", "image/gif"), ("Table (CSV)", "csv", "text/csv"),
                 ("Chart (PNG)", "chart", "image/png"), ("Recurrence (GeoTIFF)", "change", "image/tiff")]
    for col, (label, product, mime) in zip(cols, downloads):
        path = result.files[product]
        col.download_button(label, path.read_bytes(), file_name=f"geofm-{task.name}-series-{path.name}", mime=mime,
                            key=f"{key}-dl-{product}", icon=":material/download:", width="stretch")
    st.dataframe(rows_frame(rows), hide_index=True, width="stretch", key=f"{key}-table")
