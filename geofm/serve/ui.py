"""Streamlit building blocks shared by the app's pages: state, area, errors, progress, running."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from geofm.config import MODELS, TASKS, TaskSpec, get_model_spec
from geofm.data import AOI
from geofm.errors import CheckpointError, GeofmError, ServiceError, WeightsNotFoundError
from geofm.data.stac import default_search_dates
from geofm.models import resolve_weights
from geofm.serve.progress import STAGE_TITLES
from geofm.serve.queue import ANONYMOUS, Visitor
from geofm.serve.runs import RunOutcome
from geofm.serve.warmup import warmup
from geofm.settings import SettingsError, settings

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator

log = logging.getLogger(__name__)

#: Session-state keys (plain keys, not widget keys, so they survive page switches).
QUERY = "geofm_query"  # dict: geometry, start, end, max_cloud, task, example, scene_ids
SCENES = "geofm_scenes"  # dict: key -> list of scenes found for the query
OUTCOMES = "geofm_outcomes"  # dict: page key -> RunOutcome (latest run of this session)
ERRORS = "geofm_errors"  # dict: page key -> last user-facing error message
DRAWN = "geofm_drawn_geometry"  # GeoJSON geometry the map returned (AppTest feeds this key)
PRESSES = "geofm_presses"  # dict: button key -> the page it was pressed on (see ``pressed``)
PAGE_NOW = "geofm_page_now"  # the url path of the page this session's last script run showed

DEFAULT_QUERY: dict[str, Any] = {
    "geometry": None, "start": None, "end": None, "max_cloud": 30.0,
    "task": next(iter(TASKS)), "example": None, "scene_ids": (),
}


def query() -> dict[str, Any]:
    """This session's search inputs (area, dates, cloud cover, task)."""
    if QUERY not in st.session_state:
        start, end = default_search_dates()
        st.session_state[QUERY] = dict(DEFAULT_QUERY, start=start, end=end)
    return st.session_state[QUERY]


def outcomes() -> dict[str, RunOutcome]:
    if OUTCOMES not in st.session_state:
        st.session_state[OUTCOMES] = {}
    return st.session_state[OUTCOMES]


def errors() -> dict[str, str]:
    if ERRORS not in st.session_state:
        st.session_state[ERRORS] = {}
    return st.session_state[ERRORS]


def area_of_query() -> tuple[Any | None, str | None]:
    """(AOI, None) for the chosen area, or (None, message) when nothing usable is drawn."""
    geometry = query().get("geometry")
    if not geometry:
        return None, ("No area yet: draw a rectangle or polygon on the map (tools at the map's top left), "
                      "or pick one of the examples.")
    try:
        return AOI.from_geojson(geometry), None
    except GeofmError as err:
        return None, err.user_message()


#: CLI wording in library messages -> what the app calls the same control.
_APP_WORDS = {"(--max-cloud)": "(the cloud-cover slider on the Explore page)",
              "--max-cloud": "the cloud-cover slider", " / --stac-url": "", " or --stac-url": ""}
#: Operator details that end users cannot act on: URLs, environment variables, commands and options.
_OPERATOR_DETAILS = (
    (re.compile(r"https?://[^\s)'\"]*[^\s)'\":,.;]"), "the service"),
    (re.compile(r"`?\b(?:python -m )?geofm (?:weights|run|search|region)\b[^`.;]*`?"), "the operator's tools"),
    (re.compile(r"\b(?:GEOFM|EARTHDATA|PC_SDK|HF_HUB|HF)_[A-Z_]+\b"), "a server setting"),
    (re.compile(r"(?<![\w-])--[a-z][a-z-]+"), "a server setting"),
)
_OPERATOR_ONLY = "The operator can find the details in the server log."


def operator_free(text: str) -> str:
    """``text`` without URLs, setting names and commands (those are logged for the operator instead)."""
    clean = text
    for pattern, words in _OPERATOR_DETAILS:
        clean = pattern.sub(words, clean)
    if clean != text:
        log.warning("shown to the user without operator details: %s", text)
        clean = f"{clean} {_OPERATOR_ONLY}"
    return clean


def user_message(err: GeofmError) -> str:
    """The error's sentence for an end user: command-line option names replaced by the app's controls;
    operator details (setting names, URLs, commands) go to the server log.

    A bad operator setting is logged for the operator; the user only learns that the server is misconfigured.
    Missing or broken model weights likewise: the user learns the task cannot run on this server yet.
    """

    if isinstance(err, SettingsError):
        log.error("bad setting: %s", err)
        return "This server is misconfigured, so this cannot run now. The operator's log says why."
    if isinstance(err, (WeightsNotFoundError, CheckpointError)):
        log.error("model weights: %s", err.user_message())
        return ("This model is not installed on this server yet, so this task cannot run here for now. "
                "The operator's log says what is missing.")
    if isinstance(err, ServiceError) and err.plain:  # a service failure: plain words; the details to the log
        log.warning("service failure shown to the user as %r: %s", err.plain, err.user_message())
        return err.plain
    text = err.user_message()
    for cli, app in _APP_WORDS.items():
        text = text.replace(cli, app)
    return operator_free(text)


