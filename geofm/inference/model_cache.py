"""Models loaded once per process: the cache that the pipeline, the app's queue, region workers and blockwise
runs all take their model from (a model is loaded, folded and tuned for its device once per process)."""

from __future__ import annotations

import threading
from pathlib import Path

import torch
from torch import nn

from geofm.config import ModelSpec, get_model_spec
from geofm.inference.device import resolve_device, tune_for_device
from geofm.models.download import ensure_weights_reporting
from geofm.models.locate import resolve_weights
from geofm.models.prepared import load_ready_model
from geofm.models.weights import weights_sha256
from geofm.progress import Progress, null_progress

_CACHE: dict[tuple[str, str, str], nn.Module] = {}
_LOCK = threading.Lock()


def get_model(task_or_name: str, *, weights_dir: str | Path | None = None,
              device: str | torch.device = "auto") -> tuple[nn.Module, ModelSpec]:
    """The model for a task or registry name, loaded once per (name, weights file, device) per process.

    Segmenters come back folded (same logits, fewer FLOPs); all models are in eval mode.
    """
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
    """True when the model of ``weights_dir``'s file (or the default file) is already in this process's cache
    (the file is looked up, not read; no file: False)."""
    spec = get_model_spec(task_or_name)
    dev = str(resolve_device(device))
    try:
        path = str(Path(resolve_weights(spec, weights_dir)).resolve())
    except FileNotFoundError:
        return False
    with _LOCK:
        return (spec.name, path, dev) in _CACHE


def ensure_model_weights(task_or_name: str | ModelSpec, *, weights_dir: str | Path | None = None,
                         progress: Progress = null_progress) -> Path:
    """The model's weights file; with a network, downloaded on first use (progress as stage ``weights``).

    Offline (or with ``GEOFM_AUTO_DOWNLOAD=0``) a missing file raises WeightsNotFoundError saying how to get it.
    """
    spec = task_or_name if isinstance(task_or_name, ModelSpec) else get_model_spec(task_or_name)
    return ensure_weights_reporting(spec, weights_dir, progress)


def clear_model_cache() -> None:
    """Forget every cached model (frees memory; the next call loads again)."""
    with _LOCK:
        _CACHE.clear()


def checkpoint_sha256(spec: ModelSpec, weights_dir: str | Path | None) -> str:
    """SHA-256 of the weights file the model was loaded from (provenance)."""
    return weights_sha256(resolve_weights(spec, weights_dir))
