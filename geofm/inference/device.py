"""Where and how models run: device choice, precision, batch size, and the out-of-memory retry."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from geofm.config import (BATCH_POLICY, WINDOW_MEMORY_FALLBACK_MIB, WINDOW_MEMORY_MIB, BatchPolicy, ModelSpec)
from geofm.errors import DeviceOutOfMemoryError, InputError
from geofm.inference.precision import autocast, resolve_precision
from geofm.models.fold import FoldedUpsampleHead
from geofm.models.onednn import use_onednn_linears

T = TypeVar("T")


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


def autocast_for(device: torch.device, precision: str | None = None) -> contextlib.AbstractContextManager:
    """The autocast of ``precision`` (None = the operator's setting or auto) on ``device``."""
    return autocast(device, resolve_precision(precision, device))


def window_mib(spec: ModelSpec, precision: str) -> float:
    """Peak memory of one window in a forward pass, MiB: the measured table, else a per-frame guess."""
    row = WINDOW_MEMORY_MIB.get(spec.name)
    if row is None:
        return WINDOW_MEMORY_FALLBACK_MIB * max(1, spec.num_frames)
    return row.fp32 if precision == "fp32" else row.half


def batch_for_memory(free_bytes: int, spec: ModelSpec, precision: str, policy: BatchPolicy = BATCH_POLICY) -> int:
    """Windows that fit in ``policy.headroom`` of ``free_bytes`` (1 to ``policy.max_gpu``)."""
    per_window = window_mib(spec, precision) * 2**20
    return int(max(1, min(policy.max_gpu, (free_bytes * policy.headroom) // per_window)))


def default_batch_size(device: torch.device, spec: ModelSpec, precision: str = "fp32") -> int:
    """Windows per forward pass: fixed on CPU, sized to free memory from the measured table on a GPU."""
    if device.type != "cuda":
        return BATCH_POLICY.cpu
    free, _total = torch.cuda.mem_get_info(device)
    return batch_for_memory(free, spec, precision)


def _is_oom(err: BaseException) -> bool:
    if isinstance(err, torch.OutOfMemoryError):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def map_in_batches(items: Sequence[T], run: Callable[..., None], batch_size: int, *,
                   device: torch.device, on_batch: Callable[[int], None] | None = None,
                   pass_size: bool = False) -> int:
    """Call ``run`` on consecutive chunks of ``items``; on out-of-memory halve the chunk and retry.

    Returns the batch size that worked last. Raises DeviceOutOfMemoryError when even one item fails.
    ``on_batch(done)`` is told how many items are finished after each successful chunk. With
    ``pass_size`` ``run(chunk, size)`` also gets the current batch size (to pad the last chunk to it).
    """
    size = max(1, int(batch_size))
    done = 0
    while done < len(items):
        chunk = items[done:done + size]
        try:
            if pass_size:
                run(chunk, size)
            else:
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
    """Same numbers, faster kernels. CPU: linear layers through oneDNN instead of MKL (2x on AMD CPUs,
    see ``geofm.inference.onednn``; channels_last measured no faster). CUDA: 2-D conv weights
    channels_last (cuDNN's native NHWC) and cuDNN autotuning (every window has the same shape)."""
    if device.type != "cuda":
        use_onednn_linears(model)
        return model
    torch.backends.cudnn.benchmark = True
    for mod in model.modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            mod.to(memory_format=torch.channels_last)
        elif isinstance(mod, FoldedUpsampleHead):
            mod.weight = mod.weight.contiguous(memory_format=torch.channels_last)
    return model
