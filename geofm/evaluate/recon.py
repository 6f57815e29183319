"""Reconstruction against the pixels it hid: PSNR, error per band, a per-patch error map, and the same for a
naive baseline that fills each hidden patch from its visible neighbours."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Reflectance 1.0 in HLS DN: the peak value of PSNR.
PSNR_PEAK_DN = 10_000.0


@dataclass(frozen=True)
class ReconScores:
    """Errors over hidden, valid pixels (DN), all dates."""

    psnr_db: float
    rmse_per_band: tuple[float, ...]
    mae_per_band: tuple[float, ...]
    pixels: int

    def as_dict(self) -> dict[str, object]:
        return {"psnr_db": self.psnr_db, "rmse_per_band": list(self.rmse_per_band),
                "mae_per_band": list(self.mae_per_band), "pixels": self.pixels}


def scores(original: np.ndarray, predicted: np.ndarray, hidden: np.ndarray, valid: np.ndarray) -> ReconScores:
    """PSNR (peak = reflectance 1.0) and per-band RMSE / MAE over pixels hidden and valid.

    original, predicted: (T, B, H, W) DN; hidden, valid: (T, H, W) bool.
    """
    sel = np.asarray(hidden, bool) & np.asarray(valid, bool)
    n = int(sel.sum())
    bands = original.shape[1]
    if n == 0:
        nan = tuple(float("nan") for _ in range(bands))
        return ReconScores(float("nan"), nan, nan, 0)
    diff = (predicted.astype(np.float64) - original.astype(np.float64)).transpose(1, 0, 2, 3)[:, sel]  # (B, n)
    mse_b = (diff ** 2).mean(axis=1)
    mse = float(mse_b.mean())
    psnr = float("inf") if mse == 0 else float(10 * np.log10(PSNR_PEAK_DN ** 2 / mse))
    return ReconScores(psnr, tuple(float(v) for v in np.sqrt(mse_b)), tuple(float(v) for v in np.abs(diff).mean(1)),
                       n)


def patch_error_map(original: np.ndarray, predicted: np.ndarray, hidden: np.ndarray, valid: np.ndarray,
                    patch: int) -> np.ndarray:
    """(H, W) float32: RMSE (DN, all dates and bands) of each patch-grid cell over its hidden, valid pixels;
    NaN where nothing was hidden."""
    t, b, h, w = original.shape
    gh, gw = -(-h // patch), -(-w // patch)
    sel = (np.asarray(hidden, bool) & np.asarray(valid, bool))
    sq = ((predicted.astype(np.float64) - original.astype(np.float64)) ** 2).sum(axis=1) * sel  # (T, H, W)
    cnt = sel.astype(np.float64) * b
    pad = ((0, 0), (0, gh * patch - h), (0, gw * patch - w))
    sq = np.pad(sq, pad).reshape(t, gh, patch, gw, patch).sum(axis=(0, 2, 4))
    cnt = np.pad(cnt, pad).reshape(t, gh, patch, gw, patch).sum(axis=(0, 2, 4))
    with np.errstate(invalid="ignore", divide="ignore"):
        cell = np.where(cnt > 0, np.sqrt(sq / np.maximum(cnt, 1)), np.nan)
    return np.repeat(np.repeat(cell, patch, axis=0), patch, axis=1)[:h, :w].astype(np.float32)


def _fill_from_neighbours(grid: np.ndarray) -> np.ndarray:
    """Fill NaN cells with the mean of their known 4-neighbours, ring by ring inwards (a NaN-only grid stays)."""
    g = grid.copy()
    for _ in range(g.shape[0] + g.shape[1]):
        unknown = np.isnan(g)
        if not unknown.any() or unknown.all():
            break
        known = np.pad(~unknown, 1)
        vals = np.pad(np.where(unknown, 0.0, g), 1)
        s = vals[:-2, 1:-1] + vals[2:, 1:-1] + vals[1:-1, :-2] + vals[1:-1, 2:]
        c = (known[:-2, 1:-1].astype(int) + known[2:, 1:-1] + known[1:-1, :-2] + known[1:-1, 2:])
        take = unknown & (c > 0)
        g[take] = s[take] / c[take]
    return g


def neighbour_baseline(original: np.ndarray, hidden: np.ndarray, valid: np.ndarray, patch: int) -> np.ndarray:
    """The naive guess: each hidden patch filled with the mean of its visible neighbour patches (per date and
    band; patches further inside a hidden region take the mean of the ring filled before them). Visible pixels
    keep their values. Returns (T, B, H, W) float32 DN."""
    t, b, h, w = original.shape
    gh, gw = -(-h // patch), -(-w // patch)
    out = original.astype(np.float32).copy()
    pad = ((0, gh * patch - h), (0, gw * patch - w))
    for ti in range(t):
        seen = ~np.asarray(hidden[ti], bool) & np.asarray(valid[ti], bool)
        cnt = np.pad(seen.astype(np.float64), pad).reshape(gh, patch, gw, patch).sum(axis=(1, 3))
        hid_cells = np.pad(np.asarray(hidden[ti], bool), pad).reshape(gh, patch, gw, patch).any(axis=(1, 3))
        for bi in range(b):
            s = np.pad(original[ti, bi].astype(np.float64) * seen, pad).reshape(gh, patch, gw, patch).sum(axis=(1, 3))
            with np.errstate(invalid="ignore", divide="ignore"):
                grid = np.where((cnt > 0) & ~hid_cells, s / np.maximum(cnt, 1), np.nan)
            filled = _fill_from_neighbours(grid)
            if np.isnan(filled).any():
                mean = float(original[ti, bi][seen].mean()) if seen.any() else 0.0
                filled = np.where(np.isnan(filled), mean, filled)
            full = np.repeat(np.repeat(filled, patch, axis=0), patch, axis=1)[:h, :w]
            out[ti, bi] = np.where(hidden[ti], full, out[ti, bi])
    return out
