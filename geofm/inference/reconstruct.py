"""Masked-autoencoder reconstruction of a whole HLS stack, as the official ``inference.py`` does it.

Reflect-pad bottom/right to a multiple of the window, cut non-overlapping windows, hide ``mask_ratio``
of each window's tokens (noise from ``torch.Generator().manual_seed(seed)``, drawn for all windows in
row-major order, so the mask does not depend on batch size or device), compose visible input + predicted
hidden patches, un-normalise to DN. The display RGBs (one shared stretch) are made in
``geofm.render.preview.with_display_rgbs``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from rasterio.warp import transform as warp_transform
from torch import nn

from geofm.config import HLS_NODATA, ModelSpec
from geofm.errors import InputError
from geofm.inference.device import default_batch_size, map_in_batches
from geofm.inference.precision import autocast, needs_fp32_retry, resolve_precision
from geofm.inference.prepare import denormalise_mae, prepare_input
from geofm.progress import Progress, null_progress
from geofm.stack import HLSStack, ReconstructionResult


def pad_amount(size: int, window: int) -> int:
    """Pixels to add so ``size`` becomes a multiple of ``window`` (0 when it already is)."""
    return (window - size % window) % window


def tl_coordinates(stack: HLSStack, spec: ModelSpec) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """EO-2.0 "TL" models: (year, day of year) per date, shape (1, T, 2), and the (lon, lat) of the stack's
    centre, shape (1, 2). ``(None, None)`` for other models; time is None when a date is unknown (the
    encoders are optional: pretraining dropped them for 10 % of the samples)."""
    if not spec.encoder.coords_encoding:
        return None, None
    h, w = stack.shape
    cx, cy = stack.transform @ (w / 2, h / 2)
    lon, lat = warp_transform(stack.crs, "EPSG:4326", [cx], [cy])
    location = torch.tensor([[lon[0], lat[0]]], dtype=torch.float32)
    times = [t for t in (stack.times or []) if t is not None]
    if len(times) != stack.num_frames:
        return None, location
    temporal = torch.tensor([[[t.year, t.timetuple().tm_yday] for t in times]], dtype=torch.float32)
    return temporal, location


def mask_noise(num_windows: int, tokens: int, seed: int) -> torch.Tensor:
    """(num_windows, tokens) uniform noise from one seeded CPU generator: the masks are reproducible."""
    return torch.rand(num_windows, tokens, generator=torch.Generator().manual_seed(int(seed)))


def reconstruct_stack(model: nn.Module, spec: ModelSpec, stack: HLSStack, *, device: torch.device,
                      mask_ratio: float = 0.75, seed: int = 0, batch_size: int | None = None,
                      precision: str | None = None, progress: Progress = null_progress) -> ReconstructionResult:
    """Reconstruction of every date of ``stack`` (1..spec.num_frames dates); ``precision`` as in
    ``geofm.inference.precision.resolve_precision``."""
    if not 0.0 <= mask_ratio < 1.0:
        raise InputError(f"The mask ratio must be at least 0 and below 1; got {mask_ratio}.")
    start = time.perf_counter()
    t, _, h, w = stack.data.shape
    win, p = spec.window, spec.encoder.patch_size
    x = prepare_input(stack.data, spec)  # (6, T, H, W); checks T
    ph, pw = pad_amount(h, win), pad_amount(w, win)
    xp = torch.from_numpy(np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect"))
    hp, wp = h + ph, w + pw
    origins = [(y, x0) for y in range(0, hp, win) for x0 in range(0, wp, win)]
    tokens = (t // spec.encoder.tubelet_size) * (win // p) ** 2
    noise = mask_noise(len(origins), tokens, seed)
    composed = torch.empty_like(xp)
    hidden = torch.zeros((t, hp, wp), dtype=torch.bool)
    where = "GPU" if device.type == "cuda" else "CPU"
    temporal, location = tl_coordinates(stack, spec)
    chosen = resolve_precision(precision, device)

    def run(batch: Sequence[int]) -> None:
        idx = list(batch)
        tiles = torch.stack([xp[..., y:y + win, x0:x0 + win] for y, x0 in (origins[i] for i in idx)]).to(device)
        coords = {}
        if temporal is not None:
            coords["temporal_coords"] = temporal.expand(len(idx), -1, -1).to(device)
        if location is not None:
            coords["location_coords"] = location.expand(len(idx), -1).to(device)
        with torch.inference_mode():
            with autocast(device, chosen):
                pred, mask = model(tiles, mask_ratio, noise=noise[idx].to(device), **coords)
            if needs_fp32_retry(chosen, pred.float()):
                pred, mask = model(tiles, mask_ratio, noise=noise[idx].to(device), **coords)
        pred_img = model.unpatchify(pred.float(), t, win, win)
        mask_img = model.unpatchify(mask.float()[..., None].expand_as(pred), t, win, win)[:, 0] > 0.5
        rec = torch.where(mask_img[:, None], pred_img, tiles.float()).cpu()
        for j, i in enumerate(idx):
            y, x0 = origins[i]
            composed[..., y:y + win, x0:x0 + win] = rec[j]
            hidden[:, y:y + win, x0:x0 + win] = mask_img[j].cpu()

    def report(done: int) -> None:
        progress("infer", f"window {done} of {len(origins)} on {where}", done / len(origins))

    progress("infer", f"window 0 of {len(origins)} on {where}", 0.0)
    map_in_batches(list(range(len(origins))), run, batch_size or default_batch_size(device, spec, chosen),
                   device=device, on_batch=report)

    rec_dn = denormalise_mae(composed[..., :h, :w].numpy(), spec.norm).transpose(1, 0, 2, 3)  # (T, 6, H, W)
    mask = hidden[:, :h, :w].numpy()
    rec_dn = np.where(mask[:, None], rec_dn, stack.data)  # visible pixels: the input DN exactly
    valid = np.asarray(stack.valid, dtype=bool)
    rec_dn = np.where(valid[:, None], rec_dn, np.float32(HLS_NODATA)).astype(np.float32)
    no_display = np.zeros((t, 0, 0, 3), np.uint8)  # display RGBs: geofm.render.preview.with_display_rgbs
    return ReconstructionResult(
        original_rgb=no_display, masked_rgb=no_display, reconstructed_rgb=no_display, mask=mask,
        reconstructed=rec_dn, crs=stack.crs, transform=stack.transform, model=spec.name,
        mask_ratio=float(mask_ratio), seed=int(seed), seconds=time.perf_counter() - start, device=str(device),
        precision=chosen)
