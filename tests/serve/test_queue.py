"""The GPU job queue: FIFO order, one job at a time, position reporting, release on exceptions."""

import threading
import time

import pytest

from geofm.serve.queue import JobQueue


def _start(target, *args):
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def test_jobs_run_one_at_a_time_in_arrival_order():
    queue = JobQueue()
    order: list[int] = []
    active = []
    peak = []
    gate = threading.Event()

    def job(i):
        active.append(i)
        peak.append(len(active))
        if i == 0:
            gate.wait(5)
        time.sleep(0.01)
        order.append(i)
        active.remove(i)

    first = _start(queue.run, job, 0)
    while not queue.busy:
        time.sleep(0.001)
    threads = []
    for i in range(1, 6):
        threads.append(_start(queue.run, job, i))
        while queue.waiting < i:  # make arrival order deterministic
            time.sleep(0.001)
    gate.set()
    for t in [first, *threads]:
        t.join(5)
    assert order == [0, 1, 2, 3, 4, 5]
    assert max(peak) == 1
    assert not queue.busy and queue.waiting == 0


def test_waiters_see_their_place_in_line_count_down():
    queue = JobQueue()
    gate = threading.Event()
    seen: dict[str, list[int]] = {"b": [], "c": []}
    holder = _start(queue.run, gate.wait, 5)
    while not queue.busy:
        time.sleep(0.001)
    c_moved_up = threading.Event()

    def b_job():
        c_moved_up.wait(5)  # B holds the slot until C has seen itself move to place 1

    b = _start(lambda: queue.run(b_job, on_wait=seen["b"].append))
    while queue.waiting < 1:
        time.sleep(0.001)
    def c_report(position):
        seen["c"].append(position)
        if position == 1:
            c_moved_up.set()

    c = _start(lambda: queue.run(lambda: None, on_wait=c_report))
    while queue.waiting < 2:
        time.sleep(0.001)
    time.sleep(0.05)
    assert seen["b"] == [1]
    assert seen["c"] == [2]
    gate.set()
    for t in (holder, b, c):
        t.join(5)
    assert seen["c"] == [2, 1]


def test_position_of_tickets():
    queue = JobQueue()
    running = queue.join("a")
    queue.wait_turn(running)
    t2, t3 = queue.join("b"), queue.join("c")
    assert (queue.position(running), queue.position(t2), queue.position(t3)) == (0, 1, 2)
    queue.leave(t2)
    assert queue.position(t3) == 1 and queue.position(t2) == -1
    queue.leave(running)
    assert queue.position(t3) == 1  # free slot, t3 is next
    queue.wait_turn(t3)
    assert queue.position(t3) == 0


def test_exception_in_job_releases_the_slot_and_propagates():
    queue = JobQueue()

    def boom():
        raise ValueError("model failed")

    with pytest.raises(ValueError, match="model failed"):
        queue.run(boom)
    assert not queue.busy
    assert queue.run(lambda: 42) == 42


def test_waiter_that_gives_up_leaves_the_line():
    queue = JobQueue()
    gate = threading.Event()
    holder = _start(queue.run, gate.wait, 5)
    while not queue.busy:
        time.sleep(0.001)

    class Stopped(Exception):
        pass

    def stop(position):
        raise Stopped

    with pytest.raises(Stopped):
        queue.run(lambda: None, on_wait=stop)
    assert queue.waiting == 0
    gate.set()
    holder.join(5)
    assert queue.run(lambda: "next") == "next"
