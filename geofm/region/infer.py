"""Model runs on a chunk's read extent that reproduce, on the core, the single-process engines exactly.

``segment_core`` slides the windows over the extent (the chunk's windows are, by construction of the extent,
exactly the single-process windows that touch the core) and classifies the core. ``reconstruct_core`` runs the
core's non-overlapping MAE windows with the bottom/right reflection and the masking noise each window has in a
single-process run of the zone grid.
"""

from __future__ import annotations

import numpy as np
import torch

from geofm.config import HLS_NODATA, ModelSpec
from geofm.data.grid import Grid
from geofm.inference.device import default_batch_size, map_in_batches
from geofm.inference.precision import autocast, needs_fp32_retry, resolve_precision
from geofm.inference.prepare import denormalise_mae, prepare_input
from geofm.inference.reconstruct import mask_noise, pad_amount, tl_coordinates
from geofm.inference.sliding import classify, slide_logits, window_origins
from geofm.region.chunks import Span
from geofm.stack import HLSStack


def segment_core(model: torch.nn.Module, spec: ModelSpec, stack: HLSStack, extent: Span, core: Span, *,
                 device: torch.device, batch_size: int | None, precision: str | None = None
                 ) -> tuple[np.ndarray, int]:
    """Class map of the core from a stack covering ``extent``; returns (classes, windows run).

    ``precision``: auto, bf16, fp16, fp32, or None for the operator's (``GEOFM_PRECISION``, else auto), resolved
    for ``device`` as ``geofm run`` resolves it: a region equals a run of the same settings."""
    x = torch.from_numpy(prepare_input(stack.data, spec))
    precision = resolve_precision(precision, device)
    bs = batch_size or default_batch_size(device, spec, precision)
    logits = slide_logits(model, x, len(spec.classes), window=spec.window, stride=spec.stride, batch_size=bs,
                          device=device, precision=precision)
    rows, cols = core.within(extent)
    valid = np.asarray(stack.valid)[:, rows, cols].all(axis=0)
    classes, _ = classify(logits[:, rows, cols], valid)
    h, w = extent.height, extent.width
    return classes, len(window_origins(max(h, spec.window), max(w, spec.window), spec.window, spec.stride))


def reconstruct_core(model: torch.nn.Module, spec: ModelSpec, stack: HLSStack, extent: Span, core: Span,
                     zone: Grid, *, device: torch.device, batch_size: int | None, mask_ratio: float,
                     seed: int, precision: str | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """MAE reconstruction of the core, windows and masks exactly as ``reconstruct_stack`` on the zone grid.

    Returns ((T, 6, h, w) float32 DN with nodata -9999, (T, h, w) hidden mask, windows run). ``precision`` as in
    ``segment_core``.
    """
    chosen = resolve_precision(precision, device)
    win, p = spec.window, spec.encoder.patch_size
    t = stack.num_frames
    x = prepare_input(stack.data, spec)
    ph = pad_amount(zone.height, win) if extent.row1 == zone.height else 0
    pw = pad_amount(zone.width, win) if extent.col1 == zone.width else 0
    xp = torch.from_numpy(np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect"))
    per_row = (zone.width + pad_amount(zone.width, win)) // win
    gys = list(range(core.row0, core.row1, win))
    gxs = list(range(core.col0, core.col1, win))
    origins = [(gy, gx) for gy in gys for gx in gxs]
    index = [(gy // win) * per_row + gx // win for gy, gx in origins]
    tokens = (t // spec.encoder.tubelet_size) * (win // p) ** 2
    noise = mask_noise(max(index) + 1, tokens, seed)[index]
    ch, cw = len(gys) * win, len(gxs) * win
    composed = torch.empty((xp.shape[0], t, ch, cw), dtype=xp.dtype)
    hidden = torch.zeros((t, ch, cw), dtype=torch.bool)
    whole = HLSStack(np.broadcast_to(np.zeros((), np.int16), (t, 6, zone.height, zone.width)),
                     np.broadcast_to(np.zeros((), bool), (t, zone.height, zone.width)), zone.crs, zone.transform,
                     stack.times, stack.scene_ids)
    temporal, location = tl_coordinates(whole, spec)

    def run(batch: list[int]) -> None:
        tiles = torch.stack([xp[..., gy - extent.row0:gy - extent.row0 + win, gx - extent.col0:gx - extent.col0 + win]
                             for gy, gx in (origins[i] for i in batch)]).to(device)
        coords = {}
        if temporal is not None:
            coords["temporal_coords"] = temporal.expand(len(batch), -1, -1).to(device)
        if location is not None:
            coords["location_coords"] = location.expand(len(batch), -1).to(device)
        with torch.inference_mode():
            with autocast(device, chosen):
                pred, mask = model(tiles, mask_ratio, noise=noise[batch].to(device), **coords)
            if needs_fp32_retry(chosen, pred.float()):  # as reconstruct_stack: an fp16 overflow runs again in fp32
                pred, mask = model(tiles, mask_ratio, noise=noise[batch].to(device), **coords)
        pred_img = model.unpatchify(pred.float(), t, win, win)
        mask_img = model.unpatchify(mask.float()[..., None].expand_as(pred), t, win, win)[:, 0] > 0.5
        rec = torch.where(mask_img[:, None], pred_img, tiles.float()).cpu()
        for j, i in enumerate(batch):
            y, x0 = origins[i][0] - core.row0, origins[i][1] - core.col0
            composed[..., y:y + win, x0:x0 + win] = rec[j]
            hidden[:, y:y + win, x0:x0 + win] = mask_img[j].cpu()

    map_in_batches(list(range(len(origins))), run, batch_size or default_batch_size(device, spec, chosen),
                   device=device)
    h, w = core.height, core.width
    rows, cols = core.within(extent)
    rec_dn = denormalise_mae(composed[..., :h, :w].numpy(), spec.norm).transpose(1, 0, 2, 3)
    mask = hidden[:, :h, :w].numpy()
    data = stack.data[:, :, rows, cols]
    valid = np.asarray(stack.valid, dtype=bool)[:, rows, cols]
    rec_dn = np.where(mask[:, None], rec_dn, data)
    rec_dn = np.where(valid[:, None], rec_dn, np.float32(HLS_NODATA)).astype(np.float32)
    return rec_dn, mask, len(origins)
