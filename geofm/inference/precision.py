"""The numeric precision of a run: what ``auto`` picks on each device, and the autocast that applies it.

``choose_precision`` is a pure function of the request, the device type and the GPU's compute capability,
so it is testable without a GPU; ``resolve_precision`` asks the real device. ``None`` as the request means
the operator's setting (``GEOFM_PRECISION`` in ``geofm.settings``; default ``auto``).
"""

from __future__ import annotations

import contextlib
import logging

import torch

from geofm.config import PRECISION_POLICY, PRECISIONS, PrecisionPolicy
from geofm.errors import InputError
from geofm.settings import settings

log = logging.getLogger(__name__)

DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def check_precision(name: str | None) -> str:
    """Normalise a precision name (``auto``, ``bf16``, ``fp16``, ``fp32``); raises InputError otherwise."""
    value = (name or "auto").strip().lower()
    if value not in PRECISIONS:
        raise InputError(f"Unknown precision {name!r}; use {', '.join(PRECISIONS)}.")
    return value


def requested_precision(requested: str | None = None) -> str:
    """The request, or the operator's ``GEOFM_PRECISION`` (``geofm.settings``) when it is None."""
    if requested is None:
        return settings().precision
    return check_precision(requested)


def choose_precision(requested: str, device_type: str, capability: tuple[int, int] | None = None, *,
                     policy: PrecisionPolicy = PRECISION_POLICY) -> str:
    """``bf16``, ``fp16`` or ``fp32`` for a request on a device.

    ``capability`` is the CUDA compute capability (major, minor) (ignored on CPU). ``auto``: bf16 on
    GPUs with native bf16 (>= ``policy.bf16_min_capability``), fp16 on older GPUs, ``policy.cpu_auto``
    on CPU. An explicit bf16 on a GPU without bf16 support is an error (it would be emulated, slowly).
    """
    want = check_precision(requested)
    if device_type == "cuda":
        native_bf16 = capability is not None and tuple(capability) >= policy.bf16_min_capability
        if want == "auto":
            return "bf16" if native_bf16 else "fp16"
        if want == "bf16" and not native_bf16:
            cc = ".".join(map(str, capability)) if capability else "unknown"
            raise InputError(f"This GPU (compute capability {cc}) has no native bf16; use fp16 or fp32.")
        return want
    if want == "auto":
        return policy.cpu_auto
    return want


def device_capability(device: torch.device) -> tuple[int, int] | None:
    """The CUDA compute capability of ``device``; None on CPU."""
    if device.type != "cuda":
        return None
    return tuple(torch.cuda.get_device_capability(device))  # type: ignore[return-value]


def resolve_precision(requested: str | None, device: torch.device) -> str:
    """The precision a run on ``device`` uses for ``requested`` (None = operator setting, else auto)."""
    return choose_precision(requested_precision(requested), device.type, device_capability(device))


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast to bf16/fp16 on ``device``; nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


def needs_fp32_retry(precision: str, output: torch.Tensor) -> bool:
    """fp16 has a small range (max 65504): a batch whose output is not finite is rerun in fp32."""
    if precision != "fp16" or bool(torch.isfinite(output).all()):
        return False
    log.warning("fp16 overflowed in a batch; running that batch again in fp32")
    return True
