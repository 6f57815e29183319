"""One task page (any task of the registry) over the area chosen on the explore page."""

from __future__ import annotations

import time

import streamlit as st

from geofm.config import TaskSpec, get_task
from geofm.errors import GeofmError
from geofm.serve import nav, share, ui, views
from geofm.serve.queue import RunAbandoned
from geofm.serve.runs import RunOutcome, RunRequest, run_area


def finish_run(outcome: RunOutcome, panel: ui.ProgressPanel) -> RunOutcome:
    """Render the views once (timed as the render stage) and close the progress panel."""
    if outcome.views is None:
        started = time.perf_counter()
        views.render_views(outcome, panel)
        outcome.times.seconds["render"] = time.perf_counter() - started
    panel.done(outcome)
    return outcome


def execute(page: str, request: RunRequest, work) -> None:
    """Run with a progress panel; errors become one message and the previous result stays."""
    panel = ui.ProgressPanel(f"Starting {get_task(request.task).title.lower()}…")
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


def scenes_caption(scene_ids: tuple[str, ...]) -> None:
    """Which scenes the run will use: the ones selected on Explore, or the clearest."""
    if scene_ids:
        st.caption(f":material/checklist: Uses the {len(scene_ids)} scene(s) you selected: "
                   + ", ".join(f"`{i}`" for i in scene_ids))
    else:
        st.caption(":material/auto_awesome: Uses the clearest scenes of these dates over the area "
                   "(select scenes on the Explore page to choose them yourself).")


def cached_outcome(request: RunRequest) -> RunOutcome | None:
    """The server's cached result for ``request``, if any (no model run)."""
    from geofm.serve.runs import results_cache

    return results_cache().get(request)


def task_controls(task: TaskSpec, key: str) -> tuple[float, int, str]:
    """The task's own controls: for masking tasks the mask ratio, seed and model; else the defaults."""
    if not task.masking:
        return 0.75, 0, ""
    return reconstruction_controls(task, key)


def reconstruction_controls(task: TaskSpec, key: str) -> tuple[float, int, str]:
    """Mask ratio slider, seed, and the masked autoencoder (when more than one is installed)."""
    models = ui.installed_models(task)
    model = models[0][0]
    if len(models) > 1:
        titles = dict(models)
        if st.session_state.get(f"{key}-model") not in titles:
            st.session_state.pop(f"{key}-model", None)
        model = st.selectbox("Model", list(titles), format_func=titles.__getitem__, key=f"{key}-model",
                             help="Prithvi-EO-2.0 models are listed when their weights are installed.")
    c1, c2 = st.columns([3, 1])
    st.session_state.setdefault(f"{key}-ratio", 0.75)  # (a shared link may have set them)
    st.session_state.setdefault(f"{key}-seed", 0)
    mask_ratio = c1.slider("Share of patches to hide (mask ratio)", 0.05, 0.95, step=0.05, key=f"{key}-ratio")
    seed = int(c2.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key=f"{key}-seed"))
    return mask_ratio, seed, model


def task_page(name: str) -> None:
    """Controls, run button, progress and results for the task ``name`` over the chosen area."""
    share.read_link()  # (also here: a first request for a page's URL may run the page without app.py)
    spec = get_task(name)
    task = page = spec.name
    st.title(spec.title)
    st.markdown(spec.intro)
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

    missing = ui.weights_blocking(task)  # missing and cannot be fetched: Run is disabled
    ui.show_weights_notice(task)
    mask_ratio, seed, model = task_controls(spec, page)
    request = None
    if aoi is not None:
        scene_ids = tuple(q.get("scene_ids") or ())
        scenes_caption(scene_ids)
        request = RunRequest.for_area(task, q["geometry"], ui.fmt_date(q["start"]), ui.fmt_date(q["end"]),
                                      max_cloud=q["max_cloud"], scene_ids=scene_ids, mask_ratio=mask_ratio,
                                      seed=seed, model=model)
    share.write_link(page=task, request=request)
    if st.button(f"Run {spec.title.lower()}", type="primary", disabled=request is None or bool(missing),
                 icon=":material/play_arrow:", key=f"{page}-run") and request is not None:
        area_request = request
        execute(page, area_request, lambda panel: run_area(area_request, progress=panel, visitor=ui.visitor()))
    ui.show_last_error(page)

    outcome = ui.outcomes().get(page)
    if outcome is None and request is not None:
        outcome = cached_outcome(request)  # a shared link or a reload: the result is in the server's cache
        if outcome is not None:
            ui.outcomes()[page] = outcome
    if outcome is not None:
        show_result(outcome, request, page)
    if spec.view == "target":  # a single-date class map of one target class: it has a series
        from geofm.serve.series_view import through_time

        through_time(spec, aoi)


def show_result(outcome: RunOutcome, request: RunRequest | None, page: str) -> None:
    """The run's result views (and its evaluation)."""
    if request is not None and outcome.request != request:
        st.info("The result below is for earlier settings. Press Run to update it.", icon=":material/history:")
    views.show_outcome(outcome, key=page)
    from geofm.serve.evaluate_view import show_evaluation

    show_evaluation(outcome, key=page)
