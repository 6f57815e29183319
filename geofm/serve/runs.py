"""Runs as the app makes them: inputs -> (search, read, model in the queue) -> outcome, cached by inputs.

The cache is process-wide, so the same inputs come back instantly for any session, and a rerun of the
Streamlit script (panning, sliders) never recomputes anything.
"""

from __future__ import annotations

import dataclasses

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geofm.config import TASKS, get_task
from geofm.io.geotiff import read_input_stack
from geofm.io.header import upload_budget_bytes
from geofm.progress import Progress, null_progress
from geofm.render.products import Products, confidence_map
from geofm.serve.flight import shared_batches, single_flight
from geofm.serve.progress import StageRecorder, StageTimes
from geofm.serve.queue import ANONYMOUS, JobQueue, Ticket, Visitor, gpu_queue
from geofm.serve.result_store import ResultStore
from geofm.settings import settings
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

if TYPE_CHECKING:
    from geofm.serve.result_store import ResultStore

#: Heading of each task (from the registry).
TASK_TITLES: dict[str, str] = {name: task.title for name, task in TASKS.items()}


@dataclass(frozen=True)
class RunRequest:
    """Everything that decides a run's result (and nothing else): the cache key."""

    task: str
    geometry_json: str = ""  # canonical GeoJSON of the area ("" for uploads)
    start: str = ""
    end: str = ""
    max_cloud: float = 30.0
    scene_ids: tuple[str, ...] = ()
    mask_ratio: float = 0.75
    seed: int = 0
    upload_digest: str = ""  # sha256 of the uploaded files, in order
    model: str = ""  # masking tasks and tasks with a model choice: registry name ("" = the default)
    stac_url: str = ""
    weights_dir: str = ""
    date: str = ""  # uploads: the acquisition date the user gave (YYYY-MM-DD; "" = from the files)

    @classmethod
    def for_area(cls, task: str, geometry: dict, start: str, end: str, *, max_cloud: float,
                 scene_ids: tuple[str, ...] = (), mask_ratio: float = 0.75, seed: int = 0,
                 model: str = "") -> "RunRequest":
        """A request over a drawn area; the operator's STAC endpoint and weights folder are part of the key."""
        return cls(task=task, geometry_json=canonical_json(geometry), start=str(start), end=str(end),
                   max_cloud=float(max_cloud), scene_ids=tuple(scene_ids),
                   mask_ratio=_task_mask_ratio(task, mask_ratio), seed=_task_seed(task, seed),
                   model=_task_model(task, model),
                   stac_url=settings().stac_url, weights_dir=_weights_dir())

    @classmethod
    def for_upload(cls, task: str, files: list[tuple[str, bytes]], *, mask_ratio: float = 0.75,
                   seed: int = 0, model: str = "", date: str = "") -> "RunRequest":
        """A request over uploaded files (name, content)."""
        digest = hashlib.sha256()
        for name, content in files:
            digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
        return cls(task=task, upload_digest=digest.hexdigest(), mask_ratio=_task_mask_ratio(task, mask_ratio),
                   seed=_task_seed(task, seed), model=_task_model(task, model),
                   weights_dir=_weights_dir(), date=str(date or ""))

    @property
    def geometry(self) -> dict | None:
        return json.loads(self.geometry_json) if self.geometry_json else None


def _weights_dir() -> str:
    folder = settings().weights_dir
    return str(folder) if folder else ""


def _task_mask_ratio(task: str, mask_ratio: float) -> float:
    return round(float(mask_ratio), 4) if get_task(task).masking else 0.0


def _task_seed(task: str, seed: int) -> int:
    return int(seed) if get_task(task).masking else 0


