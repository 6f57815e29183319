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

from geofm.config import DEFAULTS, MODELS, ModelSpec, get_model_spec
from geofm.errors import InputError
from geofm.inference.device import resolve_device, tune_for_device
from geofm.inference.reconstruct import reconstruct_stack
from geofm.inference.segment import segment_stack
from geofm.progress import Progress, null_progress
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

_CACHE: dict[tuple[str, str, str], nn.Module] = {}
_LOCK = threading.Lock()

TASKS = ("flood", "crops", "reconstruct")


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


def _segment(task: str, stack: HLSStack, *, weights_dir: str | Path | None, device: str | torch.device,
             progress: Progress, probabilities: bool, batch_size: int | None) -> SegmentationResult:
    dev = resolve_device(device)
    spec = get_model_spec(task)
    if stack.num_frames != spec.num_frames:
        raise InputError(f"{spec.title} takes {spec.num_frames} date(s); the input has {stack.num_frames}.")
    ensure_model_weights(spec, weights_dir=weights_dir, progress=progress)
    progress("infer", f"loading {spec.title}", None)
    model, spec = get_model(task, weights_dir=weights_dir, device=dev)
    return segment_stack(model, spec, stack, device=dev, batch_size=batch_size, probabilities=probabilities,
                         progress=progress)


def run_flood(stack: HLSStack, *, weights_dir: str | Path | None = None, device: str | torch.device = "auto",
              progress: Progress = null_progress, probabilities: bool = False,
              batch_size: int | None = None) -> SegmentationResult:
    """Flood / water map (Sen1Floods11 fine-tune) of a one-date stack."""
    return _segment("flood", stack, weights_dir=weights_dir, device=device, progress=progress,
                    probabilities=probabilities, batch_size=batch_size)


def run_crops(stack: HLSStack, *, weights_dir: str | Path | None = None, device: str | torch.device = "auto",
              progress: Progress = null_progress, probabilities: bool = False,
              batch_size: int | None = None) -> SegmentationResult:
    """Crop-type map (multi-temporal crop fine-tune) of a three-date stack, dates in time order."""
    return _segment("crops", stack, weights_dir=weights_dir, device=device, progress=progress,
                    probabilities=probabilities, batch_size=batch_size)


def run_reconstruction(stack: HLSStack, *, mask_ratio: float = DEFAULTS.mask_ratio, seed: int = DEFAULTS.seed,
                       weights_dir: str | Path | None = None, device: str | torch.device = "auto",
                       progress: Progress = null_progress, probabilities: bool = False,
                       batch_size: int | None = None, model: str = "reconstruct") -> ReconstructionResult:
    """MAE reconstruction of every date of a stack (1 to the model's frames; ``probabilities`` is ignored).

    ``model`` is ``reconstruct`` (Prithvi-EO-1.0-100M) or any masked-autoencoder name of the registry,
    e.g. ``prithvi-eo-2.0-300m``.
    """
    dev = resolve_device(device)
    spec = get_model_spec(model)
    if spec.kind != "mae":
        raise InputError(f"{spec.name} is not a masked autoencoder; reconstruction takes one of "
                         f"{', '.join(n for n, s in MODELS.items() if s.kind == 'mae')}.")
    if not 1 <= stack.num_frames <= spec.num_frames:
        raise InputError(f"{spec.title} takes 1 to {spec.num_frames} dates; the input has {stack.num_frames}.")
    ensure_model_weights(spec, weights_dir=weights_dir, progress=progress)
    progress("infer", f"loading {spec.title}", None)
    net, spec = get_model(spec.name, weights_dir=weights_dir, device=dev)
    return reconstruct_stack(net, spec, stack, device=dev, mask_ratio=mask_ratio, seed=seed,
                             batch_size=batch_size, progress=progress)


def run_task(task: str, stack: HLSStack, **kw: Any) -> SegmentationResult | ReconstructionResult:
    """Dispatch on the task name: ``flood``, ``crops`` or ``reconstruct``."""
    runners = {"flood": run_flood, "crops": run_crops, "reconstruct": run_reconstruction}
    if task not in runners:
        raise InputError(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    if task != "reconstruct":
        kw.pop("mask_ratio", None)
        kw.pop("seed", None)
    return runners[task](stack, **kw)
