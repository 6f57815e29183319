"""One admission point for every app run (issue 18): the waiting cap, the per-session rate limit and the
one-run-per-session rule hold for runs that ride in a shared batch too, and the reads of admitted runs are
bounded, so a crowd passing admission at once cannot stampede the catalogue."""

from __future__ import annotations

import threading
import time

import pytest

import geofm.data
import geofm.pipeline
from geofm.config import QueueLimits
from geofm.errors import QueueFullError, SessionLimitError
from geofm.serve import runs
from geofm.serve.flight import SharedBatches
from geofm.serve.queue import JobQueue, RunAbandoned, Visitor
from geofm.serve.runs import ResultCache, RunRequest, run_area


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "condition not reached"
        time.sleep(0.005)


def _request(i: int, task: str = "flood") -> RunRequest:
    w = -95.93 + 0.001 * i  # a different area per session: no two requests are identical
    box = {"type": "Polygon", "coordinates": [[[w, 41.29], [w + 0.03, 41.29], [w + 0.03, 41.31], [w, 41.31],
                                               [w, 41.29]]]}
    return RunRequest.for_area(task, box, "2022-03-10", "2022-04-30", max_cloud=30)


@pytest.fixture()
def fake_pipeline(monkeypatch):
    """The app's run path with the search/read and the model replaced by counters (the queue logic is real)."""
    seen: dict[str, object] = {"reads": 0, "now": 0, "peak": 0, "model_items": []}
    lock = threading.Lock()
    delay = {"read_s": 0.0}

    def load_task_stack(task, aoi, start, end, **kwargs):  # noqa: ANN001, ANN003
        with lock:
            seen["reads"] += 1
            seen["now"] += 1
            seen["peak"] = max(seen["peak"], seen["now"])
        time.sleep(delay["read_s"])
        with lock:
            seen["now"] -= 1
        return object(), []

    def run_segmentations(task, items, progress=None, probabilities=None, model=None):  # noqa: ANN001
        seen["model_items"].append(len(items))
        return [f"result of {task}" for _ in items]

    monkeypatch.setattr(geofm.data, "load_task_stack", load_task_stack)
    monkeypatch.setattr(geofm.pipeline, "run_segmentations", run_segmentations)
    monkeypatch.setattr(runs, "_weights_first", lambda request, progress: None)
    return seen, delay


