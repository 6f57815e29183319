"""Issue 9, point 14 (in process): a run that raises frees the GPU slot at once and is never cached."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from geofm import pipeline
from geofm.errors import DeviceOutOfMemoryError
from geofm.serve.queue import JobQueue
from geofm.serve.runs import ResultCache, RunRequest, run_files
from geofm.stack import HLSStack
from tests.geotiff_helpers import hls_like, write_tif


def test_a_run_that_raises_frees_the_slot_for_the_next_in_line_at_once(monkeypatch, tmp_path):
    queue, cache = JobQueue(), ResultCache()
    entered = threading.Event()
    release = threading.Event()
    calls = []

    def model(task, stack, **kw):
        calls.append(task)
        if len(calls) == 1:
            entered.set()
            release.wait(10)
            raise DeviceOutOfMemoryError("The GPU ran out of memory.")
        return "result"

    monkeypatch.setattr(pipeline, "run_task", model)
    # class-map runs waiting together go through one shared forward (issue 13): the same stub, per stack
    monkeypatch.setattr(pipeline, "run_segmentations",
                        lambda task, stacks, **kw: [model(task, s) for s in stacks])
    monkeypatch.setattr(pipeline, "ensure_model_weights", lambda *a, **kw: None)  # the model is the stub above
    path = write_tif(tmp_path / "a.tif", hls_like(1, 30, 30)[0])
    first = RunRequest(task="flood", upload_digest="a")
    second = RunRequest(task="flood", upload_digest="b")
    outcome: dict = {}

    def run(name, request):
        try:
            outcome[name] = run_files(request, [path], queue=queue, cache=cache)
        except DeviceOutOfMemoryError as err:
            outcome[name] = err

    a = threading.Thread(target=run, args=("a", first))
    a.start()
    assert entered.wait(10)
    b = threading.Thread(target=run, args=("b", second))
    b.start()
    while queue.waiting < 1:
        time.sleep(0.005)
    failed_at = time.monotonic()
    release.set()
    b.join(10)
    a.join(10)
    took = time.monotonic() - failed_at
    assert isinstance(outcome["a"], DeviceOutOfMemoryError)
    assert outcome["b"].result == "result" and took < 0.5  # the waiter ran as soon as the failure freed the slot
    assert not queue.busy and queue.waiting == 0
    assert cache.get(first) is None and cache.get(second) is not None  # a failed run is never cached


def test_a_failing_run_does_not_poison_the_queue_for_later_runs():
    queue = JobQueue()
    stack = HLSStack(np.zeros((1, 6, 2, 2), np.int16), np.ones((1, 2, 2), bool), CRS.from_epsg(32614),
                     Affine(30, 0, 0, 0, -30, 0))
    for _ in range(3):
        with pytest.raises(RuntimeError, match="boom"):  # the failure reaches the caller (it passed silently if not)
            queue.run(lambda s: (_ for _ in ()).throw(RuntimeError("boom")), stack)
        assert not queue.busy
    assert queue.run(lambda s: s.shape, stack) == (2, 2)
