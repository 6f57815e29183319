"""Models preloaded in the background when the app starts, and what the pages say meanwhile.

The first script run of the server process starts one daemon thread (``start_warmup``, idempotent) that
loads the task models whose weights are on this machine through ``geofm.pipeline.get_model`` — the
ready copy (folded, safetensors) when there is one — so the first visitor's run does not pay for it.
The page renders at once; ``status()`` tells it what is still warming up. ``GEOFM_PRELOAD`` picks the
models: a comma list of tasks or registry names, ``all`` (default: the four task models) or ``none``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from geofm.config import ENV_PRELOAD, TASK_MODELS, get_model_spec
from geofm.errors import GeofmError
from geofm.models import resolve_weights
from geofm.settings import from_environment, settings

log = logging.getLogger(__name__)

WAITING, LOADING, READY, MISSING, FAILED = "waiting", "loading", "ready", "missing", "failed"


@dataclass
class WarmupStatus:
    """Per model (registry name): its state, and seconds it took once ready."""

    states: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    started: bool = False

    @property
    def warming(self) -> bool:
        """True while a model is still waiting or loading."""
        return any(s in (WAITING, LOADING) for s in self.states.values())

    def summary(self) -> str:
        """'Warming up: loading Prithvi flood mapping (Sen1Floods11) — 1 of 3 models ready.' or ''."""
        if not self.warming:
            return ""
        ready = sum(s == READY for s in self.states.values())
        loading = [n for n, s in self.states.items() if s == LOADING]
        now = f"loading {get_model_spec(loading[0]).title}" if loading else "starting"
        total = len(self.states)
        return (f"Warming up: {now} — {ready} of {total} model{'s' if total != 1 else ''} ready. "
                "You can explore the map meanwhile; a run started now waits for its model.")


def preload_names(env: dict[str, str] | None = None) -> list[str]:
    """Registry names to preload, from ``GEOFM_PRELOAD`` (default: the task models)."""

    raw = (settings() if env is None else from_environment(env)).preload
    if raw in ("none", "0", "off", "no"):
        return []
    if raw in ("", "all"):
        return list(TASK_MODELS.values())
    names = []
    for part in raw.split(","):
        try:
            names.append(get_model_spec(part.strip()).name)
        except GeofmError:
            log.warning("%s: unknown model %r ignored", ENV_PRELOAD, part)
    return names


def _installed(name: str) -> bool:
    try:
        resolve_weights(get_model_spec(name))
    except GeofmError:
        return False
    return True


def _load(name: str) -> None:
    from geofm.pipeline import get_model  # lazy: torch

    get_model(name)


class Warmup:
    """One background preload per process."""

    def __init__(self, load: Callable[[str], None] = _load, installed: Callable[[str], bool] = _installed) -> None:
        self._load = load
        self._installed = installed
        self._lock = threading.Lock()
        self._status = WarmupStatus()
        self._thread: threading.Thread | None = None

    def start(self, names: list[str] | None = None) -> bool:
        """Start the preload thread (once); True when this call started it."""
        with self._lock:
            if self._status.started:
                return False
            names = preload_names() if names is None else names
            self._status = WarmupStatus(states={n: WAITING for n in names}, started=True)
            self._thread = threading.Thread(target=self._run, args=(names,), name="geofm-warmup", daemon=True)
            self._thread.start()
            return True

    def _set(self, name: str, state: str) -> None:
        with self._lock:
            self._status.states[name] = state

    def _run(self, names: list[str]) -> None:
        for name in names:
            if not self._installed(name):
                self._set(name, MISSING)  # fetched on first use (or the page says how to get it)
                continue
            self._set(name, LOADING)
            started = time.perf_counter()
            try:
                self._load(name)
            except Exception as err:  # a broken file shows up again, with its message, when a run needs it
                log.warning("preloading %s failed: %s", name, err)
                self._set(name, FAILED)
                continue
            with self._lock:
                self._status.states[name] = READY
                self._status.seconds[name] = time.perf_counter() - started
            log.info("preloaded %s in %.1f s", name, self._status.seconds[name])

    def status(self) -> WarmupStatus:
        with self._lock:
            return WarmupStatus(dict(self._status.states), dict(self._status.seconds), self._status.started)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


_WARMUP = Warmup()


def warmup() -> Warmup:
    """The process's preloader (all sessions share it)."""
    return _WARMUP
