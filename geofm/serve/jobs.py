"""Runs that outlive the page that started them.

A run used to live in the Streamlit script run that asked for it: a second click on Run (a rerun) or a reload
(a new session) stopped that script run, the run left the queue as abandoned, and the next click was told
"You already have a run…" about a run that no longer existed; the result never appeared. Here a run is a
*job* in a background thread, known by its request (the same inputs are the same run):

* Run starts a job, or joins the one already going for the same request (more clicks change nothing);
* the page follows the job: it replays the job's progress into its panel until the job ends, whatever the
  page run that started it is doing; a reload or a reopened link (a new session, the same request from the
  link) finds the job by its request and follows it, or finds its result in the results cache;
* a job waits in the GPU queue only while some page follows it: when nobody has looked for ``grace_s``
  (the tab was closed) it leaves the line, as a closed tab did before. A job that holds the model finishes
  and its result goes to the cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from geofm.errors import GeofmError
from geofm.progress import Progress
from geofm.serve.estimate import remaining_s
from geofm.serve.queue import RunAbandoned, Visitor
from geofm.serve.runs import RunOutcome, RunRequest

#: Seconds a job keeps its place in line without a page following it (a reload takes a few seconds).
GRACE_S = 20.0
#: Finished jobs are kept this long so a page that reconnects late still learns how its run ended.
KEEP_S = 600.0

Work = Callable[[Progress, Visitor], RunOutcome]


@dataclass(eq=False)
class RunJob:
    """One run in a background thread: its progress events, and its outcome or error once done."""

    request: RunRequest
    page: str  # the page that shows its result (a task name, or the upload page's key)
    owner: str = ""  # the browser session that started it (the queue's per-session limits)
    events: list[tuple[str, str, float | None]] = field(default_factory=list)
    outcome: RunOutcome | None = None
    error: BaseException | None = None
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    seen: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    grace_s: float = GRACE_S
    estimate: Any = None  # geofm.serve.estimate.Estimate made before Run (None: none)
    stage: str | None = None  # the stage now, its last fraction and when it began
    fraction: float | None = None
    stage_started: float = 0.0
    counting: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, stage: str, message: str, fraction: float | None = None) -> None:
        """The job's Progress: remembered for every page that follows it (now or later)."""
        with self._lock:
            self.events.append((stage, message, fraction))
            if stage != self.stage:
                self.stage, self.stage_started = stage, time.monotonic()
                self.counting = False
            if fraction is not None and not self.counting:  # the pace is timed from the stage's first count
                self.counting, self.stage_started = True, time.monotonic()  # (not from loading the model)
            self.fraction = fraction

    def remaining_s(self) -> float | None:
        """Seconds left (see geofm.serve.estimate.remaining_s)."""

        with self._lock:
            stage, fraction, started = self.stage, self.fraction, self.stage_started
        return remaining_s(self.estimate, self.elapsed_s, stage, fraction, time.monotonic() - started)

    def events_since(self, start: int) -> list[tuple[str, str, float | None]]:
        with self._lock:
            return list(self.events[start:])

    def watch(self) -> None:
        """A page is following this job (call it at least every few seconds while following)."""
        self.seen = time.monotonic()

    def watched(self) -> bool:
        return time.monotonic() - self.seen < self.grace_s

    @property
    def finished(self) -> bool:
        return self.done.is_set()

    @property
    def elapsed_s(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def user_error(self) -> str | None:
        """The error to show (GeofmError's sentence), None when it ended well or was abandoned."""
        if isinstance(self.error, GeofmError):
            from geofm.serve.ui import user_message  # lazy: streamlit

            return user_message(self.error)
        if self.error is not None and not isinstance(self.error, RunAbandoned):
            return "The run stopped on an unexpected error. The operator's log says why."
        return None


class RunJobs:
    """The process's jobs, by request (one job per request while it runs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[RunRequest, RunJob] = {}

    def start(self, request: RunRequest, page: str, work: Work, *, owner: str = "", estimate: Any = None) -> RunJob:
        """The running job for ``request``, or a new one running ``work(progress, visitor)`` in a thread."""
        with self._lock:
            self._forget_old()
            job = self._jobs.get(request)
            if job is not None and not job.finished:
                job.watch()
                return job
            job = RunJob(request=request, page=page, owner=owner, estimate=estimate)
            self._jobs[request] = job
        visitor = Visitor(id=owner, alive=job.watched)
        threading.Thread(target=self._run, args=(job, work, visitor), name=f"geofm-run-{page}", daemon=True).start()
        return job

    @staticmethod
    def _run(job: RunJob, work: Work, visitor: Visitor) -> None:
        try:
            job.outcome = work(job.record, visitor)
        except BaseException as err:  # noqa: BLE001 - every ending is reported to the page that follows
            job.error = err
            if not isinstance(err, (GeofmError, RunAbandoned)):
                logging.getLogger(__name__).exception("run %s failed", job.request.task)
        finally:
            job.ended = time.monotonic()
            job.done.set()

    def find(self, request: RunRequest | None) -> RunJob | None:
        """The job for ``request`` (running, or finished in the last few minutes), if any."""
        if request is None:
            return None
        with self._lock:
            return self._jobs.get(request)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for request, job in list(self._jobs.items()):
            if job.ended is not None and now - job.ended > KEEP_S:
                del self._jobs[request]

    def running(self) -> list[RunJob]:
        with self._lock:
            return [j for j in self._jobs.values() if not j.finished]


_JOBS = RunJobs()


def run_jobs() -> RunJobs:
    """The process-wide jobs shared by all sessions."""
    return _JOBS


def follow(job: RunJob, progress: Progress, *, tick: Callable[[RunJob], Any] | None = None,
           poll_s: float = 0.25) -> None:
    """Replay ``job``'s progress into ``progress`` until it ends (``tick(job)`` about once a second)."""
    shown = 0
    last_tick = 0.0
    while True:
        job.watch()
        for event in job.events_since(shown):
            progress(*event)
            shown += 1
        if job.finished and shown >= len(job.events):
            return
        now = time.monotonic()
        if tick is not None and now - last_tick >= 1.0:
            tick(job)
            last_tick = now
        job.done.wait(poll_s)
