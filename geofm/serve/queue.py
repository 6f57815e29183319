"""A process-wide FIFO ticket queue: one job at a time on the accelerator, many sessions waiting in line.

A job runs in the caller's own thread (Streamlit widgets keep working); the queue only decides whose
turn it is. Waiters learn their place in line through ``on_wait(position)``; position 1 = next.

Admission control keeps a public demo fair (limits: :class:`geofm.config.QueueLimits`, set by the
operator): a ticket with an ``owner`` (a browser session id) is refused when that owner already has
``jobs_per_session`` tickets queued or running, when it joined ``runs_per_minute`` times in the last
minute, or when ``max_waiting`` tickets already wait — with an estimate of the wait ("about N minutes")
instead of an unbounded one. A waiter whose ``alive()`` turns False (tab closed, session gone) leaves
the line. Tickets without an owner (CLI, library, tests) are not limited.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

from geofm.config import QueueLimits
from geofm.errors import QueueFullError, SessionLimitError

T = TypeVar("T")

_RATE_WINDOW_S = 60.0
_EWMA = 0.3  # weight of the newest run in the measured run time


class RunAbandoned(Exception):
    """The visitor who asked for this run is gone; it left the queue without running."""


@dataclass(frozen=True)
class Visitor:
    """Who asks for a run: a browser session id ("" = nobody in particular) and a liveness probe."""

    id: str = ""
    alive: Callable[[], bool] | None = None


ANONYMOUS = Visitor()


@dataclass(frozen=True)
class Ticket:
    """A place in line. ``number`` increases in arrival order; ``owner`` is the browser session ("" = none)."""

    number: int
    label: str = ""
    owner: str = ""


class JobQueue:
    """FIFO ticket queue with one running slot and per-owner admission limits."""

    def __init__(self, limits: QueueLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[Ticket] = deque()
        self._running: Ticket | None = None
        self._numbers = itertools.count(1)
        self._clock = clock
        self.limits = limits if limits is not None else QueueLimits()
        self._joined: dict[str, deque[float]] = {}  # owner -> join times within the rate window
        self._measured: float | None = None  # measured (EWMA) seconds a job holds the slot
        self._started_at = 0.0

    # ------------------------------------------------------------------ admission

    @property
    def _run_seconds(self) -> float:
        return self._measured if self._measured is not None else float(self.limits.job_seconds)

    def wait_minutes(self, ahead: int | None = None) -> int:
        """Rough minutes until a run joining now would start (at least 1)."""
        with self._cond:
            if ahead is None:
                ahead = len(self._waiting) + (self._running is not None)
            return max(1, math.ceil(ahead * self._run_seconds / 60.0))

    def _active(self, owner: str) -> int:
        running = 1 if self._running is not None and self._running.owner == owner else 0
        return running + sum(1 for t in self._waiting if t.owner == owner)

    def _recent(self, owner: str, now: float) -> deque[float]:
        times = self._joined.setdefault(owner, deque())
        while times and now - times[0] >= _RATE_WINDOW_S:
            times.popleft()
        if not times:
            del self._joined[owner]
            return deque()
        return times

    def _check(self, owner: str, now: float) -> None:
        """Raise the matching BusyError when ``owner`` may not join now (call with the lock held)."""
        if not owner:
            return
        limits = self.limits
        if self._active(owner) >= limits.jobs_per_session:
            raise SessionLimitError("You already have a run waiting or in progress. It continues on its own; "
                                    "start another one when it has finished.")
        recent = self._recent(owner, now)
        if len(recent) >= limits.runs_per_minute:
            wait_s = max(1, math.ceil(_RATE_WINDOW_S - (now - recent[0])))
            raise SessionLimitError(f"You have started {len(recent)} runs in the last minute; please wait "
                                    f"{wait_s} s before the next one. Results you already ran come back at once.")
        if len(self._waiting) >= limits.max_waiting:
            ahead = len(self._waiting) + (self._running is not None)
            minutes = max(1, math.ceil(ahead * self._run_seconds / 60.0))
            raise QueueFullError(f"The demo is busy — about {minutes} minute{'s' if minutes != 1 else ''} "
                                 f"for the runs already in line. Please try again then.")

    def check_admission(self, owner: str = "") -> None:
        """Raise now if ``owner`` could not join (lets the app refuse before searching and reading)."""
        with self._cond:
            self._check(owner, self._clock())

    # ------------------------------------------------------------------ line

    def join(self, label: str = "", owner: str = "") -> Ticket:
        """Take a ticket at the back of the line (BusyError when admission refuses it)."""
        with self._cond:
            now = self._clock()
            self._check(owner, now)
            ticket = Ticket(next(self._numbers), label, owner)
            if owner:
                self._joined.setdefault(owner, deque()).append(now)
            self._waiting.append(ticket)
            self._cond.notify_all()
            return ticket

    def position(self, ticket: Ticket) -> int:
        """0 while the ticket's job runs, n >= 1 = place in line while waiting (1 = next), -1 if gone."""
        with self._cond:
            return self._position(ticket)

    def _position(self, ticket: Ticket) -> int:
        if self._running == ticket:
            return 0
        try:
            index = self._waiting.index(ticket)
        except ValueError:
            return -1
        return index + 1

    def wait_turn(self, ticket: Ticket, on_wait: Callable[[int], None] | None = None,
                  poll_s: float = 0.25, alive: Callable[[], bool] | None = None) -> None:
        """Block until ``ticket`` is at the front and the slot is free; then it holds the slot.

        ``on_wait(position)`` is called (outside the lock) whenever the position changes. If it raises
        (e.g. the user's session stopped), the ticket leaves the line and the exception propagates.
        ``alive()`` is asked every ``poll_s`` while waiting; when it returns False the ticket leaves the
        line and :class:`RunAbandoned` is raised.
        """
        last = None
        while True:
            with self._cond:
                if self._running is None and self._waiting and self._waiting[0] == ticket:
                    self._waiting.popleft()
                    self._running = ticket
                    self._started_at = self._clock()
                    self._cond.notify_all()  # everyone behind moved up one place
                    return
                position = self._position(ticket)
                if position == -1:
                    raise RuntimeError(f"ticket {ticket.number} is not in the queue")
                if position == last:
                    self._cond.wait(timeout=poll_s)
                    changed = False
                else:
                    changed = True
            if alive is not None and not _alive(alive):
                self.leave(ticket)
                raise RunAbandoned(f"ticket {ticket.number} ({ticket.label}): its session is gone")
            if not changed:
                continue
            last = position
            if on_wait is not None:
                try:
                    on_wait(position)
                except BaseException:
                    self.leave(ticket)
                    raise

    def leave(self, ticket: Ticket) -> None:
        """Give up the slot or the place in line (idempotent)."""
        with self._cond:
            if self._running == ticket:
                self._running = None
                held = self._clock() - self._started_at
                self._measured = (1 - _EWMA) * self._run_seconds + _EWMA * max(held, 0.0)
            else:
                try:
                    self._waiting.remove(ticket)
                except ValueError:
                    pass
            self._cond.notify_all()

    @contextmanager
    def slot(self, label: str = "", on_wait: Callable[[int], None] | None = None, *, owner: str = "",
             alive: Callable[[], bool] | None = None) -> Iterator[Ticket]:
        """Wait for the turn, hold the slot inside the block, release it however the block ends."""
        ticket = self.join(label, owner)
        try:
            self.wait_turn(ticket, on_wait, alive=alive)
            yield ticket
        finally:
            self.leave(ticket)

    def run(self, fn: Callable[..., T], *args, label: str = "", on_wait: Callable[[int], None] | None = None,
            owner: str = "", alive: Callable[[], bool] | None = None, **kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` when it is this caller's turn; exceptions propagate after release."""
        with self.slot(label, on_wait, owner=owner, alive=alive):
            return fn(*args, **kwargs)

    @property
    def waiting(self) -> int:
        """Number of jobs waiting (not counting the running one)."""
        with self._cond:
            return len(self._waiting)

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._running is not None

    def owners(self) -> list[str]:
        """Owners of the running and waiting tickets, in line order (running first)."""
        with self._cond:
            head = [self._running.owner] if self._running is not None else []
            return head + [t.owner for t in self._waiting]


def _alive(alive: Callable[[], bool]) -> bool:
    try:
        return bool(alive())
    except Exception:  # a broken liveness probe must not drop a visitor
        return True


_DEFAULT = JobQueue(QueueLimits.from_env())


def gpu_queue() -> JobQueue:
    """The one queue of this process (all Streamlit sessions share it)."""
    return _DEFAULT
