"""The "Did the model get it right?" section of a task page: reference and agreement layers on a map, the
numbers, the confusion matrix chart, out-of-depth notes and a download with provenance.

Called from the task page with one hook (``show_evaluation``); map layers come from ``evaluation_layers``."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import TYPE_CHECKING

import streamlit as st

from geofm.config import TaskSpec, get_task
from geofm.data import AOI
from geofm.errors import GeofmError, InputError
from geofm.evaluate import Evaluation, before_after, evaluate
from geofm.evaluate.change import dry_window
from geofm.evaluate.provenance import make_provenance
from geofm.render.evaluation import (band_table, class_table, confusion_cells, evaluation_zip, layer_overlays,
                                    short_names)
from geofm.render.products import ClassMapProducts, ReconstructionProducts
from geofm.render.stats import hex_color
from geofm.serve import ui, views
from geofm.serve.runs import RunOutcome, RunRequest, run_area
from geofm.stack import ReconstructionResult

if TYPE_CHECKING:
    import altair as alt

HEADING = "Did the model get it right?"


#: Where an outcome keeps its evaluation and download: its shared ``rendered`` slot (cached copies share it).
_SLOT = "geofm_evaluation"


def _cached(outcome: RunOutcome) -> Evaluation | None:
    kept = vars(outcome.rendered).get(_SLOT)
    return kept[0] if kept else None


def _download(outcome: RunOutcome) -> bytes:
    return vars(outcome.rendered)[_SLOT][1]


def run_evaluation(outcome: RunOutcome) -> Evaluation:
    """Compare the outcome with its reference once (kept with the outcome's rendered products)."""
    ev = _cached(outcome)
    if ev is None:
        req = outcome.request
        aoi = AOI.from_geojson(req.geometry) if req.geometry else None
        ev = evaluate(req.task, outcome.result, reference="auto", stack=outcome.stack, aoi=aoi,
                      stac_url=req.stac_url or None)
        prov = make_provenance(req.task, outcome.result.model, weights_dir=req.weights_dir or None,
                               scene_ids=outcome.stack.scene_ids, times=outcome.stack.times,
                               parameters=dataclasses.asdict(req), reference=ev.reference)
        vars(outcome.rendered)[_SLOT] = (ev, evaluation_zip(ev, prov, f"geofm-{req.task}"))
    return ev


def evaluation_layers(outcome: RunOutcome, ev: Evaluation) -> list[views.MapLayer]:
    """Layers for the map: true colour, the model's result, then the evaluation's layers (the first shown, the
    others in the layer control)."""
    products = views.render_views(outcome)
    task = get_task(outcome.request.task)
    if isinstance(products, ClassMapProducts):
        base = [(products.rgb_overlay, f"True colour {products.labels[-1]}", 1.0, True),
                (products.class_overlay, f"Model: {task.layer}", 0.8, False)]
    else:
        assert isinstance(products, ReconstructionProducts)
        base = [(products.orig_overlays[0], f"Original {products.labels[0]}", 1.0, True),
                (products.recon_overlays[0], f"Reconstruction {products.labels[0]}", 1.0, False)]
    extra = [(overlay, layer.title, 0.8, i == 0) for i, (layer, overlay) in enumerate(layer_overlays(ev))]
    return [views.MapLayer(o, name, opacity, shown, result=i >= len(base))
            for i, (o, name, opacity, shown) in enumerate(base + extra)]


def _legend_items(ev: Evaluation) -> list[tuple[str, str]]:
    """The evaluation layers' classes (or their colour ramp's ends) for the map's legend."""
    items: list[tuple[str, str]] = []
    for layer in ev.layers:
        if layer.classes:
            items += [(c.name, hex_color(c.color)) for k, c in enumerate(layer.classes) if k not in layer.see_through]
        else:
            items += [(f"{layer.title}: small ({layer.unit})", "#fff0a0"),
                      (f"{layer.title}: large ({layer.unit})", "#a0001e")]
    return items


#: The per-class table's class column: wide enough for the longest crop class name ("Fallow/Idle Cropland").
CLASS_COLUMN_PX = 150
#: The compact matrix (a phone's width): at most this wide with all 13 crop classes, its cells this big at most.
COMPACT_WIDTH, COMPACT_CELL = 340, 30


def confusion_chart(ev: Evaluation, *, compact: bool = False) -> alt.Chart:
    """Reference class (rows) by model class (columns): the classes found here only, each cell's share of its
    reference class as a whole percent in cells big enough to read, the pixel counts on hover.

    ``compact``: for a phone's width: the classes' short codes on the axes (``short_names``; the page prints
    their key) and cells sized so that the whole chart fits ``COMPACT_WIDTH``."""
    import altair as alt  # lazy: altair (imported when a chart is drawn: 0.3 s off the app's cold start)

    table = confusion_cells(ev)
    order = [name for name in ev.class_names if name in set(table["reference"])]
    if compact:
        codes = short_names(ev.class_names)
        table = table.assign(reference=table["reference"].map(codes), model=table["model"].map(codes),
                             reference_name=table["reference"], model_name=table["model"])
        order = [codes[name] for name in order]
        gutter = 48  # the codes beside the rows, the axis title and the padding
        cell = max(20, min(COMPACT_CELL, (COMPACT_WIDTH - gutter) // max(len(order), 1)))
        x_axis = alt.Axis(labelOverlap=False, labelAngle=0, orient="top", titlePadding=6)
        y_axis = alt.Axis(labelOverlap=False)
        names = ("reference_name", "model_name")
        legend = alt.Legend(orient="bottom", gradientLength=min(200, COMPACT_WIDTH - 60))
    else:
        cell = 38
        x_axis = alt.Axis(labelOverlap=False, labelAngle=-40, labelLimit=140, orient="top")
        y_axis = alt.Axis(labelOverlap=False, labelLimit=160)
        names = ("reference", "model")
        legend = alt.Legend(orient="bottom")
    base = alt.Chart(table).encode(
        x=alt.X("model:N", sort=order, title="Model says", axis=x_axis),
        y=alt.Y("reference:N", sort=order, title="Reference says", axis=y_axis))
    cells = base.mark_rect(stroke="#fff", strokeWidth=1).encode(
        color=alt.Color("percent:Q", scale=alt.Scale(scheme="blues", domain=[0, 100]),
                        title="% of the reference class", legend=legend),
        tooltip=[alt.Tooltip(names[0], title="Reference"), alt.Tooltip(names[1], title="Model"),
                 alt.Tooltip("pixels:Q", title="Pixels", format=","),
                 alt.Tooltip("percent:Q", title="% of the reference class", format=".1f")])
    text = base.mark_text(fontSize=12 if cell >= 30 else 11 if cell >= 24 else 10).encode(
        text=alt.Text("label:N"),
        color=alt.condition(alt.datum.percent > 55, alt.value("white"), alt.value("#222")))
    # step sizing: each cell ``cell`` px square whatever the page's width (a fitted width squeezed them)
    return (cells + text).properties(width=alt.Step(cell), height=alt.Step(cell))


def matrix_key(ev: Evaluation) -> str:
    """The compact matrix's key: each short code with its class name, for the classes it shows."""
    codes = short_names(ev.class_names)
    shown = set(confusion_cells(ev)["reference"])
    return " · ".join(f"**{codes[name]}** {name}" for name in ev.class_names if name in shown)


_UNDEFINED = "Not defined here: the reference has none of it in this area (a score of 0 out of 0)."


def _undefined(value: float | None) -> bool:
    return value is None or value != value  # None or NaN


def _score(value: float | None) -> str:
    """A score for a metric tile: two decimals, or a dash when it is not defined (0 out of 0)."""
    return "—" if _undefined(value) else f"{value:.2f}"


def _numbers(task: TaskSpec, ev: Evaluation, *, key: str) -> None:
    m = ev.metrics
    if task.result == "reconstruction":
        c1, c2, c3 = st.columns(3)
        c1.metric("PSNR, model", f"{m['psnr_db']:.1f} dB")
        c2.metric("PSNR, neighbour fill", f"{m['baseline_psnr_db']:.1f} dB")
        c3.metric("Model's gain over the naive guess", f"{m['psnr_gain_db']:+.1f} dB")
        st.markdown("**Error per band** over the hidden pixels (DN)")
        st.dataframe(band_table(ev), hide_index=True, width="stretch")
    elif ev.confusion is not None:
        c1, c2 = st.columns(2)
        c1.metric("Overall accuracy", f"{100 * m['overall_accuracy']:.1f} %")
        c2.metric("Mean F1 over classes", _score(m['mean_f1']))
        st.markdown("**Per class: scores and area, model vs reference** (— : the class is in neither map here, "
                    "so there is nothing to score)")
        table = class_table(ev)
        # the class names stay put while the scores scroll sideways inside the table on a narrow screen
        st.dataframe(table, hide_index=True, width="stretch", height=35 * (len(table) + 1) + 3,
                     column_config={"Class": st.column_config.TextColumn(width=CLASS_COLUMN_PX, pinned=True)})
        st.markdown("**Confusion matrix:** each row is what the reference says, each column what the model says; "
                    "a cell is the % of that reference class's pixels (a row adds up to 100). The diagonal is "
                    "where they agree. Hover over (or tap) a cell for its pixel count.")
        with ui.wide_only(f"{key}-matrix"):  # full class names on the axes, where there is room for them
            st.altair_chart(confusion_chart(ev), width="content")
        with ui.narrow_only(f"{key}-matrix"):  # a phone: short codes on the axes, and their key
            st.altair_chart(confusion_chart(ev, compact=True), width="content")
            st.caption(f"Key: {matrix_key(ev)}")
    else:
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("IoU", _score(m['iou']), help=_UNDEFINED if _undefined(m['iou']) else None)
        c2.metric("Precision", _score(m['precision']), help=_UNDEFINED if _undefined(m['precision']) else None)
        c3.metric("Recall", _score(m['recall']), help=_UNDEFINED if _undefined(m['recall']) else None)
        c4.metric("F1", _score(m['f1']), help=_UNDEFINED if _undefined(m['f1']) else None)
        c1, c2, c3 = st.columns(3)
        c1.metric("Model water", f"{m['model_km2']:.2f} km²")
        c2.metric("Reference water", f"{m['reference_km2']:.2f} km²")
        if "new_water_km2" in m:
            c3.metric("Newly flooded water", f"{m['new_water_km2']:.2f} km²")


def show_evaluation(outcome: RunOutcome, *, key: str) -> None:
    """The section: a button the first time, then the comparison (kept with the result)."""
    task = get_task(outcome.request.task)
    st.subheader(HEADING)
    if task.result == "classes" and not task.reference_layers:
        st.markdown(f"No public reference layer is wired in for {task.title.lower()}; compare with "
                    f"{task.reference} using the downloads.")
        return
    st.markdown(f"Compared with: {task.reference}." if task.result == "reconstruction" else
                "Compare the result with public reference data read for the same area and grid.")
    ev = _cached(outcome)
    if ev is None:
        slot = st.empty()  # the button goes once the comparison shows (it has nothing more to do)
        if not ui.pressed(slot.button, "Compare with reference data", key=f"{key}-evaluate",
                          icon=":material/fact_check:"):
            return
        try:
            with st.spinner("Reading the reference layer for this area…"):
                ev = run_evaluation(outcome)
        except GeofmError as err:
            st.warning(ui.user_message(err), icon=":material/warning:")
            return
        slot.empty()
    st.markdown(f"**Reference:** {ev.reference} — {ev.meaning}.")
    for note in ev.notes:
        st.warning(note, icon=":material/info:")
    _numbers(task, ev, key=key)
    views.result_map(outcome, evaluation_layers(outcome, ev), key=f"{key}-evaluation-map",
                     legend_title="Comparison", legend_items=_legend_items(ev))
    st.download_button("Agreement layers (GeoTIFF + STAC items, zip)", _download(outcome),
                       file_name=f"geofm-{task.name}-evaluation.zip", mime="application/zip",
                       key=f"{key}-evaluation-zip", icon=":material/download:")
    show_dry_date(outcome, task, key=key)


#: Where an outcome keeps its before / after comparison (the dry date's outcome and the change).
_DRY_SLOT = "geofm_dry_date"


def dry_date_change(outcome: RunOutcome, window: tuple[date, date] | None = None) -> tuple[Evaluation, RunOutcome]:
    """Run the same task over the same area on the clearest scene in ``window`` (first, last day; by default
    the window before the event) through the app's queue and result cache, and compare: water gained and lost.
    Each window's comparison is kept with the outcome."""

    req = outcome.request
    event = outcome.stack.times[-1] if outcome.stack.times else None
    if event is None or req.geometry is None:
        raise InputError("The event's date or area is unknown, so no dry date before it can be chosen.")
    start, end = window or dry_window(event.date())
    if start > end:
        start, end = end, start
    if end >= event.date():
        raise InputError(f"The dry dates must end before the event ({event.date()}).")
    kept: dict = vars(outcome.rendered).setdefault(_DRY_SLOT, {})
    if (start, end) not in kept:
        dry = run_area(RunRequest.for_area(req.task, req.geometry, start.isoformat(), end.isoformat(),
                                           max_cloud=req.max_cloud))
        assert not isinstance(dry.result, ReconstructionResult)
        assert not isinstance(outcome.result, ReconstructionResult)
        ev = before_after(dry.result, outcome.result)
        when = dry.stack.times[-1]
        ev.reference = f"dry date {when.date() if when else start} (the clearest scene from {start} to {end})"
        kept[(start, end)] = (ev, dry)
    return kept[(start, end)]


def dry_window_input(outcome: RunOutcome, *, key: str) -> tuple[date, date] | None:
    """The user's dry window: two dates before the event (by default the usual window), or None while only
    one end is picked."""

    event = outcome.stack.times[-1].date()  # type: ignore[union-attr]
    default = dry_window(event)
    picked = st.date_input("Dry dates to search (the clearest scene in them is used)", value=default,
                           max_value=event - timedelta(days=1), key=f"{key}-dry-window", format="YYYY-MM-DD",
                           help=f"A time before the event ({event}) when the area had its usual water, e.g. "
                                "the dry season. Widen it if no clear scene is found.")
    if not isinstance(picked, tuple) or len(picked) != 2:
        st.caption("Pick the last day of the dry window too.")
        return None
    return picked[0], picked[1]


def show_dry_date(outcome: RunOutcome, task: TaskSpec, *, key: str) -> None:
    """Before / after for water tasks over a drawn area: water gained and lost since a dry date the user
    chooses (the clearest scene in a window of dates before the event)."""
    if task.reference_kind != "water" or outcome.request.geometry is None or not outcome.stack.times \
            or outcome.stack.times[-1] is None:
        return
    st.markdown("**Before / after:** the same area on a dry date before the event.")
    window = dry_window_input(outcome, key=key)
    if window is None:
        return
    kept = vars(outcome.rendered).get(_DRY_SLOT) or {}
    if window not in kept and not ui.pressed(st.button, "Compare with a dry date in these dates", key=f"{key}-dry",
                                             icon=":material/compare:"):
        return
    try:
        with st.spinner("Running the model on the dry date…"):
            ev, dry = dry_date_change(outcome, window)
    except GeofmError as err:
        st.warning(ui.user_message(err), icon=":material/warning:")
        return
    st.markdown(f"Compared with the {ev.reference}.")
    c1, c2 = st.columns(2)
    c1.metric("Water gained since the dry date", f"{ev.metrics['water_gained_km2']:.2f} km²")
    c2.metric("Water lost since the dry date", f"{ev.metrics['water_lost_km2']:.2f} km²")
    dry_views = views.render_views(dry)
    assert isinstance(dry_views, ClassMapProducts)
    layers = [(dry_views.rgb_overlay, f"True colour {dry_views.labels[-1]} (dry date)", 1.0, False)]
    layers += [(overlay, layer.title, 0.8, True) for layer, overlay in layer_overlays(ev)]
    products = views.render_views(outcome)
    assert isinstance(products, ClassMapProducts)
    map_layers = [views.MapLayer(products.rgb_overlay, f"True colour {products.labels[-1]}", 1.0, True)]
    map_layers += [views.MapLayer(o, name, opacity, shown, result=shown)
                   for o, name, opacity, shown in layers]
    views.result_map(outcome, map_layers, key=f"{key}-dry-map", legend_title="Change since the dry date",
                     legend_items=_legend_items(ev))
