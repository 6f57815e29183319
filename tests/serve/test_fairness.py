"""Fair use of the shared model queue: per-session limits, a capped line, abandoned runs leave it."""

from __future__ import annotations

import threading
import time

import pytest

from geofm.config import QueueLimits
from geofm.errors import QueueFullError, SessionLimitError
from geofm.serve.queue import JobQueue, RunAbandoned, Visitor
from geofm.serve.runs import RunRequest, run_area


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wait_for(cond, timeout: float = 5.0) -> None:
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "condition not reached"
        time.sleep(0.01)


def test_limits_come_from_the_operator_environment():
    limits = QueueLimits.from_env({"GEOFM_QUEUE_MAX": "3", "GEOFM_RUNS_PER_MINUTE": "10",
                                   "GEOFM_JOBS_PER_SESSION": "2", "GEOFM_JOB_SECONDS": "12.5"})
    assert limits == QueueLimits(max_waiting=3, runs_per_minute=10, jobs_per_session=2, job_seconds=12.5)
    from geofm.settings import SettingsError

    with pytest.raises(SettingsError, match="GEOFM_QUEUE_MAX must be a whole number > 0, got 'lots'"):
        QueueLimits.from_env({"GEOFM_QUEUE_MAX": "lots"})
    with pytest.raises(SettingsError, match="GEOFM_RUNS_PER_MINUTE"):
        QueueLimits.from_env({"GEOFM_RUNS_PER_MINUTE": "-1"})
    assert QueueLimits() == QueueLimits(max_waiting=8, runs_per_minute=4, jobs_per_session=1, job_seconds=45.0)


def test_one_queued_or_running_job_per_session():
    queue = JobQueue(QueueLimits(max_waiting=10, runs_per_minute=100))
    running = queue.join("flood", owner="alice")
    queue.wait_turn(running)
    with pytest.raises(SessionLimitError, match="already have a run"):
        queue.join("crops", owner="alice")  # while running
    queue.join("crops", owner="bob")  # other sessions are not affected
    with pytest.raises(SessionLimitError):
        queue.join("flood", owner="bob")  # while waiting
    with pytest.raises(SessionLimitError):
        queue.check_admission("bob")
    assert queue.owners() == ["alice", "bob"]
    queue.leave(running)
    again = queue.join("flood", owner="alice")  # finished: alice may run again
    assert queue.position(again) == 2
    # tickets without an owner (CLI, library) are not limited
    anon = [queue.join("x") for _ in range(3)]
    assert [queue.position(t) for t in anon] == [3, 4, 5]


def test_per_session_rate_limit_counts_runs_in_the_last_minute():
    clock = Clock()
    queue = JobQueue(QueueLimits(max_waiting=10, runs_per_minute=2, jobs_per_session=1), clock=clock)
    for _ in range(2):
        with queue.slot("flood", owner="alice"):
            clock.now += 1.0
    with pytest.raises(SessionLimitError, match=r"started 2 runs in the last minute; please wait 58 s"):
        queue.join("flood", owner="alice")
    queue.join("flood", owner="bob")  # the limit is per session
    clock.now += 57.5
    with pytest.raises(SessionLimitError, match="wait 1 s"):
        queue.check_admission("alice")
    clock.now += 1.0  # the first run is now more than 60 s old
    queue.check_admission("alice")
    ticket = queue.join("flood", owner="alice")
    assert queue.position(ticket) == 2


def test_full_queue_says_busy_with_an_estimate_instead_of_waiting():
    clock = Clock()
    queue = JobQueue(QueueLimits(max_waiting=2, runs_per_minute=100, job_seconds=60.0), clock=clock)
    first = queue.join(owner="a")
    queue.wait_turn(first)
    second = queue.join(owner="b")
    queue.join(owner="c")
    with pytest.raises(QueueFullError, match="busy — about 3 minutes") as err:
        queue.join(owner="d")
    assert "GEOFM" not in err.value.user_message()  # no operator details for visitors
    assert queue.waiting == 2
    # the estimate follows measured run times: a 6 s run pulls the 60 s guess down
    clock.now += 6.0
    queue.leave(first)
    assert queue.wait_minutes(2) == 2  # 2 x (0.7 x 60 + 0.3 x 6 = 43.8 s) -> 1.46 -> 2 min
    queue.wait_turn(second)  # b runs, one place in line is free
    assert queue.position(queue.join(owner="d")) == 2


