"""Sliding-window segmentation exactly as the official mmseg ``slide`` mode, batched.

Windows are ``window`` px square at ``stride``; the last row/column of windows is snapped to the image
edge; logits of overlapping windows are averaged, then softmax, then argmax.

Inputs smaller than one window are padded at the bottom/right with **0 in normalised space**, i.e. the
per-band training mean. Reflect padding cannot pad a 1-px image to 224 and would mirror real features
(a river becomes two) into context the model attends to; a constant at the mean adds no structure and is
the value mmseg's own ``Pad`` (after ``Normalize``) uses. The padded pixels are cropped off afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from geofm.config import CLASS_NODATA
from geofm.inference.device import autocast_for, map_in_batches
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


def slide_logits(forward: Forward, x: torch.Tensor, num_classes: int, *, window: int = 224, stride: int = 112,
                 batch_size: int = 1, device: torch.device | None = None,
                 progress: Progress = null_progress) -> torch.Tensor:
    """Average window logits over a (C, T, H, W) normalised input; returns (K, H, W) float32 on ``device``.

    ``forward`` maps (B, C, T, window, window) -> (B, K, window, window).
    """
    device = device or torch.device("cpu")
    h, w = x.shape[-2:]
    xp = pad_to_window(x, window).to(device)
    hp, wp = xp.shape[-2:]
    origins = window_origins(hp, wp, window, stride)
    total = torch.zeros((num_classes, hp, wp), dtype=torch.float32, device=device)
    count = torch.zeros((1, hp, wp), dtype=torch.float32, device=device)
    where = "GPU" if device.type == "cuda" else "CPU"

    def run(batch: Sequence[tuple[int, int]]) -> None:
        tiles = torch.stack([xp[..., y:y + window, x0:x0 + window] for y, x0 in batch])
        with torch.inference_mode(), autocast_for(device):
            logits = forward(tiles).float()
        for (y, x0), tile_logits in zip(batch, logits):
            total[:, y:y + window, x0:x0 + window] += tile_logits
            count[:, y:y + window, x0:x0 + window] += 1

    def report(done: int) -> None:
        progress("infer", f"window {done} of {len(origins)} on {where}", done / len(origins))

    progress("infer", f"window 0 of {len(origins)} on {where}", 0.0)
    map_in_batches(origins, run, batch_size, device=device, on_batch=report)
    return (total / count)[:, :h, :w]


def classify(mean_logits: torch.Tensor, valid: np.ndarray, *,
             probabilities: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Softmax + argmax of (K, H, W) logits; pixels not ``valid`` -> CLASS_NODATA."""
    probs = torch.softmax(mean_logits, dim=0)
    classes = probs.argmax(dim=0).to(torch.uint8).cpu().numpy()
    classes[~valid] = CLASS_NODATA
    return classes, (probs.cpu().numpy().astype(np.float32) if probabilities else None)
