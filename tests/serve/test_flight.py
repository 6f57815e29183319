"""Many users, one model: single flight of identical requests, shared batches across runs (bit-exact)."""

import threading
import time

import numpy as np
import pytest
import torch
from affine import Affine
from rasterio.crs import CRS

from geofm.config import get_model_spec
from geofm.errors import InputError
from geofm.models.fold import fold_segmenter
from geofm.models.onednn import use_onednn_linears
from geofm.inference.segment import segment_stack, segment_stacks
from geofm.models import create_model
from geofm.serve import flight, runs
from geofm.serve.flight import SharedBatches, SingleFlight
from geofm.serve.queue import JobQueue
from geofm.stack import HLSStack
from tests.checkpoints import tiny_segmenter
from tests.geotiff_helpers import hls_like

CPU = torch.device("cpu")


def _stack(t: int, h: int, w: int, seed: int) -> HLSStack:
    valid = np.ones((t, h, w), bool)
    valid[:, :3, :4] = False
    return HLSStack(hls_like(t, h, w, seed), valid, CRS.from_epsg(32614), Affine(30, 0, 700000, 0, -30, 4600000))


def _threads(n, target):
    barrier = threading.Barrier(n)
    out = [None] * n
    errors = [None] * n

    def body(i):
        barrier.wait()
        try:
            out[i] = target(i)
        except BaseException as err:  # noqa: BLE001
            errors[i] = err

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out, errors


# ---------------------------------------------------------------------------------------------------------
# Shared batches: equal to each run alone, bit for bit (CPU fp32)
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["flood", "crops"])
def test_shared_batches_equal_each_run_alone_bit_for_bit_tiny(task):
    spec = get_model_spec(task)
    torch.manual_seed(0)
    arch = tiny_segmenter(num_frames=spec.num_frames, num_classes=len(spec.classes))
    model = fold_segmenter(create_model(spec, arch=arch))
    stacks = [_stack(spec.num_frames, h, w, seed) for seed, (h, w) in enumerate([(64, 64), (100, 90), (64, 130)])]
    alone = [segment_stack(model, spec, s, device=CPU, batch_size=3, precision="fp32", probabilities=True)
             for s in stacks]
    together = segment_stacks(model, spec, stacks, device=CPU, batch_size=3, precision="fp32", probabilities=True)
    assert len(together) == 3
    for a, b, s in zip(alone, together, stacks):
        assert b.classes.shape == s.shape
        np.testing.assert_array_equal(a.classes, b.classes)
        np.testing.assert_array_equal(a.probabilities, b.probabilities)  # exact, not close
        assert (b.classes[:3, :4] == 255).all() and b.precision == "fp32"


@pytest.mark.slow
def test_shared_batches_equal_each_run_alone_bit_for_bit_full_size_flood():
    """Full-size flood model with oneDNN linears: windows of two runs mixed in batches of 2."""
    spec = get_model_spec("flood")
    torch.manual_seed(0)
    model = fold_segmenter(create_model(spec))
    assert use_onednn_linears(model) == 48
    stacks = [_stack(1, 224, 224, 1), _stack(1, 224, 336, 2)]  # 1 and 2 windows: batches [a, b0], [b1, pad]
    seen = []
    model.register_forward_pre_hook(lambda mod, args: seen.append(args[0].shape[0]))
    alone = [segment_stack(model, spec, s, device=CPU, batch_size=2, precision="fp32", probabilities=True)
             for s in stacks]
    together = segment_stacks(model, spec, stacks, device=CPU, batch_size=2, precision="fp32", probabilities=True)
    assert seen == [2, 2, 2, 2]  # every forward has exactly the batch size (the last ones padded)
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a.probabilities, b.probabilities)
        np.testing.assert_array_equal(a.classes, b.classes)


def test_progress_per_run_when_batches_are_shared():
    spec = get_model_spec("flood")
    model = fold_segmenter(create_model(spec, arch=tiny_segmenter(num_classes=2)))
    seen = {0: [], 1: []}
    stacks = [_stack(1, 64, 64, 0), _stack(1, 224, 448, 1)]
    segment_stacks(model, spec, stacks, device=CPU, batch_size=2,
                   progress=[lambda *a, i=i: seen[i].append(a) for i in (0, 1)])
    assert seen[0][0] == ("infer", "window 0 of 1 on CPU", 0.0) and seen[0][-1][2] == 1.0
    assert seen[1][0] == ("infer", "window 0 of 3 on CPU", 0.0) and seen[1][-1] == ("infer", "window 3 of 3 on CPU", 1.0)


