"""Run a (folded) segmenter over a whole HLS stack: prepare, slide, classify, mask no data."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from geofm.config import ModelSpec
from geofm.errors import InputError
from geofm.inference.device import default_batch_size
from geofm.inference.prepare import prepare_input
from geofm.inference.sliding import classify, slide_logits
from geofm.progress import Progress, null_progress
from geofm.stack import HLSStack, SegmentationResult


def segment_stack(model: nn.Module, spec: ModelSpec, stack: HLSStack, *, device: torch.device,
                  batch_size: int | None = None, probabilities: bool = False,
                  progress: Progress = null_progress) -> SegmentationResult:
    """Class map of ``stack`` (T == spec.num_frames); pixels invalid in any date -> 255."""
    if stack.num_frames != spec.num_frames:
        raise InputError(f"{spec.title} takes {spec.num_frames} date(s); the input has {stack.num_frames}.")
    start = time.perf_counter()
    x = torch.from_numpy(prepare_input(stack.data, spec))
    bs = batch_size or default_batch_size(device, spec)
    logits = slide_logits(model, x, len(spec.classes), window=spec.window, stride=spec.stride,
                          batch_size=bs, device=device, progress=progress)
    valid = np.asarray(np.asarray(stack.valid).all(axis=0))
    classes, probs = classify(logits, valid, probabilities=probabilities)
    return SegmentationResult(
        classes=classes, crs=stack.crs, transform=stack.transform, model=spec.name,
        class_names=tuple(c.name for c in spec.classes), class_colors=tuple(c.color for c in spec.classes),
        probabilities=probs, seconds=time.perf_counter() - start, device=str(device))
