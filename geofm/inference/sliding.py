"""Sliding-window segmentation exactly as the official mmseg ``slide`` mode, batched.

Windows are ``window`` px square at ``stride``; the last row/column of windows is snapped to the image
edge; logits of overlapping windows are averaged, then softmax, then argmax.

Inputs smaller than one window are padded at the bottom/right with **0 in normalised space**, i.e. the
per-band training mean. Reflect padding cannot pad a 1-px image to 224 and would mirror real features
(a river becomes two) into context the model attends to; a constant at the mean adds no structure and is
the value mmseg's own ``Pad`` (after ``Normalize``) uses. The padded pixels are cropped off afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from geofm.config import CLASS_NODATA
from geofm.inference.batcher import run_windows
from geofm.progress import Progress, null_progress


def grid_count(size: int, window: int = 224, stride: int = 112) -> int:
    """Number of window positions along one axis (official formula)."""
    return max(size - window + stride - 1, 0) // stride + 1


def window_starts(size: int, window: int = 224, stride: int = 112) -> list[int]:
    """Start offsets along one axis, the last one snapped so the window ends at the edge."""
    starts = []
    for i in range(grid_count(size, window, stride)):
        end = min(i * stride + window, size)
        starts.append(max(end - window, 0))
    return starts


def window_origins(height: int, width: int, window: int = 224, stride: int = 112) -> list[tuple[int, int]]:
    """(y, x) top-left corners of every window, row-major."""
    return [(y, x) for y in window_starts(height, window, stride) for x in window_starts(width, window, stride)]


def pad_to_window(x: torch.Tensor, window: int) -> torch.Tensor:
    """Zero-pad (normalised units) the last two axes at the bottom/right up to ``window``."""
    h, w = x.shape[-2:]
    ph, pw = max(0, window - h), max(0, window - w)
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="constant", value=0.0)


Forward = Callable[[torch.Tensor], torch.Tensor]


class SlideJob:
    """One input's sliding windows: cuts them, and averages the window logits into (K, H, W)."""

    def __init__(self, x: torch.Tensor, num_classes: int, *, window: int = 224, stride: int = 112,
                 device: torch.device | None = None, progress: Progress = null_progress,
                 coords: dict[str, torch.Tensor] | None = None) -> None:
        self.device = device or torch.device("cpu")
        #: extra model inputs shared by every window (EO-2.0 TL: temporal and location coordinates, batch 1)
        self.coords = coords or {}
        self.window, self.progress = window, progress
        self.height, self.width = x.shape[-2:]
        self.xp = pad_to_window(x, window).to(self.device)
        hp, wp = self.xp.shape[-2:]
        self.origins = window_origins(hp, wp, window, stride)
        self.count = len(self.origins)
        self.total = torch.zeros((num_classes, hp, wp), dtype=torch.float32, device=self.device)
        self.hits = torch.zeros((1, hp, wp), dtype=torch.float32, device=self.device)
        self.where = "GPU" if self.device.type == "cuda" else "CPU"

    def tile(self, index: int) -> torch.Tensor:
        y, x0 = self.origins[index]
        return self.xp[..., y:y + self.window, x0:x0 + self.window]

    def add(self, index: int, logits: torch.Tensor) -> None:
        y, x0 = self.origins[index]
        self.total[:, y:y + self.window, x0:x0 + self.window] += logits
        self.hits[:, y:y + self.window, x0:x0 + self.window] += 1

    def started(self) -> None:
        self.progress("infer", f"window 0 of {self.count} on {self.where}", 0.0)

    def finished(self, done: int) -> None:
        self.progress("infer", f"window {done} of {self.count} on {self.where}", done / self.count)

    def logits(self) -> torch.Tensor:
        """(K, H, W) mean logits, cropped to the input."""
        return (self.total / self.hits)[:, :self.height, :self.width]


def slide_logits(forward: Forward, x: torch.Tensor, num_classes: int, *, window: int = 224, stride: int = 112,
                 batch_size: int = 1, device: torch.device | None = None, precision: str = "fp32",
                 progress: Progress = null_progress, coords: dict[str, torch.Tensor] | None = None
                 ) -> torch.Tensor:
    """Average window logits over a (C, T, H, W) normalised input; returns (K, H, W) float32 on ``device``.

    ``forward`` maps (B, C, T, window, window) -> (B, K, window, window); every call gets ``batch_size``
    windows (see ``geofm.inference.batcher``). ``precision``: ``fp32``, ``bf16`` or ``fp16`` (resolved).
    """
    job = SlideJob(x, num_classes, window=window, stride=stride, device=device, progress=progress, coords=coords)
    job.started()
    run_windows(forward, [job], batch_size, device=job.device, precision=precision)
    return job.logits()


def classify(mean_logits: torch.Tensor, valid: np.ndarray, *,
             probabilities: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Softmax + argmax of (K, H, W) logits; pixels not ``valid`` -> CLASS_NODATA."""
    probs = torch.softmax(mean_logits, dim=0)
    classes = probs.argmax(dim=0).to(torch.uint8).cpu().numpy()
    classes[~valid] = CLASS_NODATA
    return classes, (probs.cpu().numpy().astype(np.float32) if probabilities else None)