def test_abandoned_run_leaves_the_queue_and_the_next_one_runs():
    queue = JobQueue(QueueLimits(max_waiting=10, runs_per_minute=100))
    gate = threading.Event()
    holder = threading.Thread(target=queue.run, args=(gate.wait, 10), kwargs={"owner": "holder"})
    holder.start()
    _wait_for(lambda: queue.busy)

    tab_open = threading.Event()
    tab_open.set()
    outcome: dict[str, object] = {}

    def visitor_run() -> None:
        try:
            queue.run(lambda: outcome.setdefault("ran", True), owner="gone", alive=tab_open.is_set)
        except RunAbandoned as err:
            outcome["abandoned"] = err

    ran_next = threading.Event()
    waiter = threading.Thread(target=visitor_run)
    waiter.start()
    _wait_for(lambda: queue.waiting == 1)
    behind = threading.Thread(target=queue.run, args=(ran_next.set,), kwargs={"owner": "next"})
    behind.start()
    _wait_for(lambda: queue.waiting == 2)
    assert queue.owners() == ["holder", "gone", "next"]

    tab_open.clear()  # the visitor closed the tab
    waiter.join(timeout=5)
    assert not waiter.is_alive()
    assert isinstance(outcome.get("abandoned"), RunAbandoned) and "ran" not in outcome
    assert queue.owners() == ["holder", "next"]  # left the line at once, not when its turn came
    queue.check_admission("gone")  # and frees its session's place

    gate.set()
    assert ran_next.wait(5), "the run behind the abandoned one did not get its turn"
    holder.join(5)
    behind.join(5)
    assert not queue.busy and queue.waiting == 0


def test_app_run_is_refused_before_searching_when_the_session_has_one_in_line(monkeypatch):
    import geofm.data

    def no_search(*a, **k):  # noqa: ANN002, ANN003
        raise AssertionError("a refused run must not search or read")

    monkeypatch.setattr(geofm.data, "load_task_stack", no_search)
    queue = JobQueue(QueueLimits(max_waiting=10, runs_per_minute=100))
    mine = queue.join("flood", owner="tab-1")
    request = RunRequest.for_area("flood", {"type": "Point", "coordinates": [0.0, 0.0]}, "2019-03-10",
                                  "2019-04-30", max_cloud=30)
    with pytest.raises(SessionLimitError):
        run_area(request, queue=queue, visitor=Visitor(id="tab-1"))
    queue.leave(mine)
    full = JobQueue(QueueLimits(max_waiting=1, runs_per_minute=100, job_seconds=30))
    full.join(owner="x")
    with pytest.raises(QueueFullError, match="about 1 minute for the runs"):
        run_area(request, queue=full, visitor=Visitor(id="tab-2"))


def test_app_visitor_is_gone_when_its_session_closes_or_it_asks_for_something_else(monkeypatch):
    """``ui.visitor()``: the session id, and a probe that turns False when the tab is closed (the runtime
    drops the session) or a stop/rerun is pending for this script run."""
    from types import SimpleNamespace

    import streamlit.runtime as st_runtime
    from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType

    from geofm.serve import ui

    sessions = {"tab-7"}
    requests = SimpleNamespace(_state=ScriptRequestType.CONTINUE)
    ctx = SimpleNamespace(session_id="tab-7", script_requests=requests)
    monkeypatch.setattr(ui, "get_script_run_ctx", lambda suppress_warning=False: ctx)
    monkeypatch.setattr(st_runtime, "exists", lambda: True)
    monkeypatch.setattr(st_runtime, "get_instance",
                        lambda: SimpleNamespace(is_active_session=lambda sid: sid in sessions))
    visitor = ui.visitor()
    assert visitor.id == "tab-7" and visitor.alive()
    requests._state = ScriptRequestType.RERUN  # pressed something else while waiting
    assert not visitor.alive()
    requests._state = ScriptRequestType.CONTINUE
    sessions.clear()  # tab closed: the runtime no longer knows the session
    assert not visitor.alive()
    monkeypatch.setattr(ui, "get_script_run_ctx", lambda suppress_warning=False: None)
    assert ui.visitor().id == "" and ui.visitor().alive is None  # outside the app: no limits, no probe


def test_a_fragment_timer_does_not_end_a_run_in_progress(monkeypatch):
    """A fragment on a timer (``st.fragment(run_every=...)``, as the warming-up note was) asks for a rerun every
    few seconds. Streamlit lets the running script finish before such a fragment run, so the visitor is still
    there: its run must go on (it was abandoned, and the page never showed the result). A rerun of the whole
    app or a fragment-scoped ``st.rerun`` does end the run."""
    from types import SimpleNamespace

    import streamlit.runtime as st_runtime
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData, ScriptRequests

    from geofm.serve import ui

    monkeypatch.setattr(st_runtime, "exists", lambda: False)

    def visitor_after(*reruns: RerunData):
        requests = ScriptRequests()
        ctx = SimpleNamespace(session_id="tab-3", script_requests=requests)
        monkeypatch.setattr(ui, "get_script_run_ctx", lambda suppress_warning=False: ctx)
        for rerun in reruns:
            assert requests.request_rerun(rerun)
        return ui.visitor(), requests

    visitor, requests = visitor_after(RerunData(fragment_id="warming-up-note"))
    assert visitor.alive() and requests.on_scriptrunner_yield() is None  # Streamlit agrees: not preempted
    visitor, requests = visitor_after(RerunData())  # the visitor pressed something: a full rerun
    assert not visitor.alive() and requests.on_scriptrunner_yield() is not None
    visitor, requests = visitor_after(RerunData(fragment_id="f", is_fragment_scoped_rerun=True))
    assert not visitor.alive() and requests.on_scriptrunner_yield() is not None
    visitor, requests = visitor_after(RerunData(fragment_id="warming-up-note"), RerunData())
    assert not visitor.alive()  # a timer, then a full rerun on top: over
