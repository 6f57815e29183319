"""fp32 linear layers through oneDNN on CPU.

PyTorch runs an fp32 ``nn.Linear`` on CPU as an MKL ``sgemm``. On AMD CPUs MKL takes its generic AVX2
path: on this project's bench machine (AMD EPYC, AVX-512) it reaches ~210 GFLOP/s on the transformer's
shapes, while oneDNN's JIT kernels (the ones ``Conv2d`` already uses) reach ~450 GFLOP/s on the same
matrices. ``use_onednn_linears`` swaps every ``nn.Linear`` for :class:`OneDNNLinear`, which calls oneDNN's
inner product for fp32 CPU tensors and falls back to ``F.linear`` for anything else (CUDA, autocast,
bf16/fp16, or a PyTorch without the op). Same parameters, same state-dict keys, results equal to fp32
rounding (different summation order).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

_STATE = {"enabled": True}


@contextlib.contextmanager
def plain_linears() -> Iterator[None]:
    """Inside the block every linear runs as ``F.linear`` (e.g. for torch's FLOP counter, which does not
    see oneDNN's op)."""
    before = _STATE["enabled"]
    _STATE["enabled"] = False
    try:
        yield
    finally:
        _STATE["enabled"] = before


def onednn_linear_available() -> bool:
    """True when this PyTorch has oneDNN and its pointwise linear op."""
    return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear``, through oneDNN for fp32 CPU tensors outside autocast and autograd."""
    if (x.device.type != "cpu" or x.dtype != torch.float32 or weight.dtype != torch.float32
            or torch.is_autocast_enabled("cpu") or torch.is_grad_enabled() and weight.requires_grad
            or not _STATE["enabled"] or not onednn_linear_available()):
        return F.linear(x, weight, bias)
    # oneDNN reads the bias as dense memory: a strided view (e.g. a column of a map) would give wrong sums
    bias = bias.contiguous() if bias is not None else None
    return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight.contiguous(), bias, "none", [], "")


class OneDNNLinear(nn.Linear):
    """``nn.Linear`` whose fp32 CPU forward runs oneDNN's inner product."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


def use_onednn_linears(model: nn.Module) -> int:
    """Turn every plain ``nn.Linear`` of ``model`` into an :class:`OneDNNLinear` in place; returns how many.

    Does nothing (returns 0) when oneDNN's linear is not available.
    """
    if not onednn_linear_available():
        return 0
    count = 0
    for mod in model.modules():
        if type(mod) is nn.Linear:
            mod.__class__ = OneDNNLinear
            count += 1
    return count