def _task_model(task: str, model: str) -> str:
    spec = get_task(task)
    return model if spec.masking or spec.alt_models else ""


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and coordinates rounded to 1e-7 degrees (about 1 cm)."""
    def _round(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 7)
        if isinstance(value, (list, tuple)):
            return [_round(v) for v in value]
        if isinstance(value, dict):
            return {k: _round(v) for k, v in value.items()}
        return value
    return json.dumps(_round(obj), sort_keys=True, separators=(",", ":"))


@dataclass
class Rendered:
    """A slot for an outcome's rendered products, shared by the outcome and its cached copies. ``lock``: held
    while rendering, so pages that follow the same run (a reload, a second tab) render it once, not at once."""

    products: Products | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)


@dataclass
class RunOutcome:
    """A finished run: the model result, the input stack it saw, the scenes used and the stage times."""

    request: RunRequest
    result: SegmentationResult | ReconstructionResult
    stack: HLSStack
    scenes: list = field(default_factory=list)  # geofm.data.Scene, one per frame (empty for uploads)
    times: StageTimes = field(default_factory=StageTimes)
    rendered: Rendered = field(default_factory=lambda: Rendered())  # shared with the cached copies
    confidence: Any = None  # (H, W) float16 probability of the class shown (segmentation tasks), or None

    @property
    def views(self) -> Products | None:
        """The rendered products (None until the app renders them once)."""
        return self.rendered.products

    @views.setter
    def views(self, products: Products | None) -> None:
        self.rendered.products = products
    from_cache: bool = False


class ResultCache:
    """A thread-safe LRU of RunOutcomes keyed by RunRequest, backed by ``store`` on disk (None: memory only)."""

    def __init__(self, maxsize: int = 16, store: "ResultStore | None" = None) -> None:
        self.maxsize = maxsize
        self.store = store
        self._items: OrderedDict[RunRequest, RunOutcome] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, request: RunRequest) -> RunOutcome | None:
        with self._lock:
            outcome = self._items.get(request)
            if outcome is not None:
                self._items.move_to_end(request)
                return outcome
        if self.store is None:
            return None
        parts = self.store.get(request)  # kept on disk by this server before a restart
        outcome = RunOutcome(**parts) if parts is not None else None
        if outcome is not None:
            self._remember(outcome)
        return outcome

    def put(self, outcome: RunOutcome) -> None:
        self._remember(outcome)
        if self.store is not None:
            self.store.put(outcome)

    def _remember(self, outcome: RunOutcome) -> None:
        with self._lock:
            self._items[outcome.request] = outcome
            self._items.move_to_end(outcome.request)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        """Forget every result, in memory and on disk."""
        with self._lock:
            self._items.clear()
        if self.store is not None:
            self.store.clear()


_CACHE: ResultCache | None = None
_CACHE_LOCK = threading.Lock()


def results_cache() -> ResultCache:
    """The process-wide results cache shared by all sessions (size: setting GEOFM_APP_CACHE_RUNS)."""
    global _CACHE
    with _CACHE_LOCK:
        if _CACHE is None:
            _CACHE = ResultCache(maxsize=settings().app_cache_runs, store=ResultStore())
        return _CACHE


def _run_model(task: str, stack: HLSStack, request: RunRequest, progress: Progress):
    from geofm import pipeline  # lazy: torch

    return pipeline.run_task(task, stack, mask_ratio=request.mask_ratio, seed=request.seed,
                             model=request.model or None, progress=progress,
                             probabilities=not get_task(task).masking)


def take_confidence(task: str, result: SegmentationResult | ReconstructionResult) -> Any:
    """The result's per-pixel confidence as (H, W) float16, its full probabilities dropped (memory)."""
    if not isinstance(result, SegmentationResult) or result.probabilities is None:
        return None
    confidence = confidence_map(get_task(task), result)
    result.probabilities = None
    return None if confidence is None else confidence.astype("float16")


def _queued_model(request: RunRequest, stack: HLSStack, recorder: StageRecorder, queue: JobQueue,
                  visitor: Visitor, ticket: Ticket):
    def on_wait(position: int) -> None:
        minutes = queue.wait_minutes(position)
        recorder("queue", f"Another run is using the model: you are number {position} in line "
                          f"(about {minutes} min).", None)

    if get_task(request.task).result == "classes":  # runs of one model waiting together share forward passes
        return shared_batches().run((request.task, request.weights_dir, request.model), stack, queue=queue,
                                    progress=recorder, on_wait=on_wait, label=request.task, alive=visitor.alive,
                                    ticket=ticket)
    return queue.run(_run_model, request.task, stack, request, recorder, label=request.task, on_wait=on_wait,
                     alive=visitor.alive, ticket=ticket)


