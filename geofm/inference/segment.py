"""Run a (folded) segmenter over whole HLS stacks: prepare, slide, classify, mask no data.

``segment_stacks`` runs several stacks through one model at once: their windows share forward passes
(``geofm.inference.batcher``), and each result is identical to ``segment_stack`` of that stack alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from geofm.config import ModelSpec
from geofm.errors import InputError
from geofm.inference.batcher import run_windows
from geofm.inference.coords import fine_tune_coords
from geofm.inference.device import default_batch_size
from geofm.inference.precision import resolve_precision
from geofm.inference.prepare import prepare_input
from geofm.inference.sliding import SlideJob, classify
from geofm.progress import Progress, null_progress
from geofm.stack import HLSStack, SegmentationResult


def segment_stacks(model: nn.Module, spec: ModelSpec, stacks: Sequence[HLSStack], *, device: torch.device,
                   batch_size: int | None = None, precision: str | None = None,
                   probabilities: bool | Sequence[bool] = False,
                   progress: Progress | Sequence[Progress] = null_progress) -> list[SegmentationResult]:
    """Class maps of ``stacks`` (each T == spec.num_frames), windows of all stacks batched together.

    ``probabilities`` and ``progress`` may be given per stack. ``precision``: auto, bf16, fp16, fp32 or
    None (the operator's setting, else auto).
    """
    n = len(stacks)
    probs_wanted = list(probabilities) if isinstance(probabilities, Sequence) else [probabilities] * n
    progresses = list(progress) if isinstance(progress, Sequence) else [progress] * n
    for stack in stacks:
        if stack.num_frames != spec.num_frames:
            raise InputError(f"{spec.title} takes {spec.num_frames} date(s); the input has {stack.num_frames}.")
    chosen = resolve_precision(precision, device)
    start = time.perf_counter()
    jobs = [SlideJob(torch.from_numpy(prepare_input(s.data, spec)), len(spec.classes), window=spec.window,
                     stride=spec.stride, device=device, progress=p, coords=fine_tune_coords(s, spec, model))
            for s, p in zip(stacks, progresses)]
    for job in jobs:
        job.started()
    bs = batch_size or default_batch_size(device, spec, chosen)
    run_windows(model, jobs, bs, device=device, precision=chosen)
    seconds = time.perf_counter() - start
    results = []
    for stack, job, want in zip(stacks, jobs, probs_wanted):
        valid = np.asarray(np.asarray(stack.valid).all(axis=0))
        classes, probs = classify(job.logits(), valid, probabilities=want)
        results.append(SegmentationResult(
            classes=classes, crs=stack.crs, transform=stack.transform, model=spec.name,
            class_names=tuple(c.name for c in spec.classes), class_colors=tuple(c.color for c in spec.classes),
            probabilities=probs, seconds=seconds, device=str(device), precision=chosen))
    return results


def segment_stack(model: nn.Module, spec: ModelSpec, stack: HLSStack, *, device: torch.device,
                  batch_size: int | None = None, probabilities: bool = False, precision: str | None = None,
                  progress: Progress = null_progress) -> SegmentationResult:
    """Class map of ``stack`` (T == spec.num_frames); pixels invalid in any date -> 255."""
    return segment_stacks(model, spec, [stack], device=device, batch_size=batch_size, precision=precision,
                          probabilities=probabilities, progress=progress)[0]
