"""A process-wide FIFO ticket queue: one job at a time on the accelerator, many sessions waiting in line.

A job runs in the caller's own thread (Streamlit widgets keep working); the queue only decides whose
turn it is. Waiters learn their place in line through ``on_wait(position)``; position 1 = next.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Ticket:
    """A place in line. ``number`` increases in arrival order."""

    number: int
    label: str = ""


class JobQueue:
    """FIFO ticket queue with one running slot."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[Ticket] = deque()
        self._running: Ticket | None = None
        self._numbers = itertools.count(1)

    def join(self, label: str = "") -> Ticket:
        """Take a ticket at the back of the line."""
        with self._cond:
            ticket = Ticket(next(self._numbers), label)
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
                  poll_s: float = 0.25) -> None:
        """Block until ``ticket`` is at the front and the slot is free; then it holds the slot.

        ``on_wait(position)`` is called (outside the lock) whenever the position changes. If it raises
        (e.g. the user's session stopped), the ticket leaves the line and the exception propagates.
        """
        last = None
        while True:
            with self._cond:
                if self._running is None and self._waiting and self._waiting[0] == ticket:
                    self._waiting.popleft()
                    self._running = ticket
                    self._cond.notify_all()  # everyone behind moved up one place
                    return
                position = self._position(ticket)
                if position == -1:
                    raise RuntimeError(f"ticket {ticket.number} is not in the queue")
                if position == last:
                    self._cond.wait(timeout=poll_s)
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
            else:
                try:
                    self._waiting.remove(ticket)
                except ValueError:
                    pass
            self._cond.notify_all()

    @contextmanager
    def slot(self, label: str = "", on_wait: Callable[[int], None] | None = None) -> Iterator[Ticket]:
        """Wait for the turn, hold the slot inside the block, release it however the block ends."""
        ticket = self.join(label)
        try:
            self.wait_turn(ticket, on_wait)
            yield ticket
        finally:
            self.leave(ticket)

    def run(self, fn: Callable[..., T], *args, label: str = "", on_wait: Callable[[int], None] | None = None,
            **kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` when it is this caller's turn; exceptions propagate after release."""
        with self.slot(label, on_wait):
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


_DEFAULT = JobQueue()


def gpu_queue() -> JobQueue:
    """The one queue of this process (all Streamlit sessions share it)."""
    return _DEFAULT
