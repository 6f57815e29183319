"""Where and how models run: device choice, precision, batch size, and the out-of-memory retry."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from geofm.config import ModelSpec
from geofm.errors import DeviceOutOfMemoryError, InputError

T = TypeVar("T")

#: Rough peak memory per 224x224 window (bf16 activations, folded head), in MiB, by model kind/frames.
_WINDOW_MIB = {"segmenter": 160, "mae": 120}
_CPU_BATCH = 2
_MAX_GPU_BATCH = 64


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cpu``/``cuda``/``cuda:N`` as given."""
    if isinstance(device, torch.device):
        return device
    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise InputError(f"Unknown device {device!r}; use auto, cpu or cuda.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("Device 'cuda' was requested but no CUDA GPU is available.",
                         hint="Use --device cpu (or auto).")
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"Unsupported device {device!r}; use auto, cpu or cuda.")
    return dev


def device_label(device: torch.device) -> str:
    """Short human name: ``CPU`` or ``CUDA (<gpu name>)``."""
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return "CPU"


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; plain fp32 on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def default_batch_size(device: torch.device, spec: ModelSpec) -> int:
    """Windows per forward pass: small on CPU, sized to free memory on a GPU."""
    if device.type != "cuda":
        return _CPU_BATCH
    free, _total = torch.cuda.mem_get_info(device)
    per_window = _WINDOW_MIB.get(spec.kind, 160) * max(1, spec.num_frames) * 2**20
    return int(max(1, min(_MAX_GPU_BATCH, (free * 0.6) // per_window)))


def _is_oom(err: BaseException) -> bool:
    if isinstance(err, torch.OutOfMemoryError):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def map_in_batches(items: Sequence[T], run: Callable[[Sequence[T]], None], batch_size: int, *,
                   device: torch.device, on_batch: Callable[[int], None] | None = None) -> int:
    """Call ``run`` on consecutive chunks of ``items``; on out-of-memory halve the chunk and retry.

    Returns the batch size that worked last. Raises DeviceOutOfMemoryError when even one item fails.
    ``on_batch(done)`` is told how many items are finished after each successful chunk.
    """
    size = max(1, int(batch_size))
    done = 0
    while done < len(items):
        chunk = items[done:done + size]
        try:
            run(chunk)
        except (torch.OutOfMemoryError, RuntimeError) as err:
            if not _is_oom(err):
                raise
            _release(device)
            if size == 1:
                raise DeviceOutOfMemoryError(
                    f"The {device.type.upper()} device ran out of memory even with one window per batch.",
                    hint="Try a smaller area, close other GPU programs, or use --device cpu.") from None
            size = max(1, size // 2)
            continue
        done += len(chunk)
        if on_batch is not None:
            on_batch(done)
    return size


def _release(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def tune_for_device(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Same numbers, faster layout: on CUDA, 2-D conv weights channels_last (cuDNN's native NHWC) and
    cuDNN autotuning (every window has the same shape). On CPU nothing: channels_last measured no faster."""
    if device.type != "cuda":
        return model
    from geofm.inference.fold import FoldedUpsampleHead

    torch.backends.cudnn.benchmark = True
    for mod in model.modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            mod.to(memory_format=torch.channels_last)
        elif isinstance(mod, FoldedUpsampleHead):
            mod.weight = mod.weight.contiguous(memory_format=torch.channels_last)
    return model
