"""One task page (flood, crops, reconstruction) over the area chosen on the explore page."""

from __future__ import annotations

import time

import streamlit as st

from geofm.errors import GeofmError
from geofm.serve import nav, ui, views
from geofm.serve.queue import RunAbandoned
from geofm.serve.runs import TASK_TITLES, RunOutcome, RunRequest, run_area


TASK_INTROS: dict[str, str] = {
    "flood": "Prithvi's Sen1Floods11 fine-tune marks water on one clear date. The water layer sits on the "
             "true-colour image; compare them side by side.",
    "crops": "Prithvi's multi-temporal crop fine-tune looks at three dates of a growing season and labels each "
             "30 m pixel with one of 13 land-cover and crop classes.",
    "reconstruct": "The pretrained Prithvi masked autoencoder hides a share of 16×16-pixel patches and predicts "
                   "them from what it still sees.",
}


def finish_run(outcome: RunOutcome, panel: ui.ProgressPanel) -> RunOutcome:
    """Render the views once (timed as the render stage) and close the progress panel."""
    if not outcome.views:
        started = time.perf_counter()
        views.render_views(outcome, panel)
        outcome.times.seconds["render"] = time.perf_counter() - started
    panel.done(outcome)
    return outcome


def execute(page: str, request: RunRequest, work) -> None:
    """Run with a progress panel; errors become one message and the previous result stays."""
    panel = ui.ProgressPanel(f"Starting {TASK_TITLES[request.task].lower()}…")
    try:
        outcome = finish_run(work(panel), panel)
    except RunAbandoned:  # the visitor left or asked for something else: nothing to show
        panel.failed()
        return
    except GeofmError as err:
        panel.failed()
        ui.errors()[page] = ui.user_message(err)
        return
    ui.errors().pop(page, None)
    ui.outcomes()[page] = outcome


def reconstruction_controls(key: str) -> tuple[float, int, str]:
    """Mask ratio slider, seed, and the masked autoencoder (when more than one is installed)."""
    models = ui.installed_mae_models()
    model = models[0][0]
    if len(models) > 1:
        titles = dict(models)
        model = st.selectbox("Model", list(titles), format_func=titles.__getitem__, key=f"{key}-model",
                             help="Prithvi-EO-2.0 models are listed when their weights are installed.")
    c1, c2 = st.columns([3, 1])
    mask_ratio = c1.slider("Share of patches to hide (mask ratio)", 0.05, 0.95, 0.75, 0.05, key=f"{key}-ratio")
    seed = int(c2.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key=f"{key}-seed"))
    return mask_ratio, seed, model


def task_page(task: str) -> None:
    """Controls, run button, progress and results for ``task`` over the chosen area."""
    page = task
    st.title(TASK_TITLES[task])
    st.markdown(TASK_INTROS[task])
    q = ui.query()
    aoi, problem = ui.area_of_query()
    if aoi is None and q.get("geometry"):
        st.error(problem, icon=":material/error:")
    elif aoi is None:
        st.info(problem, icon=":material/draw:")
    else:
        st.markdown(f"{ui.area_caption(aoi)} · {ui.fmt_date(q['start'])} to {ui.fmt_date(q['end'])} · "
                    f"at most {q['max_cloud']:.0f} % cloud")
    st.page_link(nav.explore(), label="Change the area or the dates on the Explore page", icon=":material/map:")

    ui.show_weights_notice(task)
    mask_ratio, seed, model = reconstruction_controls(page) if task == "reconstruct" else (0.75, 0, "")
    request = None
    if aoi is not None:
        scene_ids = tuple(q.get("scene_ids") or ()) if q.get("task") == task else ()
        request = RunRequest.for_area(task, q["geometry"], ui.fmt_date(q["start"]), ui.fmt_date(q["end"]),
                                      max_cloud=q["max_cloud"], scene_ids=scene_ids, mask_ratio=mask_ratio,
                                      seed=seed, model=model)
    if st.button(f"Run {TASK_TITLES[task].lower()}", type="primary", disabled=request is None,
                 icon=":material/play_arrow:", key=f"{page}-run"):
        execute(page, request, lambda panel: run_area(request, progress=panel, visitor=ui.visitor()))
    ui.show_last_error(page)

    outcome = ui.outcomes().get(page)
    if outcome is None:
        return
    if request is not None and outcome.request != request:
        st.info("The result below is for earlier settings. Press Run to update it.", icon=":material/history:")
    views.show_outcome(outcome, key=page)
