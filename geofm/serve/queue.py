"""A process-wide FIFO ticket queue: one job at a time on the accelerator, many sessions waiting in line.

A job runs in the caller's own thread (Streamlit widgets keep working); the queue only decides whose
turn it is. Waiters learn their place in line through ``on_wait(position)``; position 1 = next.

Admission control keeps a public demo fair (limits: :class:`geofm.config.QueueLimits`, set by the
operator). Every run takes a ticket at one admission point, :meth:`JobQueue.admit`, before it searches or
reads — whether it later waits in line on its own, rides in a shared batch (``geofm.serve.flight``) or
waits for an identical run. A ticket with an ``owner`` (a browser session id) is refused when that owner
already holds ``jobs_per_session`` tickets, when it took ``runs_per_minute`` tickets in the last minute, or
when ``max_waiting`` admitted runs already wait (anything admitted and not on the model) — with an
estimate of the wait ("about N minutes") instead of an unbounded one. A ticket is held until the run ends
(:meth:`JobQueue.leave`). Searching and reading of admitted runs go through :meth:`JobQueue.reading`, at
most ``reads_at_once`` at a time. A waiter whose ``alive()`` turns False (tab closed, session gone)
leaves the line. Tickets without an owner (CLI, library, tests) are not limited.
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
        self._admitted: dict[Ticket, None] = {}  # every ticket from admission to leave, in order
        self._riding: set[Ticket] = set()  # tickets on the model inside the running ticket's job
        self._reads = 0  # admitted runs searching or reading now
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
                ahead = self._held() + (self._running is not None)
            return max(1, math.ceil(ahead * self._run_seconds / 60.0))

    def _held(self) -> int:
        """Admitted tickets not on the model: in line, searching, reading, or in a batch not yet run."""
        return sum(1 for t in self._admitted if t != self._running and t not in self._riding)

    def _active(self, owner: str) -> int:
        return sum(1 for t in self._admitted if t.owner == owner)

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
        held = self._held()
        if held >= limits.max_waiting:
            ahead = held + (self._running is not None)
            minutes = max(1, math.ceil(ahead * self._run_seconds / 60.0))
            raise QueueFullError(f"The demo is busy — about {minutes} minute{'s' if minutes != 1 else ''} "
                                 f"for the runs already in line. Please try again then.")

    def check_admission(self, owner: str = "") -> None:
        """Raise now if ``owner`` could not be admitted (takes nothing)."""
        with self._cond:
            self._check(owner, self._clock())

    def admit(self, label: str = "", owner: str = "") -> Ticket:
        """The one admission point: a ticket for a run (BusyError when the limits refuse it).

        The ticket counts against the limits until :meth:`leave`; it is not yet in line (:meth:`enter`).
        """
        with self._cond:
            now = self._clock()
            self._check(owner, now)
            ticket = Ticket(next(self._numbers), label, owner)
            if owner:
                self._joined.setdefault(owner, deque()).append(now)
            self._admitted[ticket] = None
            return ticket

    @contextmanager
    def admitted(self, label: str = "", owner: str = "") -> Iterator[Ticket]:
        """An admitted ticket for the block; it leaves (line, slot, admission) however the block ends."""
        ticket = self.admit(label, owner)
        try:
            yield ticket
        finally:
            self.leave(ticket)

    @contextmanager
    def reading(self, alive: Callable[[], bool] | None = None, poll_s: float = 0.25) -> Iterator[None]:
        """Hold one of the ``reads_at_once`` places for searching and reading (waits for one to free up).

        ``alive()`` is asked while waiting; when it turns False, :class:`RunAbandoned` is raised.
        """
        with self._cond:
            while self._reads >= max(1, self.limits.reads_at_once):
                self._cond.wait(timeout=poll_s)
                if alive is not None and not _alive(alive):
                    raise RunAbandoned("its session is gone while waiting to read")
            self._reads += 1
        try:
            yield
        finally:
            with self._cond:
                self._reads -= 1
                self._cond.notify_all()

    @property
    def reads(self) -> int:
        """Runs searching or reading now."""
        with self._cond:
            return self._reads

    # ------------------------------------------------------------------ line

    def enter(self, ticket: Ticket) -> Ticket:
        """Put an admitted ticket at the back of the line."""
        with self._cond:
            if ticket not in self._admitted:
                raise RuntimeError(f"ticket {ticket.number} was not admitted (or has left)")
            if ticket != self._running and ticket not in self._waiting:
                self._waiting.append(ticket)
            self._cond.notify_all()
            return ticket

    def join(self, label: str = "", owner: str = "") -> Ticket:
        """Admit a ticket and put it at the back of the line (BusyError when admission refuses it)."""
        return self.enter(self.admit(label, owner))

    def ride(self, ticket: Ticket) -> None:
        """Count an admitted ticket as on the model: its run goes with the running ticket's job (a batch)."""
        with self._cond:
            if ticket in self._admitted:
                self._riding.add(ticket)
                self._cond.notify_all()

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
        """Give up the slot or the place in line, and the admission (idempotent)."""
        with self._cond:
            self._admitted.pop(ticket, None)
            self._riding.discard(ticket)
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
             alive: Callable[[], bool] | None = None, ticket: Ticket | None = None) -> Iterator[Ticket]:
        """Wait for the turn, hold the slot inside the block, release it however the block ends.

        ``ticket``: one already admitted (:meth:`admit`); else one is admitted here for ``owner``.
        """
        ticket = self.join(label, owner) if ticket is None else self.enter(ticket)
        try:
            self.wait_turn(ticket, on_wait, alive=alive)
            yield ticket
        finally:
            self.leave(ticket)

    def run(self, fn: Callable[..., T], *args, label: str = "", on_wait: Callable[[int], None] | None = None,
            owner: str = "", alive: Callable[[], bool] | None = None, ticket: Ticket | None = None,
            **kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` when it is this caller's turn; exceptions propagate after release."""
        with self.slot(label, on_wait, owner=owner, alive=alive, ticket=ticket):
            return fn(*args, **kwargs)

    @property
    def admitted_count(self) -> int:
        """Tickets admitted and not yet left (in line, running, riding, searching or reading)."""
        with self._cond:
            return len(self._admitted)

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


_DEFAULT: JobQueue | None = None
_DEFAULT_READ: QueueLimits | None = None  # the limits last read from the settings
_DEFAULT_LOCK = threading.Lock()


def gpu_queue() -> JobQueue:
    """The one queue of this process (all Streamlit sessions share it), its limits from the current settings.

    Read when asked, never at import: a bad ``GEOFM_*`` value raises SettingsError here, where the app shows
    "This server is misconfigured", instead of breaking every module that imports this one.
    """
    global _DEFAULT, _DEFAULT_READ
    limits = QueueLimits.from_env()
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = JobQueue(limits)
        elif limits != _DEFAULT_READ:  # the operator's settings changed since they were read
            _DEFAULT.limits = limits
        _DEFAULT_READ = limits
        return _DEFAULT
