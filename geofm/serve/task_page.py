"""One task page (any task of the registry) over the area chosen on the explore page."""

from __future__ import annotations

import logging
import time

import streamlit as st

from geofm.config import CONTROLS, MODELS, TASKS, TaskSpec, default_model, get_task, task_models
from geofm.errors import GeofmError
from geofm.serve import nav, share, ui, views
from geofm.serve.estimate import duration, estimate_area, learn
from geofm.serve.evaluate_view import show_evaluation
from geofm.serve.jobs import follow, run_jobs
from geofm.serve.models_view import show_other_model
from geofm.serve.preflight import run_warnings
from geofm.serve.runs import RunOutcome, RunRequest, results_cache, run_area
from geofm.serve.series_view import through_time

log = logging.getLogger(__name__)
#: Session-state key: the run this session follows (a geofm.serve.jobs.RunJob), whichever page started it.
JOB = "geofm_job"


def finish_run(outcome: RunOutcome, panel: ui.ProgressPanel) -> RunOutcome:
    """Render the views once (timed as the render stage) and close the progress panel."""
    with outcome.rendered.lock:  # another page following the same run may be rendering it now: once is enough
        if outcome.views is None:
            started = time.perf_counter()
            views.render_views(outcome, panel)
            outcome.times.seconds["render"] = time.perf_counter() - started
    panel.done(outcome)
    return outcome


def execute(page: str, request: RunRequest, work, *, estimate=None) -> None:
    """Start ``work(progress)`` as this session's run (a background job, see geofm.serve.jobs) and follow it.

    More clicks while it runs start nothing: the page follows the same job. Errors become one message and
    the previous result stays.
    """
    job = st.session_state.get(JOB)
    if job is None or job.finished:
        job = run_jobs().start(request, page, lambda progress, visitor: _as(visitor, work, progress),
                               owner=ui.visitor().id, estimate=estimate)
        st.session_state[JOB] = job
    follow_job(job)


def session_busy() -> bool:
    """This session has a run queued or running (on any page)."""
    job = st.session_state.get(JOB)
    return job is not None and not job.finished


def resume_job() -> None:
    """Follow this session's run if it has one (a page run cut short by another click left it running)."""
    job = st.session_state.get(JOB)
    if job is not None:
        busy = not job.finished
        follow_job(job)
        if busy:
            st.rerun()  # Run was drawn disabled while it ran: draw the page again, with the result


def _as(visitor, work, progress):
    with ui.acting_for(visitor):  # the queue's limits and liveness are those of the session that asked
        return work(progress)


def current_job(request: RunRequest | None):
    """This session's run (running, or ended and not yet shown), else a running job for ``request`` that another
    session started (this page was reloaded, or its link opened again): the page follows it."""
    job = st.session_state.get(JOB)
    if job is not None:
        return job
    found = run_jobs().find(request)
    if found is not None and not found.finished:
        st.session_state[JOB] = found
        return found
    return None


def follow_job(job) -> None:
    """Show ``job``'s progress and the time left until it ends; then its result (or error) is its page's."""
    title = get_task(job.request.task).title.lower()
    panel = ui.ProgressPanel(f"Starting {title}…")
    left = st.empty()

    def tick(j) -> None:
        seconds = j.remaining_s()
        if seconds is not None:
            left.caption(f":material/timer: About {duration(seconds)} left ({duration(j.elapsed_s)} so far)")

    follow(job, panel, tick=tick)
    left.empty()
    st.session_state.pop(JOB, None)
    if job.outcome is None:
        panel.failed()
        message = job.user_error()
        if message:
            ui.errors()[job.page] = message
        return
    outcome = finish_run(job.outcome, panel)
    if not outcome.from_cache:
        learn_from(outcome)
    ui.errors().pop(job.page, None)
    ui.outcomes()[job.page] = outcome


def learn_from(outcome: RunOutcome) -> None:
    """This machine's measured rates, updated from a run that really ran."""

    height, width = outcome.stack.shape
    try:
        learn(outcome.request.task, height, width, outcome.times.seconds)
    except Exception as err:  # noqa: BLE001 - an estimate never fails a run
        log.warning("could not update the run rates: %s", err)


def show_run_warnings(task: str, q: dict) -> None:
    """Before Run: what the dates found on the Explore page say (all cloud; crops without three dates)."""

    start, end = q["start"], q["end"]
    days = [(frame, clear) for frame, clear in st.session_state.get(ui.SCENES) or ()
            if start <= frame[0].date <= end]
    for note in run_warnings(task, days, tuple(q.get("scene_ids") or ()), start, end):
        st.warning(note, icon=":material/cloud:")


