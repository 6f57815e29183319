"""The Python API: run a task on an HLSStack with the published models (cached per process).

>>> from geofm.pipeline import run_flood
>>> result = run_flood(stack)               # SegmentationResult; weights from $GEOFM_WEIGHTS_DIR / HF cache
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import torch

from geofm.config import DEFAULTS, TASKS, check_task_model, get_model_spec, get_task, models_of_kind
from geofm.data.aoi import AOI
from geofm.data.task import load_task_stack
from geofm.errors import InputError
from geofm.evaluate.change import dry_window
from geofm.evaluate.evaluation import Evaluation, before_after
from geofm.inference.device import resolve_device
from geofm.inference.model_cache import (checkpoint_sha256, clear_model_cache, ensure_model_weights, get_model,
                                         is_loaded)
from geofm.inference.precision import resolve_precision
from geofm.inference.reconstruct import reconstruct_stack
from geofm.inference.segment import segment_stacks
from geofm.progress import Progress, null_progress
from geofm.render.preview import with_display_rgbs
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

def run_segmentation(task: str, stack: HLSStack, *, weights_dir: str | Path | None = None,
                     device: str | torch.device = "auto", progress: Progress = null_progress,
                     probabilities: bool = False, batch_size: int | None = None,
                     precision: str | None = None, model: str | None = None) -> SegmentationResult:
    """Class map of ``stack`` by the task's segmenter (any task of the registry whose result is classes).

    ``precision``: auto, bf16, fp16, fp32; None = the operator's setting (``GEOFM_PRECISION``), else auto
    (see ``geofm.inference.precision``). ``model``: one of the task's models (``geofm.config.task_models``);
    None = the task's ``model`` (callers pick ``geofm.config.default_model`` for their device and input).
    """
    return run_segmentations(task, [stack], weights_dir=weights_dir, device=device, progress=[progress],
                             probabilities=[probabilities], batch_size=batch_size, precision=precision,
                             model=model)[0]


def run_segmentations(task: str, stacks: list[HLSStack], *, weights_dir: str | Path | None = None,
                      device: str | torch.device = "auto", progress: list[Progress] | None = None,
                      probabilities: list[bool] | None = None, batch_size: int | None = None,
                      precision: str | None = None, model: str | None = None) -> list[SegmentationResult]:
    """Class maps of several stacks by one task's segmenter at once: their windows share forward passes,
    and each result equals the run of that stack alone (fixed-size batches, ``geofm.inference.batcher``)."""
    spec = get_task(task)
    if spec.result != "classes":
        raise InputError(f"{spec.title} does not make a class map.")
    dev = resolve_device(device)
    chosen = resolve_precision(precision, dev)
    model_spec = get_model_spec(check_task_model(spec.name, model) if model else spec.model)
    for stack in stacks:
        spec.check_dates(stack.num_frames, model_spec)
    progresses = progress or [null_progress] * len(stacks)
    ensure_model_weights(model_spec, weights_dir=weights_dir, progress=progresses[0])
    for p in progresses:
        p("infer", f"loading {model_spec.title}", None)
    net, model_spec = get_model(model_spec.name, weights_dir=weights_dir, device=dev)
    results = segment_stacks(net, model_spec, stacks, device=dev, batch_size=batch_size, precision=chosen,
                             probabilities=probabilities or [False] * len(stacks), progress=progresses)
    digest = checkpoint_sha256(model_spec, weights_dir)
    for result in results:
        result.checkpoint_sha256 = digest
    return results


def run_flood(stack: HLSStack, *, weights_dir: str | Path | None = None, device: str | torch.device = "auto",
              progress: Progress = null_progress, probabilities: bool = False,
              batch_size: int | None = None, precision: str | None = None) -> SegmentationResult:
    """Flood / water map (Sen1Floods11 fine-tune) of a one-date stack."""
    return run_segmentation("flood", stack, weights_dir=weights_dir, device=device, progress=progress,
                            probabilities=probabilities, batch_size=batch_size, precision=precision)


def run_crops(stack: HLSStack, *, weights_dir: str | Path | None = None, device: str | torch.device = "auto",
              progress: Progress = null_progress, probabilities: bool = False,
              batch_size: int | None = None, precision: str | None = None) -> SegmentationResult:
    """Crop-type map (multi-temporal crop fine-tune) of a three-date stack, dates in time order."""
    return run_segmentation("crops", stack, weights_dir=weights_dir, device=device, progress=progress,
                            probabilities=probabilities, batch_size=batch_size, precision=precision)


def run_reconstruction(stack: HLSStack, *, mask_ratio: float = DEFAULTS.mask_ratio, seed: int = DEFAULTS.seed,
                       weights_dir: str | Path | None = None, device: str | torch.device = "auto",
                       progress: Progress = null_progress, probabilities: bool = False,
                       batch_size: int | None = None, model: str | None = None,
                       task: str = "reconstruct", precision: str | None = None) -> ReconstructionResult:
    """MAE reconstruction of every date of a stack (1 to the model's frames; ``probabilities`` is ignored).

    ``model`` is None (the task's model, Prithvi-EO-1.0-100M) or any masked-autoencoder name of the
    registry, e.g. ``prithvi-eo-2.0-300m``. ``precision`` as in ``run_segmentation``.
    """
    dev = resolve_device(device)
    chosen = resolve_precision(precision, dev)
    task_spec = get_task(task)
    spec = get_model_spec(model or task_spec.model)
    if spec.kind != task_spec.model_kind:
        raise InputError(f"{spec.name} is not a masked autoencoder; {task_spec.title.lower()} takes one of "
                         f"{', '.join(models_of_kind(task_spec.model_kind))}.")
    task_spec.check_dates(stack.num_frames, spec)
    ensure_model_weights(spec, weights_dir=weights_dir, progress=progress)
    progress("infer", f"loading {spec.title}", None)
    net, spec = get_model(spec.name, weights_dir=weights_dir, device=dev)
    result = reconstruct_stack(net, spec, stack, device=dev, mask_ratio=mask_ratio, seed=seed,
                               batch_size=batch_size, precision=chosen, progress=progress)
    result = with_display_rgbs(result, stack)
    result.checkpoint_sha256 = checkpoint_sha256(spec, weights_dir)
    return result


def dry_date_change(event_result: SegmentationResult, event_stack: HLSStack, aoi: AOI, *, task: str = "flood",
                    dry_date: date | str | None = None, stac_url: str | None = None,
                    max_cloud: float = 30.0, **run_kw: Any) -> tuple[Evaluation, HLSStack]:
    """Read the dry scene over ``aoi`` (same grid as the event), run the flood model on it and compare:
    water gained / lost layer and km². Returns the comparison and the dry stack."""
    when = event_stack.times[-1] if event_stack.times and event_stack.times[-1] else None
    if when is None:
        raise InputError("The event's date is unknown, so no dry date before it can be chosen.")
    start, end = dry_window(when.date(), dry_date)
    stack, _ = load_task_stack(task, aoi, start, end, max_cloud=max_cloud, stac_url=stac_url)
    if stack.shape != event_stack.shape:
        raise InputError("The dry-date scene was read on a different grid than the event.")
    before = run_segmentation(task, stack, **run_kw)
    ev = before_after(before, event_result)
    dry = stack.times[-1]
    ev.reference = f"dry date {dry.date() if dry else start}" + (f" (chosen: the clearest scene from {start} to {end})"
                                                                  if start != end else "")
    ev.metrics["dry_date"] = str(dry.date()) if dry else ""
    return ev, stack


def run_task(task: str, stack: HLSStack, **kw: Any) -> SegmentationResult | ReconstructionResult:
    """Run any task of the registry (``geofm.config.TASKS``) on ``stack``.

    Keyword arguments a task does not take (``mask_ratio``, ``seed`` for class maps) are ignored; ``model`` is
    one of the task's models.
    """
    spec = get_task(task)
    if spec.result == "reconstruction":
        return run_reconstruction(stack, task=spec.name, **kw)
    for name in ("mask_ratio", "seed"):
        kw.pop(name, None)
    return run_segmentation(spec.name, stack, **kw)


__all__ = ["TASKS", "checkpoint_sha256", "clear_model_cache", "ensure_model_weights", "get_model", "is_loaded",
           "run_crops", "run_flood", "run_reconstruction",
           "run_segmentation", "run_segmentations", "run_task", "dry_date_change"]