def test_thirty_sessions_against_a_cap_of_three_admit_exactly_three(fake_pipeline):
    """Thirty flood sessions at once while the model is busy: with a waiting cap of 3, exactly 3 runs are
    admitted (they search, read and share one batch), the 27 others are told the demo is busy. Before, the
    runs that joined the waiting batch took no ticket and all 30 were admitted."""
    seen, _ = fake_pipeline
    queue = JobQueue(QueueLimits(max_waiting=3, runs_per_minute=100, jobs_per_session=1, reads_at_once=30))
    blocker = queue.join("someone else's run", owner="blocker")
    queue.wait_turn(blocker)  # the model is busy
    start = threading.Barrier(30)
    outcomes: dict[int, object] = {}

    def session(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = run_area(_request(i), queue=queue, cache=ResultCache(), visitor=Visitor(id=f"s{i}"))
        except (QueueFullError, SessionLimitError) as err:
            outcomes[i] = err

    threads = [threading.Thread(target=session, args=(i,), daemon=True) for i in range(30)]
    for t in threads:
        t.start()
    _wait_for(lambda: len(outcomes) == 27)  # the refused ones are told at once, without waiting in line
    assert all(isinstance(o, QueueFullError) for o in outcomes.values())
    assert "busy" in next(iter(outcomes.values())).user_message()
    assert queue.admitted_count == 1 + 3  # the running blocker and exactly 3 waiting
    _wait_for(lambda: seen["reads"] == 3 and queue.waiting == 1)  # the admitted read, then wait as one batch
    time.sleep(0.1)
    assert seen["reads"] == 3 and queue.admitted_count == 4  # refused runs never searched nor read
    queue.leave(blocker)
    for t in threads:
        t.join(10)
    done = [o for o in outcomes.values() if isinstance(o, runs.RunOutcome)]
    assert len(done) == 3 and sum(seen["model_items"]) == 3
    assert queue.admitted_count == 0 and not queue.busy and queue.waiting == 0


def test_followers_of_a_shared_batch_count_against_the_rate_limit_and_the_one_run_rule():
    """One session that keeps joining a waiting batch (and leaving it) is held to its runs per minute, and
    cannot hold two runs at once. Before, it ran five follower runs in a minute against a limit of two."""
    clock = Clock()
    queue = JobQueue(QueueLimits(max_waiting=10, runs_per_minute=2, jobs_per_session=1), clock=clock)
    shared = SharedBatches(lambda key, items, progresses: [f"done {i}" for i in items])
    blocker = queue.join("other", owner="blocker")
    queue.wait_turn(blocker)
    leader = threading.Thread(target=shared.run, args=("flood", "lead"), daemon=True,
                              kwargs={"queue": queue, "owner": "leader", "poll_s": 0.01})
    leader.start()
    _wait_for(lambda: queue.waiting == 1)  # a batch waits in line
    refused: list[Exception] = []
    joined = 0
    for attempt in range(5):
        gone = threading.Event()
        out: dict[str, object] = {}

        def follow(gone=gone, out=out, attempt=attempt) -> None:  # noqa: ANN001
            try:
                out["r"] = shared.run("flood", f"f{attempt}", queue=queue, owner="flooder", poll_s=0.01,
                                      alive=lambda: not gone.is_set())
            except (RunAbandoned, SessionLimitError) as err:
                out["r"] = err

        t = threading.Thread(target=follow, daemon=True)
        t.start()
        _wait_for(lambda out=out: "r" in out or queue.admitted_count == 3)  # refused, or riding along in the batch
        if "r" not in out:
            joined += 1
            with pytest.raises(SessionLimitError, match="already have a run"):  # one run at a time
                shared.run("flood", "again", queue=queue, owner="flooder")
        gone.set()
        t.join(5)
        if isinstance(out["r"], SessionLimitError):
            refused.append(out["r"])
        clock.now += 5.0  # five tries within 25 s
    assert joined == 2 and len(refused) == 3
    assert "started 2 runs in the last minute" in str(refused[0])
    queue.leave(blocker)
    leader.join(5)
    assert queue.admitted_count == 0


def test_reads_of_admitted_runs_are_bounded(fake_pipeline):
    """Twelve sessions pass admission at once; their searches and reads run at most ``reads_at_once`` (2) at a
    time, and every one of them still gets its result."""
    seen, delay = fake_pipeline
    delay["read_s"] = 0.1
    queue = JobQueue(QueueLimits(max_waiting=30, runs_per_minute=100, reads_at_once=2))
    start = threading.Barrier(12)
    results: list[object] = []

    def session(i: int) -> None:
        start.wait()
        results.append(run_area(_request(i), queue=queue, cache=ResultCache(), visitor=Visitor(id=f"r{i}")))

    threads = [threading.Thread(target=session, args=(i,), daemon=True) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 12 and seen["reads"] == 12
    assert seen["peak"] == 2  # never more than the bound, and the bound is used
    assert queue.reads == 0 and queue.admitted_count == 0


def test_a_run_waiting_to_read_leaves_when_its_session_is_gone():
    queue = JobQueue(QueueLimits(reads_at_once=1))
    with queue.reading():
        gone = threading.Event()
        out: dict[str, object] = {}

        def wait_to_read() -> None:
            try:
                with queue.reading(alive=lambda: not gone.is_set(), poll_s=0.01):
                    out["read"] = True
            except RunAbandoned as err:
                out["abandoned"] = err

        t = threading.Thread(target=wait_to_read, daemon=True)
        t.start()
        time.sleep(0.05)
        assert out == {} and queue.reads == 1
        gone.set()
        t.join(5)
        assert "abandoned" in out
    assert queue.reads == 0


def test_reads_at_once_comes_from_the_operator_environment():
    from geofm.settings import SettingsError

    assert QueueLimits.from_env({"GEOFM_READS_AT_ONCE": "5"}).reads_at_once == 5
    with pytest.raises(SettingsError, match="GEOFM_READS_AT_ONCE must be a whole number > 0, got '0'"):
        QueueLimits.from_env({"GEOFM_READS_AT_ONCE": "0"})
