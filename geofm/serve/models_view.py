"""The "Which model got it right?" section of a task page with a choice of models: the other model on the same
area and scenes, the model-agreement layer (both / only one / only the other), IoU between the two maps, areas,
and each model's agreement with the public reference where the task has one."""

from __future__ import annotations

import streamlit as st

from geofm.config import MODELS, get_task, task_models
from geofm.errors import GeofmError, InputError
from geofm.evaluate import Evaluation
from geofm.evaluate.models_compare import compare_models, short_name
from geofm.render.evaluation import layer_overlays
from geofm.render.products import ClassMapProducts
from geofm.render.stats import hex_color
from geofm.serve import ui, views
from geofm.serve.evaluate_view import run_evaluation
from geofm.serve.runs import RunOutcome, RunRequest, run_area
from geofm.stack import SegmentationResult

HEADING = "Which model got it right?"
#: Where an outcome keeps the other model's outcome and the comparison.
_SLOT = "geofm_other_model"


def other_model(outcome: RunOutcome) -> str:
    """The task's other model than the one that made ``outcome``."""
    names = task_models(outcome.request.task)
    return next(n for n in names if n != outcome.result.model)


def compare_with_other(outcome: RunOutcome) -> tuple[Evaluation, RunOutcome]:
    """Run the other model on the same area and the same scenes (through the queue and result cache) and compare;
    kept with the outcome. The task's default model is always A (EO-1.0), the other B."""
    kept = vars(outcome.rendered).get(_SLOT)
    if kept is None:
        req = outcome.request
        if not req.geometry:
            raise InputError("The other model runs over a drawn area; run it on your file with the model choice.")
        scenes = tuple(i for sid in outcome.stack.scene_ids for i in sid.split("+"))
        other = run_area(RunRequest.for_area(req.task, req.geometry, req.start, req.end, max_cloud=req.max_cloud,
                                             scene_ids=scenes, model=other_model(outcome)),
                         visitor=ui.visitor())
        assert isinstance(other.result, SegmentationResult) and isinstance(outcome.result, SegmentationResult)
        first = get_task(req.task).model
        a, b = (outcome, other) if outcome.result.model == first else (other, outcome)
        assert isinstance(a.result, SegmentationResult) and isinstance(b.result, SegmentationResult)
        kept = vars(outcome.rendered)[_SLOT] = (compare_models(req.task, a.result, b.result), other)
    return kept


def _reference_iou(outcome: RunOutcome) -> float | None:
    try:
        return float(run_evaluation(outcome).metrics["iou"])
    except (GeofmError, KeyError):
        return None


def show_other_model(outcome: RunOutcome, *, key: str) -> None:
    """A button the first time, then the two models' agreement on a map with its figures."""
    task = get_task(outcome.request.task)
    if not task.alt_models or not isinstance(outcome.result, SegmentationResult) or not outcome.request.geometry:
        return
    st.subheader(HEADING)
    other = other_model(outcome)
    st.markdown(f"Run {MODELS[other].title} on the same area and scenes and see where the two maps agree.")
    slot = st.empty()  # the button goes once the comparison shows (it has nothing more to do)
    if vars(outcome.rendered).get(_SLOT) is None and not ui.pressed(
            slot.button, f"Run {short_name(other)} on the same scenes", key=f"{key}-other-model",
            icon=":material/compare:"):
        return
    try:
        with st.spinner(f"Running {MODELS[other].title}…"):
            ev, other_outcome = compare_with_other(outcome)
    except GeofmError as err:
        st.warning(ui.user_message(err), icon=":material/warning:")
        return
    slot.empty()
    m = ev.metrics
    a_name, b_name = (outcome.result.model, other) if outcome.result.model == task.model else (other,
                                                                                               outcome.result.model)
    sa, sb = short_name(a_name), short_name(b_name)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("IoU between the models", f"{m['iou']:.2f}")
    c2.metric(f"{task.target_label}, {sa}", f"{m['a_km2']:.2f} km²")
    c3.metric(f"{task.target_label}, {sb}", f"{m['b_km2']:.2f} km²")
    c4.metric("Found by both", f"{m['both_km2']:.2f} km²")
    st.caption(f"Only {sa}: {m['only_a_km2']:.2f} km² · only {sb}: {m['only_b_km2']:.2f} km² · the maps agree on "
               f"{100 * m['agreement_share']:.1f} % of the compared pixels.")
    if task.reference_layers:
        by_name = {outcome.result.model: outcome, other: other_outcome}
        ious = {n: _reference_iou(by_name[n]) for n in (a_name, b_name)}
        shown = [f"{short_name(n)} IoU {v:.2f}" for n, v in ious.items() if v is not None and v == v]
        if shown:
            st.markdown("**Agreement with the public reference** (normal water): " + " · ".join(shown))
    products = views.render_views(outcome)
    assert isinstance(products, ClassMapProducts)
    layers = [views.MapLayer(products.rgb_overlay, f"True colour {products.labels[-1]}", 1.0, True)]
    layers += [views.MapLayer(overlay, layer.title, 0.8, True, result=True) for layer, overlay in layer_overlays(ev)]
    items = [(c.name, hex_color(c.color)) for k, c in enumerate(ev.layers[0].classes) if k not in (0,)]
    views.result_map(outcome, layers, key=f"{key}-models-map", legend_title="Model agreement", legend_items=items)
