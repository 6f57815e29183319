"""Stage timings for a run: a Progress callback that remembers when each stage started and ended."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from geofm.progress import Progress, null_progress

#: Display names of the pipeline stages, in order.
STAGE_TITLES: dict[str, str] = {
    "weights": "Getting the model",
    "queue": "Waiting for the GPU/CPU",
    "search": "Searching scenes",
    "read": "Reading pixels",
    "infer": "Running the model",
    "render": "Rendering",
}


@dataclass
class StageTimes:
    """Seconds spent per stage and the last message each stage reported."""

    seconds: dict[str, float] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """'Searching scenes 0.4 s · Reading pixels 1.2 s (3.1 MB) · ...' in stage order."""
        parts = []
        for stage in list(STAGE_TITLES) + [s for s in self.seconds if s not in STAGE_TITLES]:
            if stage in self.seconds:
                parts.append(f"{STAGE_TITLES.get(stage, stage)} {self.seconds[stage]:.1f} s")
        return " · ".join(parts)


class StageRecorder:
    """A :class:`Progress` that times stages and forwards every call to ``sink``.

    A stage lasts from its first report until the next stage begins (or :meth:`finish`).
    """

    def __init__(self, sink: Progress = null_progress, clock: Callable[[], float] = time.perf_counter) -> None:
        self._sink = sink
        self._clock = clock
        self._current: str | None = None
        self._started = 0.0
        self.times = StageTimes()
        self._lock = threading.Lock()

    def __call__(self, stage: str, message: str, fraction: float | None = None) -> None:
        with self._lock:  # readers report from worker threads
            now = self._clock()
            if stage != self._current:
                self._close(now)
                self._current, self._started = stage, now
            self.times.messages[stage] = message
        self._sink(stage, message, fraction)

    def _close(self, now: float) -> None:
        if self._current is not None:
            self.times.seconds[self._current] = self.times.seconds.get(self._current, 0.0) + (now - self._started)
            self._current = None

    def finish(self) -> StageTimes:
        """Close the running stage and return the timings."""
        with self._lock:
            self._close(self._clock())
        return self.times
