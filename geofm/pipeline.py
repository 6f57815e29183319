"""The Python API: run a task on an HLSStack with the published models (cached per process).

>>> from geofm.pipeline import run_flood
>>> result = run_flood(stack)               # SegmentationResult; weights from $GEOFM_WEIGHTS_DIR / HF cache
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import torch
from torch import nn

from geofm.config import DEFAULTS, TASKS, ModelSpec, check_task_model, get_model_spec, get_task, models_of_kind
from geofm.errors import InputError
from geofm.inference.device import resolve_device, tune_for_device
from geofm.inference.precision import resolve_precision
from geofm.inference.reconstruct import reconstruct_stack
from geofm.inference.segment import segment_stacks
from geofm.progress import Progress, null_progress
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

_CACHE: dict[tuple[str, str, str], nn.Module] = {}
_LOCK = threading.Lock()

def get_model(task_or_name: str, *, weights_dir: str | Path | None = None,
              device: str | torch.device = "auto") -> tuple[nn.Module, ModelSpec]:
    """The model for a task or registry name, loaded once per (name, weights file, device) per process.

    Segmenters come back folded (same logits, fewer FLOPs); all models are in eval mode.
    """
    from geofm.models import resolve_weights
    from geofm.models.prepared import load_ready_model

    spec = get_model_spec(task_or_name)
    dev = resolve_device(device)
    path = resolve_weights(spec, weights_dir)
    key = (spec.name, str(Path(path).resolve()), str(dev))
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            # the ready copy (folded, safetensors) when it matches the file's checksum; else load + fold + write it
            model = load_ready_model(spec, weights_dir=weights_dir).to(dev).eval()
            model = tune_for_device(model, dev)
            _CACHE[key] = model
    return model, spec


def is_loaded(task_or_name: str, *, weights_dir: str | Path | None = None,
              device: str | torch.device = "auto") -> bool:
    """True when the model is already in this process's cache (no file is read)."""
    spec = get_model_spec(task_or_name)
    dev = str(resolve_device(device))
    with _LOCK:
        return any(k[0] == spec.name and k[2] == dev for k in _CACHE)


def ensure_model_weights(task_or_name: str | ModelSpec, *, weights_dir: str | Path | None = None,
                         progress: Progress = null_progress) -> Path:
    """The model's weights file; with a network, downloaded on first use (progress as stage ``weights``).

    Offline (or with ``GEOFM_AUTO_DOWNLOAD=0``) a missing file raises WeightsNotFoundError saying how to get it.
    """
    from geofm.models.download import ensure_weights_reporting

    spec = task_or_name if isinstance(task_or_name, ModelSpec) else get_model_spec(task_or_name)
    return ensure_weights_reporting(spec, weights_dir, progress)


def clear_model_cache() -> None:
    """Forget every cached model (frees memory; the next call loads again)."""
    with _LOCK:
        _CACHE.clear()


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
    digest = _checkpoint_sha256(model_spec, weights_dir)
    for result in results:
        result.checkpoint_sha256 = digest
    return results


def _checkpoint_sha256(spec: ModelSpec, weights_dir: str | Path | None) -> str:
    from geofm.models import resolve_weights
    from geofm.models.weights import weights_sha256

    return weights_sha256(resolve_weights(spec, weights_dir))


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
    result.checkpoint_sha256 = _checkpoint_sha256(spec, weights_dir)
    return result


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


__all__ = ["TASKS", "clear_model_cache", "get_model", "run_crops", "run_flood", "run_reconstruction",
           "run_segmentation", "run_segmentations", "run_task"]