def _once(request: RunRequest, compute, cache: ResultCache, progress: Progress) -> RunOutcome:
    """``compute()`` unless an identical request is already running: then wait for its outcome."""

    def on_wait() -> None:
        progress("queue", "The same run was just started by someone else: waiting for its result.", None)

    outcome, shared = single_flight().do(request, lambda: _computed(request, compute, cache), on_wait=on_wait)
    return _cached_copy(outcome) if shared else outcome


def _computed(request: RunRequest, compute, cache: ResultCache) -> RunOutcome:
    hit = cache.get(request)  # finished between our cache look-up and taking the flight
    if hit is not None:
        return _cached_copy(hit)
    outcome = compute()
    cache.put(outcome)
    return outcome


def _weights_first(request: RunRequest, progress: Progress) -> None:
    """Download the model's weights on first use before searching or queueing (a download never holds the GPU)."""
    from geofm.pipeline import ensure_model_weights  # lazy: torch

    ensure_model_weights(request.model or request.task, weights_dir=request.weights_dir or None,
                         progress=progress)


def run_area(request: RunRequest, *, progress: Progress = null_progress, queue: JobQueue | None = None,
             cache: ResultCache | None = None, visitor: Visitor = ANONYMOUS) -> RunOutcome:
    """Search, read and run the model over the request's area (cached by the request).

    ``visitor``: the browser session asking; the queue admits the run (its per-session limits and waiting cap)
    before searching, so a refused run costs nothing, and holds its ticket until the run ends — whether it
    waits in line, rides in a shared batch or waits for an identical run. Searching and reading wait for one
    of the queue's ``reads_at_once`` places. The run leaves the line when the visitor is gone.
    """
    cache = cache if cache is not None else results_cache()
    hit = cache.get(request)
    if hit is not None:
        return _cached_copy(hit)
    line = queue or gpu_queue()
    with line.admitted(request.task, visitor.id) as ticket:  # refused here, before searching: costs nothing

        def compute() -> RunOutcome:
            from geofm.data import AOI, load_task_stack  # lazy: pystac_client

            recorder = StageRecorder(progress)
            _weights_first(request, recorder)
            aoi = AOI.from_geojson(request.geometry or {})
            with line.reading(visitor.alive):
                stack, scenes = load_task_stack(request.task, aoi, request.start, request.end,
                                                max_cloud=request.max_cloud, stac_url=request.stac_url or None,
                                                scene_ids=list(request.scene_ids) or None, progress=recorder)
            result = _queued_model(request, stack, recorder, line, visitor, ticket)
            return RunOutcome(request=request, result=result, stack=stack, scenes=list(scenes),
                              times=recorder.finish(), confidence=take_confidence(request.task, result))

        return _once(request, compute, cache, progress)


def run_files(request: RunRequest, paths: list[Path], *, progress: Progress = null_progress,
              queue: JobQueue | None = None, cache: ResultCache | None = None,
              visitor: Visitor = ANONYMOUS) -> RunOutcome:
    """Run the model on uploaded GeoTIFFs already saved at ``paths`` (cached by their content)."""
    cache = cache if cache is not None else results_cache()
    hit = cache.get(request)
    if hit is not None:
        return _cached_copy(hit)
    line = queue or gpu_queue()
    with line.admitted(request.task, visitor.id) as ticket:

        def compute() -> RunOutcome:
            recorder = StageRecorder(progress)
            _weights_first(request, recorder)
            recorder("read", f"Reading {len(paths)} uploaded file(s)", None)
            with line.reading(visitor.alive):
                stack = read_input_stack([Path(p) for p in paths], budget_bytes=upload_budget_bytes(),
                                         where="the app")
            if request.date:  # the user's date wins over what the files say
                stack = dataclasses.replace(stack, times=[datetime.fromisoformat(request.date)] * stack.num_frames)
            result = _queued_model(request, stack, recorder, line, visitor, ticket)
            return RunOutcome(request=request, result=result, stack=stack, times=recorder.finish(),
                              confidence=take_confidence(request.task, result))

        return _once(request, compute, cache, progress)


def _cached_copy(outcome: RunOutcome) -> RunOutcome:
    """The cached outcome, marked as coming from the cache (shares arrays and rendered views)."""
    return RunOutcome(request=outcome.request, result=outcome.result, stack=outcome.stack,
                      scenes=outcome.scenes, times=outcome.times, rendered=outcome.rendered, from_cache=True,
                      confidence=outcome.confidence)