def settings_ok() -> bool:
    """Read the operator's settings once per script run: a bad value stops the page with one message for the
    user (the setting's name and value go to the log)."""

    try:
        settings()
    except SettingsError as err:
        st.error(user_message(err), icon=":material/error:")
        return False
    return True


def show_last_error(page: str) -> None:
    message = errors().get(page)
    if message:
        st.error(message, icon=":material/error:")


class ProgressPanel:
    """A status box: one line per stage with its message and time, and a progress bar."""

    def __init__(self, label: str = "Working…") -> None:
        self.status = st.status(label, expanded=True)
        self._lines: dict[str, Any] = {}
        self._started: dict[str, float] = {}
        self._bar: Any = None
        self._current: str | None = None
        self._ctx = get_script_run_ctx()
        self._lock = threading.RLock()
        self._messages: dict[str, str] = {}

    def __call__(self, stage: str, message: str, fraction: float | None = None) -> None:
        # The readers report from worker threads: let them write into this session's page.
        if get_script_run_ctx(suppress_warning=True) is None and self._ctx is not None:
            add_script_run_ctx(threading.current_thread(), self._ctx)
        with self._lock:
            self._update(stage, message, fraction)

    def _update(self, stage: str, message: str, fraction: float | None) -> None:
        now = time.perf_counter()
        if stage != self._current:
            self._close_current(now)
            self._current = stage
            self._started[stage] = now
            with self.status:
                self._lines[stage] = st.empty()
                self._bar = st.progress(0.0) if fraction is not None else None
        title = STAGE_TITLES.get(stage, stage)
        self._messages[stage] = message
        self.status.update(label=f"{title}: {message}")
        self._lines[stage].markdown(f"**{title}** — {message}")
        if fraction is not None:
            if self._bar is None:
                with self.status:
                    self._bar = st.progress(0.0)
            self._bar.progress(min(max(float(fraction), 0.0), 1.0))

    def _close_current(self, now: float) -> None:
        stage = self._current
        if stage is None:
            return
        seconds = now - self._started[stage]
        line = self._lines[stage]
        title = STAGE_TITLES.get(stage, stage)
        line.markdown(f":material/check: **{title}** — {self._messages.get(stage, '')} ({seconds:.1f} s)")
        if self._bar is not None:
            self._bar.empty()
            self._bar = None

    def done(self, outcome: RunOutcome) -> None:
        self._close_current(time.perf_counter())
        label = "Result from the cache (same inputs as before)" if outcome.from_cache else "Done"
        self.status.update(label=f"{label} — {outcome.times.summary()}", state="complete", expanded=False)

    def failed(self) -> None:
        self._close_current(time.perf_counter())
        self.status.update(label="Stopped — see the message below", state="error", expanded=False)


_ACTING = threading.local()


@contextmanager
def acting_for(who: Visitor) -> Iterator[None]:
    """Inside a run's background thread (geofm.serve.jobs): ``visitor()`` is ``who``, the session that asked."""
    _ACTING.visitor = who
    try:
        yield
    finally:
        _ACTING.visitor = None


def visitor() -> Visitor:
    """This browser session as the queue sees it: its id, and a probe that turns False when the tab is
    closed (the session left the server) or the visitor asked for something else (a stop or rerun).
    In a run's background thread: the session that started the run, alive while a page follows the run."""
    acting = getattr(_ACTING, "visitor", None)
    if acting is not None:
        return acting
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return ANONYMOUS
    session_id = ctx.session_id

    def alive() -> bool:
        if runtime.exists() and not runtime.get_instance().is_active_session(session_id):
            return False
        requests = getattr(ctx, "script_requests", None)
        state = getattr(getattr(requests, "_state", None), "name", "CONTINUE")
        if state == "RERUN":  # a fragment's timer waits for this run to finish, as Streamlit does
            data = getattr(requests, "_rerun_data", None)
            return bool(getattr(data, "fragment_id_queue", None)) and not getattr(data, "is_fragment_scoped_rerun",
                                                                                  False)
        return state == "CONTINUE"  # STOP, or a rerun the visitor asked for: this script run is over

    return Visitor(id=session_id, alive=alive)


def _record_press(key: str) -> None:
    st.session_state.setdefault(PRESSES, {})[key] = st.session_state.get(PAGE_NOW)


def pressed(button: Callable[..., Any], label: str, *, key: str, **kwargs: Any) -> bool:
    """Draw a button (``st.button``, a column's ``.button``, ``st.form_submit_button``); say whether it was pressed.

    The press is recorded by the button's callback and read once here, not taken from the button's return value:
    with Streamlit's fast reruns, a press that lands while the session's previous script run is still ending can be
    reset by that run's end-of-run clean-up inside the newer run, before the newer run reaches the button; the
    callback has run by then (``tests/browser/test_clicks.py`` forces that interleaving). A press the run did not
    reach (a rerun cut it short) is read by the next run that draws the button; one made on a page the visitor then
    left is dropped (``forget_presses_elsewhere``)."""
    button(label, key=key, on_click=_record_press, args=(key,), **kwargs)
    presses: dict[str, str | None] = st.session_state.get(PRESSES) or {}
    was_pressed = key in presses
    presses.pop(key, None)
    return was_pressed