# ---------------------------------------------------------------------------------------------------------
# SharedBatches: runs waiting in line together become one queued job
# ---------------------------------------------------------------------------------------------------------

def test_runs_waiting_together_share_one_queued_job():
    calls = []

    def execute(key, items, progresses):
        calls.append((key, list(items), threading.current_thread().name))
        for i, p in zip(items, progresses):
            p("infer", f"window of {i}", 1.0)
        return [i * 10 for i in items]

    shared = SharedBatches(execute)
    queue = JobQueue()
    blocker = queue.join("other")
    queue.wait_turn(blocker)  # someone else holds the model
    positions, seen = [], {i: [] for i in range(4)}
    seen_threads = {i: set() for i in range(4)}

    def progress_of(i):
        def p(*args):
            seen[i].append(args)
            seen_threads[i].add(threading.current_thread().name)
        return p

    def one(i):
        return shared.run(("flood", ""), i, queue=queue, progress=progress_of(i), on_wait=positions.append)

    results = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, one(i)), name=f"user{i}")
               for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 5
    while shared.waiting_groups() != 1 or queue.waiting != 1 or not _group_size(shared, 4):
        assert time.time() < deadline
        time.sleep(0.01)
    queue.leave(blocker)
    for t in threads:
        t.join(10)
    assert results == {0: 0, 1: 10, 2: 20, 3: 30}
    assert len(calls) == 1 and calls[0][0] == ("flood", "") and sorted(calls[0][1]) == [0, 1, 2, 3]
    assert 1 in positions  # the group waited in line behind the other job
    for i in range(4):
        assert ("infer", f"window of {i}", 1.0) in seen[i]
        assert seen_threads[i] == {f"user{i}"}  # progress is replayed in each user's own thread
    assert shared.waiting_groups() == 0 and not queue.busy


def _group_size(shared, n):
    with shared._lock:
        return sum(len(g.works) for g in shared._open.values()) == n


def test_a_group_whose_leader_leaves_the_line_queues_again():
    shared = SharedBatches(lambda key, items, progresses: [f"done {i}" for i in items])
    queue = JobQueue()
    blocker = queue.join("other")
    queue.wait_turn(blocker)  # running
    ahead = queue.join("ahead")  # waiting, number 1 in line
    leave = threading.Event()
    out = {}

    def impatient(position):
        if leave.is_set():
            raise KeyboardInterrupt("user left")

    def leader():
        try:
            shared.run("k", "a", queue=queue, on_wait=impatient, poll_s=0.01)
        except KeyboardInterrupt:
            out["a"] = "left"

    t1 = threading.Thread(target=leader)
    t1.start()
    while queue.waiting != 2:
        time.sleep(0.01)
    t2 = threading.Thread(target=lambda: out.__setitem__("b", shared.run("k", "b", queue=queue, poll_s=0.01)))
    t2.start()
    while not _group_size(shared, 2):
        time.sleep(0.01)
    leave.set()
    queue.leave(ahead)  # the leader moves up, is told its new place, and leaves the line
    t1.join(5)
    assert out == {"a": "left"}
    while queue.waiting != 1:  # b queued again, as the leader of a new group
        time.sleep(0.01)
    queue.leave(blocker)
    t2.join(5)
    assert out == {"a": "left", "b": "done b"}


@pytest.mark.parametrize("items", [("a", "b"), (np.zeros((1, 6, 129, 84)), np.zeros((1, 6, 75, 139)))],
                         ids=["labels", "stacks-of-other-shapes"])
