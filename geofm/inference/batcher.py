"""Windows of one or many runs through one model in fixed-size batches.

Every forward pass gets exactly ``batch_size`` windows: the last batch is padded with zero windows whose
output is dropped. A window's numbers therefore never depend on what else shares its batch: the kernels
see the same shapes (on a GPU the library picks its kernels per shape). On CPU fp32 the segmenters' bits
depend on neither the batch size nor the thread count since their folded head runs as oneDNN inner products
(``geofm.models.fold``; before, oneDNN's convolutions there gave other bits for e.g. batch 3 on 2 threads); the
fixed size stays for the GPU. That is what lets several runs of the same model share batches (``run_windows``
over several jobs) with results identical to each run alone, and it keeps shapes static for cuDNN autotuning
and ``torch.compile``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import torch

from geofm.inference.device import map_in_batches
from geofm.inference.precision import autocast, needs_fp32_retry

Forward = Callable[[torch.Tensor], torch.Tensor]


class WindowJob(Protocol):
    """One run's windows: ``count`` of them, cut by ``tile(i)``, their outputs handed to ``add(i, out)``."""

    count: int

    def tile(self, index: int) -> torch.Tensor: ...

    def add(self, index: int, output: torch.Tensor) -> None: ...

    def finished(self, done: int) -> None: ...


def forward_batch(forward: Forward, tiles: torch.Tensor, device: torch.device, precision: str,
                  **extra: torch.Tensor) -> torch.Tensor:
    """``forward(tiles, **extra)`` under ``precision``'s autocast, as float32; an fp16 overflow reruns in fp32."""
    with torch.inference_mode():
        with autocast(device, precision):
            out = forward(tiles, **extra).float()
        if needs_fp32_retry(precision, out):
            out = forward(tiles, **extra).float()
    return out


def _window_extras(jobs: Sequence[WindowJob], owners: list[int], size: int, device: torch.device
                   ) -> dict[str, torch.Tensor]:
    """Per-window extra inputs (each job's ``coords``, batch 1) stacked in batch order; padding windows repeat
    the last one's. Empty when the jobs have none."""
    first = getattr(jobs[owners[0]], "coords", None) or {}
    if not first:
        return {}
    owners = owners + [owners[-1]] * (size - len(owners))
    return {name: torch.cat([getattr(jobs[j], "coords", {})[name] for j in owners]).to(device) for name in first}


def run_windows(forward: Forward, jobs: Sequence[WindowJob], batch_size: int, *, device: torch.device,
                precision: str = "fp32") -> int:
    """Run every window of every job, in job order, ``batch_size`` windows per forward (last one padded).

    Batches span job boundaries: the windows of several runs share forward passes. Each job's
    ``finished(done)`` is told after each batch that held some of its windows. Returns the batch size
    that worked last (it halves on out-of-memory, see ``map_in_batches``).
    """
    items = [(j, i) for j, job in enumerate(jobs) for i in range(job.count)]
    done = [0] * len(jobs)

    def run(chunk: Sequence[tuple[int, int]], size: int) -> None:
        tiles = [jobs[j].tile(i) for j, i in chunk]
        if len(tiles) < size:
            tiles.extend([torch.zeros_like(tiles[0])] * (size - len(tiles)))
        extra = _window_extras(jobs, [j for j, _ in chunk], size, device)
        out = forward_batch(forward, torch.stack(tiles).to(device), device, precision, **extra)
        touched: list[int] = []
        for (j, i), window_out in zip(chunk, out):
            jobs[j].add(i, window_out)
            done[j] += 1
            if not touched or touched[-1] != j:
                touched.append(j)
        for j in touched:
            jobs[j].finished(done[j])

    if not items:
        return batch_size
    return map_in_batches(items, run, batch_size, device=device, pass_size=True)
