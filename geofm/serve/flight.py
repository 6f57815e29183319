"""Many users, one model: identical requests run once, and runs of the same model share forward passes.

* :class:`SingleFlight` — while a run for a key is in flight, an identical request waits for that run's
  result instead of starting its own (its outcome or its user-facing error). If the first run ends in any
  other way (its user left, a crash), one of the waiters runs it anew.
* :class:`SharedBatches` — runs of the same model that wait in the GPU queue at the same time join one
  *group*; the group takes one place in line, and when its turn comes the windows of all its runs go
  through the model together (``geofm.pipeline.run_segmentations``: one forward over windows of different
  runs, each result identical to that run alone). A group closes when its turn comes; later runs form the
  next one. Each run's progress is replayed in its own thread (Streamlit elements belong to the session's
  thread), so every user sees their own windows count.

Both are process-wide objects (``single_flight()``, ``shared_batches()``) used by ``geofm.serve.runs``.
"""

from __future__ import annotations

import queue as queue_mod
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from geofm.errors import GeofmError
from geofm.progress import Progress, null_progress
from geofm.serve.queue import JobQueue, RunAbandoned, Ticket

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Call(Generic[T]):
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class SingleFlight:
    """Run ``fn`` once per key among callers that overlap in time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, _Call] = {}

    def do(self, key: Hashable, fn: Callable[[], T], *, on_wait: Callable[[], None] | None = None,
           poll_s: float = 0.25) -> tuple[T, bool]:
        """``(fn(), False)`` for the first caller of ``key``; ``(its value, True)`` for callers that arrive
        while it runs. ``on_wait()`` is called by a waiter now and then (it may raise to give up waiting).
        """
        while True:
            with self._lock:
                found = self._calls.get(key)
                leader = found is None
                call: _Call = _Call() if found is None else found
                if leader:
                    self._calls[key] = call
            if leader:
                return self._lead(key, call, fn), False
            while not call.done.wait(poll_s):
                if on_wait is not None:
                    on_wait()
            if call.error is None:
                return call.value, True
            if isinstance(call.error, GeofmError):
                raise call.error  # the same inputs would fail the same way
            # the first run was abandoned or crashed: try again (one waiter becomes the new leader)

    def _lead(self, key: Hashable, call: _Call, fn: Callable[[], T]) -> T:
        try:
            call.value = fn()
            return call.value
        except BaseException as err:
            call.error = err
            raise
        finally:
            with self._lock:
                if self._calls.get(key) is call:
                    del self._calls[key]
            call.done.set()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._calls)


@dataclass(eq=False)  # identity: ``work in group.works`` must never compare the items (numpy stacks)
class _Work:
    item: Any
    progress: Progress
    owner: threading.Thread
    ticket: Ticket
    events: queue_mod.SimpleQueue = field(default_factory=queue_mod.SimpleQueue)
    result: Any = None
    error: BaseException | None = None

    def report(self, stage: str, message: str, fraction: float | None = None) -> None:
        """Progress from the group's thread: direct in the owner's thread, else queued for the owner."""
        if threading.current_thread() is self.owner:
            self.progress(stage, message, fraction)
        else:
            self.events.put((stage, message, fraction))

    def replay(self) -> None:
        while True:
            try:
                args = self.events.get_nowait()
            except queue_mod.Empty:
                return
            self.progress(*args)


@dataclass(eq=False)
class _Group:
    key: Hashable
    works: list[_Work] = field(default_factory=list)
    closed: bool = False
    ran: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    position: int = -1  # the group's place in the queue (0 = running)


Execute = Callable[[Hashable, Sequence[Any], Sequence[Progress]], Sequence[Any]]


class SharedBatches:
    """Groups runs of one key (model + settings) waiting in ``queue`` into one queued job.

    ``execute(key, items, progresses)`` runs all items of a group and returns one result per item.
    """

    def __init__(self, execute: Execute) -> None:
        self._execute = execute
        self._lock = threading.Lock()
        self._open: dict[Hashable, _Group] = {}

    def run(self, key: Hashable, item: Any, *, queue: JobQueue, progress: Progress = null_progress,
            on_wait: Callable[[int], None] | None = None, label: str = "", poll_s: float = 0.2,
            owner: str = "", alive: Callable[[], bool] | None = None, ticket: Ticket | None = None) -> Any:
        """The result of ``item``, computed in a group with the other runs of ``key`` waiting alongside.

        ``owner`` / ``alive``: the browser session, as for ``JobQueue.run`` (the group's place in line is
        its first run's ticket; a run whose ``alive()`` turns False stops waiting with RunAbandoned).
        ``ticket``: the run's admitted ticket (``JobQueue.admit``); without one, the run is admitted here —
        a run that joins a waiting group holds a ticket like any other, so the queue's limits count it.
        """
        if ticket is None:
            with queue.admitted(label, owner) as mine:
                return self.run(key, item, queue=queue, progress=progress, on_wait=on_wait, label=label,
                                poll_s=poll_s, owner=owner, alive=alive, ticket=mine)
        while True:
            work = _Work(item, progress, threading.current_thread(), ticket)
            with self._lock:
                found = self._open.get(key)
                leader = found is None
                group = _Group(key) if found is None else found
                if leader:
                    self._open[key] = group
                group.works.append(work)
            if leader:
                self._lead(group, queue, on_wait, label, ticket, alive)
            else:
                self._follow(group, work, on_wait, poll_s, alive)
            if group.ran:
                break
            # the group's leader left the line before its turn: queue again
        if work.error is not None:
            raise work.error
        return work.result

    def _lead(self, group: _Group, queue: JobQueue, on_wait: Callable[[int], None] | None, label: str,
              ticket: Ticket, alive: Callable[[], bool] | None) -> None:
        def waiting(position: int) -> None:
            group.position = position
            if on_wait is not None:
                on_wait(position)

        try:
            queue.run(self._run_group, group, queue, label=label, on_wait=waiting, alive=alive, ticket=ticket)
        finally:
            self._close(group)
            group.done.set()

    def _close(self, group: _Group) -> list[_Work]:
        with self._lock:
            group.closed = True
            if self._open.get(group.key) is group:
                del self._open[group.key]
            return list(group.works)

    def _run_group(self, group: _Group, queue: JobQueue) -> None:
        group.position = 0
        works = self._close(group)
        group.ran = True
        for w in works:
            queue.ride(w.ticket)  # the followers' runs are on the model now, not waiting
        try:
            results = self._execute(group.key, [w.item for w in works], [w.report for w in works])
        except BaseException as err:
            for w in works:
                w.error = err
            raise
        for w, result in zip(works, results):
            w.result = result

    def _follow(self, group: _Group, work: _Work, on_wait: Callable[[int], None] | None, poll_s: float,
                alive: Callable[[], bool] | None) -> None:
        last = None
        while not group.done.wait(poll_s):
            work.replay()
            if alive is not None and not alive() and not group.closed:
                with self._lock:  # gone before the group's turn: its windows are not run
                    if not group.closed and work in group.works:
                        group.works.remove(work)
                        raise RunAbandoned(f"{group.key}: its session is gone")
            if on_wait is not None and group.position != last and group.position > 0:
                last = group.position
                on_wait(last)
        work.replay()

    def waiting_groups(self) -> int:
        with self._lock:
            return len(self._open)


def _execute_segmentations(key: Hashable, items: Sequence[Any], progresses: Sequence[Progress]) -> list[Any]:
    from geofm import pipeline  # lazy: torch

    task = str(key[0]) if isinstance(key, tuple) else str(key)  # key: (task, weights folder[, model])
    model = str(key[2]) if isinstance(key, tuple) and len(key) > 2 and key[2] else None
    # probabilities too: the app shows each run's confidence (a run keeps only its float16 map of it)
    return pipeline.run_segmentations(task, list(items), progress=list(progresses),
                                      probabilities=[True] * len(items), model=model)


_FLIGHT = SingleFlight()
_SHARED = SharedBatches(lambda key, items, progresses: _execute_segmentations(key, items, progresses))


def single_flight() -> SingleFlight:
    """The process-wide single flight of app runs (keyed by RunRequest)."""
    return _FLIGHT


def shared_batches() -> SharedBatches:
    """The process-wide grouping of segmentation runs waiting for the model."""
    return _SHARED
