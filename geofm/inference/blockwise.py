"""Segment a raster too large for memory block by block, with the same result as the whole-image engine.

The whole-image engine averages the logits of every window of one global grid (``window_origins``) over each
pixel. Here the output is cut into blocks; for each block, every global window that touches it is run on a
region read with that halo, so each pixel averages exactly the windows it would in a whole-image run (same
windows, same order), and only one region is in memory at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from geofm.config import ModelSpec
from geofm.inference.device import autocast_for, map_in_batches
from geofm.inference.prepare import prepare_input
from geofm.inference.sliding import classify, window_starts
from geofm.progress import Progress, null_progress

#: Reads the region rows y0:y1, columns x0:x1 as ((T, 6, h, w) int16 DN, (T, h, w) bool valid).
ReadRegion = Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]]
#: Receives a block's top-left corner, its class map (h, w) uint8 and probabilities (K, h, w) or None.
TakeBlock = Callable[[int, int, np.ndarray, np.ndarray | None], None]


def _touching(starts: list[int], lo: int, hi: int, window: int) -> list[int]:
    return [s for s in starts if s < hi and s + window > lo]


def segment_blocks(model: nn.Module, spec: ModelSpec, read: ReadRegion, height: int, width: int, take: TakeBlock, *,
                   block: int = 1024, device: torch.device, batch_size: int = 1, probabilities: bool = False,
                   progress: Progress = null_progress) -> None:
    """Run ``model`` over a ``height`` x ``width`` raster block by block (each at most ``block`` px a side).

    The raster must be at least one window in each direction (smaller inputs fit in memory anyway).
    """
    window, stride = spec.window, spec.stride
    if height < window or width < window:
        raise ValueError("block-wise segmentation needs a raster of at least one window each way")
    ys, xs = window_starts(height, window, stride), window_starts(width, window, stride)
    blocks = [(y, x) for y in range(0, height, block) for x in range(0, width, block)]
    k = len(spec.classes)
    for done, (by, bx) in enumerate(blocks, 1):
        by1, bx1 = min(by + block, height), min(bx + block, width)
        wy, wx = _touching(ys, by, by1, window), _touching(xs, bx, bx1, window)
        ry, rx = wy[0], wx[0]
        ry1, rx1 = wy[-1] + window, wx[-1] + window
        data, valid = read(ry, ry1, rx, rx1)
        x = torch.from_numpy(prepare_input(data, spec)).to(device)
        total = torch.zeros((k, ry1 - ry, rx1 - rx), dtype=torch.float32, device=device)
        count = torch.zeros((1, ry1 - ry, rx1 - rx), dtype=torch.float32, device=device)
        origins = [(y - ry, x0 - rx) for y in wy for x0 in wx]

        def run(batch, x=x, total=total, count=count) -> None:  # noqa: ANN001
            tiles = torch.stack([x[..., y:y + window, x0:x0 + window] for y, x0 in batch])
            with torch.inference_mode(), autocast_for(device):
                logits = model(tiles).float()
            for (y, x0), tile in zip(batch, logits):
                total[:, y:y + window, x0:x0 + window] += tile
                count[:, y:y + window, x0:x0 + window] += 1

        map_in_batches(origins, run, batch_size, device=device)
        sl = (slice(by - ry, by1 - ry), slice(bx - rx, bx1 - rx))
        mean = (total / count)[:, sl[0], sl[1]]
        classes, probs = classify(mean, np.asarray(valid.all(axis=0))[sl], probabilities=probabilities)
        take(by, bx, classes, probs)
        progress("infer", f"block {done} of {len(blocks)} ({len(origins)} windows)", done / len(blocks))