def show_estimate(task: str, aoi):
    """Before Run: how long this run takes here; a run over a minute says so plainly."""

    try:
        estimate = estimate_area(task, aoi)
    except GeofmError:
        return None
    if estimate.long:
        st.warning(f"This run takes a while here: {estimate.text()} A smaller area runs faster.",
                   icon=":material/hourglass_top:")
    else:
        st.caption(f":material/timer: {estimate.text()}")
    return estimate


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

    return results_cache().get(request)


def task_controls(task: TaskSpec, key: str) -> tuple[float, int, str]:
    """The task's own controls: for masking tasks the mask ratio, seed and model; for tasks with a choice of
    models the model; else the defaults."""
    if task.alt_models:
        return 0.75, 0, model_choice(task, key, "file" if key == "upload" else "area")
    if not task.masking:
        return 0.75, 0, ""
    return reconstruction_controls(task, key)


def model_choice(task: TaskSpec, key: str, source: str = "area") -> str:
    """The model of a task with several published fine-tunes; the default is the best one for this server's
    device and the input (``geofm.config.default_model``)."""
    from geofm.inference.device import resolve_device  # lazy: torch

    names = list(task_models(task.name))
    if st.session_state.get(f"{key}-model") not in names:
        st.session_state[f"{key}-model"] = default_model(task.name, resolve_device("auto").type, source)
    return str(st.selectbox("Model", names, format_func=lambda n: MODELS[n].title, key=f"{key}-model",
                            help="Prithvi-EO-2.0 (300M) is larger and slower than EO-1.0 (100M); the default "
                                 "is the one that finishes a typical area in time on this server."))


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
    low, high = CONTROLS.mask_ratio
    mask_ratio = c1.slider("Share of patches to hide (mask ratio)", low, high, step=CONTROLS.mask_ratio_step,
                           key=f"{key}-ratio")
    seed = int(c2.number_input("Seed", min_value=0, max_value=CONTROLS.seed_max, step=1, key=f"{key}-seed"))
    return mask_ratio, seed, model


def task_page(name: str) -> None:
    """Controls, run button, progress and results for the task ``name`` over the chosen area."""
    share.read_link()
    share.show_link_notice()  # (also here: a first request for a page's URL may run the page without app.py)
    spec = get_task(name)
    task = page = spec.name
    st.title(spec.title)
    st.markdown(spec.intro)
    q = ui.query()
    aoi, problem = ui.area_of_query()
    if aoi is None and q.get("geometry"):
        st.error(problem, icon=":material/error:")
    elif aoi is None:  # this page has no map: the area is chosen on the Explore page
        st.info("No area yet. Choose one on the Explore page: draw it on the map, type a box or pick an example.",
                icon=":material/map:")
        st.page_link(nav.explore(), label="Choose an area on the Explore page", icon=":material/arrow_forward:")
    else:
        st.markdown(f"{ui.area_caption(aoi)} · {ui.fmt_date(q['start'])} to {ui.fmt_date(q['end'])} · "
                    f"at most {q['max_cloud']:.0f} % cloud")
    if aoi is not None or q.get("geometry"):
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
    estimate = show_estimate(task, aoi) if aoi is not None else None
    if request is not None:
        show_run_warnings(task, q)
    job = current_job(request)
    busy = job is not None and not job.finished
    if busy and job.page != page:
        other = get_task(job.request.task).title.lower() if job.request.task in TASKS else "upload"
        st.info(f"Your {other} run is still going; Run is available again when it ends. Its progress is below.",
                icon=":material/hourglass_top:")
    clicked = ui.pressed(st.button, f"Run {spec.title.lower()}", type="primary", icon=":material/play_arrow:",
                         key=f"{page}-run", disabled=request is None or bool(missing) or busy)
    if clicked and request is not None and not busy:
        area_request = request
        execute(page, area_request, lambda panel: run_area(area_request, progress=panel, visitor=ui.visitor()),
                estimate=estimate)
    elif job is not None:
        follow_job(job)  # this session's run, or one this page's link started before a reload
        if busy:
            st.rerun()  # Run was drawn disabled while it ran: draw the page again, with the result
    ui.show_last_error(page)

    outcome = ui.outcomes().get(page)
    if outcome is None and request is not None:
        outcome = cached_outcome(request)  # a shared link or a reload: the result is in the server's cache
        if outcome is not None:
            ui.outcomes()[page] = outcome
    if outcome is not None:
        show_result(outcome, request, page)
    if spec.view == "target":  # a single-date class map of one target class: it has a series
        through_time(spec, aoi)


def show_result(outcome: RunOutcome, request: RunRequest | None, page: str) -> None:
    """The run's result views (and its evaluation)."""
    if request is not None and outcome.request != request:
        st.info("The result below is for earlier settings. Press Run to update it.", icon=":material/history:")
    views.show_outcome(outcome, key=page)
    show_evaluation(outcome, key=page)
    show_other_model(outcome, key=page)