def test_a_follower_whose_session_is_gone_leaves_its_group(items):
    """Also when the group holds stacks of other shapes: the follower is found by identity, never by comparing
    arrays (that raised "operands could not be broadcast" in the app under load)."""
    from geofm.serve.queue import RunAbandoned

    a, b = items
    ran = []
    shared = SharedBatches(lambda key, items, progresses: ran.extend(items) or [f"done {len(ran)}" for _ in items])
    queue = JobQueue()
    blocker = queue.join("other")
    queue.wait_turn(blocker)
    gone = threading.Event()
    out = {}

    def follower():
        try:
            shared.run("k", b, queue=queue, poll_s=0.01, alive=lambda: not gone.is_set())
        except RunAbandoned:
            out["b"] = "abandoned"

    t1 = threading.Thread(target=lambda: out.__setitem__("a", shared.run("k", a, queue=queue, poll_s=0.01)))
    t1.start()
    while queue.waiting != 1:
        time.sleep(0.01)
    t2 = threading.Thread(target=follower)
    t2.start()
    while not _group_size(shared, 2):
        time.sleep(0.01)
    gone.set()
    t2.join(5)
    queue.leave(blocker)
    t1.join(5)
    assert out == {"a": "done 1", "b": "abandoned"} and len(ran) == 1 and ran[0] is a


def test_a_failed_group_fails_each_run_with_the_error():
    def execute(key, items, progresses):
        raise InputError("The area is empty.")

    shared = SharedBatches(execute)
    with pytest.raises(InputError, match="area is empty"):
        shared.run("k", 1, queue=JobQueue())


# ---------------------------------------------------------------------------------------------------------
# Single flight
# ---------------------------------------------------------------------------------------------------------

def test_identical_requests_arriving_together_run_once():
    sf = SingleFlight()
    counter = {"calls": 0}
    lock = threading.Lock()

    def compute():
        with lock:
            counter["calls"] += 1
        time.sleep(0.3)
        return object()

    out, errors = _threads(5, lambda i: sf.do("same", compute))
    assert errors == [None] * 5 and counter["calls"] == 1
    values = {id(v) for v, _ in out}
    assert len(values) == 1 and sorted(shared for _, shared in out) == [False, True, True, True, True]
    assert sf.in_flight() == 0
    sf.do("same", compute)  # later: runs again (the results cache, not the flight, keeps old results)
    assert counter["calls"] == 2


def test_single_flight_shares_user_errors_but_retries_after_a_crash():
    sf = SingleFlight()
    calls = []

    def bad_input():
        calls.append(1)
        time.sleep(0.2)
        raise InputError("No scenes.")

    _out, errors = _threads(3, lambda i: sf.do("k", bad_input))
    assert len(calls) == 1 and all(isinstance(e, InputError) for e in errors)

    attempts = []

    def crash_once():
        attempts.append(threading.current_thread().name)
        time.sleep(0.2)
        if len(attempts) == 1:
            raise RuntimeError("the first user's session stopped")
        return "ok"

    out, errors = _threads(3, lambda i: sf.do("k2", crash_once))
    assert len(attempts) == 2  # the crash, then one waiter ran it again for everyone left
    assert sum(isinstance(e, RuntimeError) for e in errors) == 1
    assert [v for v, _ in filter(None, out)] == ["ok", "ok"]


def test_app_runs_identical_uploads_once_and_count_model_calls(monkeypatch, tmp_path):
    """Four sessions upload the same file at once: one read, one model call, four outcomes."""
    model_calls, reads = [], []
    stack = _stack(1, 64, 64, 0)

    def fake_read(paths, **kw):
        reads.append(paths)
        time.sleep(0.3)
        return stack

    def fake_execute(key, items, progresses):
        model_calls.append(len(items))
        return [f"result {key[0]}"] * len(items)

    monkeypatch.setattr(runs, "read_input_stack", fake_read)  # runs.py takes it at import
    monkeypatch.setattr(flight, "_execute_segmentations", fake_execute)
    if hasattr(runs, "_weights_first"):
        monkeypatch.setattr(runs, "_weights_first", lambda request, progress: None)  # no weights needed here
    cache = runs.ResultCache()
    request = runs.RunRequest.for_upload("flood", [("a.tif", b"abc")])
    out, errors = _threads(4, lambda i: runs.run_files(request, [tmp_path / "a.tif"], queue=JobQueue(),
                                                        cache=cache))
    assert errors == [None] * 4
    assert len(reads) == 1 and model_calls == [1]
    assert {o.result for o in out} == {"result flood"}
    assert sorted(o.from_cache for o in out) == [False, True, True, True]
    assert cache.get(request) is not None