def forget_presses_elsewhere(page_path: str) -> None:
    """Drop the presses made on another page than ``page_path`` (the visitor left before they were read)."""
    presses = st.session_state.get(PRESSES) or {}
    st.session_state[PRESSES] = {key: where for key, where in presses.items() if where == page_path}
    st.session_state[PAGE_NOW] = page_path


def area_caption(aoi) -> str:
    """'Area 5.9 × 5.6 km (33.1 km²) around 41.30 N, 95.92 W'."""
    width, height = aoi.size_km
    lon, lat = aoi.centroid
    return (f"Area {width:.1f} × {height:.1f} km ({aoi.area_km2:.1f} km²) around "
            f"{abs(lat):.3f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.3f}° {'E' if lon >= 0 else 'W'}")


def fmt_date(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


PAGE_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.2rem; padding-bottom: 2rem; max-width: 1400px; }
.geofm-legend { font-size: 0.92rem; line-height: 1.9; }
iframe { border-radius: 6px; }
/* a code block's copy button shows only on hover by default: phones have none, so it is always shown */
[data-testid="stCode"] > div, [data-testid="stCode"] > div * { visibility: visible !important; opacity: 1 !important; }
[data-testid="stCode"] pre { padding-right: 2.6rem !important; }
/* a chart wider than the column scrolls inside its own box, not the page */
[data-testid="stVegaLiteChart"] { max-width: 100%; overflow-x: auto; }
@media (max-width: 640px) {  /* phones: the map above the fold, the controls below it */
  [data-testid="stMainBlockContainer"] { padding: 3.2rem 0.7rem 1rem; }
  h1 { font-size: 1.35rem !important; padding: 0.2rem 0 !important; }
  [class*="st-key-geofm-wide-only-"] { display: none !important; }
  /* a table's or chart's toolbar (always shown on a touch screen) sits in a strip of its own above it, not
     over its first row and the line of text before it */
  [data-testid="stElementContainer"]:has([data-testid="stElementToolbar"]) { margin-top: 28px; }
}
@media (min-width: 641px) { [class*="st-key-geofm-narrow-only-"] { display: none !important; } }
</style>
"""


def wide_only(key: str) -> DeltaGenerator:
    """A container shown on screens wider than a phone's (``narrow_only`` holds its phone-sized twin)."""
    return st.container(key=f"geofm-wide-only-{key}")


def narrow_only(key: str) -> DeltaGenerator:
    """A container shown on a phone's width only (640 px or less), in place of its ``wide_only`` twin."""
    return st.container(key=f"geofm-narrow-only-{key}")


def page_style() -> None:
    """Small layout touches shared by every page (less top padding, legend text size)."""
    st.html(PAGE_CSS)


def weights_blocking(task: str) -> str | None:
    """The message when the task's weights are missing and cannot be fetched on the first run (offline, or
    first-use downloads off); None when a run can go ahead."""
    missing = weights_problem(task)
    if not missing:
        return None
    from geofm.models.download import can_download  # lazy: torch

    return None if can_download() else missing


def show_weights_notice(task: str) -> None:
    """Before a run: say that a missing model is fetched on the first run, or (offline) how to get it."""
    missing = weights_problem(task)
    if not missing:
        return
    from geofm.models.download import can_download  # lazy: torch

    if can_download():
        spec = get_model_spec(task)
        st.info(f"The {spec.title} model (about {spec.size_mb:,} MB) is downloaded on the first run, once "
                "for everyone; the progress shows here.", icon=":material/download:")
    else:
        st.warning(missing, icon=":material/download:")


def warming_up_banner() -> None:
    """Start the background preload (if the server's start hook has not) and say in the sidebar while it lasts.

    The note is drawn by each run of the page (the visitor's next click shows the new state; it is gone once
    the models are ready). It has no timer of its own: a fragment rerunning every few seconds can replay the
    browser's older widget values over ones a button just set (Streamlit issue 10805), which reset the dates
    of visitors who picked an example while the models were loading.
    """

    preload = warmup()
    preload.start()
    text = preload.status().summary()
    if text:
        with st.sidebar:
            st.info(text, icon=":material/hourglass_top:")


def weights_problem(task: str) -> str | None:
    """The user-facing message when the task's weights are not on this machine (a quick file look-up)."""

    try:
        resolve_weights(get_model_spec(task))
    except GeofmError as err:
        return user_message(err)
    return None


def installed_models(task: TaskSpec) -> list[tuple[str, str]]:
    """(registry name, title) of the task's default model and every other model of its kind whose weights are here."""

    default = task.model
    found = [(default, MODELS[default].title)]
    for name, spec in MODELS.items():
        if spec.kind != task.model_kind or name == default:
            continue
        try:
            resolve_weights(spec)
        except GeofmError:
            continue
        found.append((name, spec.title))
    return found
