"""Fixed sin-cos position embeddings of the Prithvi ViTs (1-D and 3-D, as in the published models)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch


def sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    """(M,) positions -> (M, dim) float64 table: ``[sin(p*w), cos(p*w)]`` with ``w = 1/10000**(i/(dim/2))``."""
    if dim % 2:
        raise ValueError(f"sin-cos embedding needs an even dimension, got {dim}")
    omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
    omega = 1.0 / 10000**omega
    out = np.outer(np.asarray(positions, dtype=np.float64).reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_3d_numpy(dim: int, grid: tuple[int, int, int], cls_token: bool = True) -> np.ndarray:
    """(t*h*w [+1], dim) float64 table; features in (w, h, t) order, tokens t-major then h then w."""
    if dim % 16:
        raise ValueError(f"3-D sin-cos embedding needs a dimension divisible by 16, got {dim}")
    t, h, w = grid
    wh_dim, t_dim = dim // 16 * 6, dim // 16 * 4
    w_emb = np.tile(sincos_1d(wh_dim, np.arange(w)), (t * h, 1))
    h_emb = np.tile(np.repeat(sincos_1d(wh_dim, np.arange(h)), w, axis=0), (t, 1))
    t_emb = np.repeat(sincos_1d(t_dim, np.arange(t)), h * w, axis=0)
    table = np.concatenate([w_emb, h_emb, t_emb], axis=1)
    if cls_token:
        table = np.concatenate([np.zeros((1, dim)), table], axis=0)
    return table


@lru_cache(maxsize=32)
def _sincos_3d_cpu(dim: int, grid: tuple[int, int, int]) -> torch.Tensor:
    return torch.from_numpy(sincos_3d_numpy(dim, grid)).float().unsqueeze(0)


def sincos_3d(dim: int, grid: tuple[int, int, int]) -> torch.Tensor:
    """(1, 1 + t*h*w, dim) float32 table with a zero CLS row first (a fresh copy)."""
    return _sincos_3d_cpu(dim, tuple(int(g) for g in grid)).clone()


def sincos_1d_torch(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """Float-tensor version of :func:`sincos_1d` (for year / day-of-year / lon / lat encodings)."""
    if dim % 2:
        raise ValueError(f"sin-cos embedding needs an even dimension, got {dim}")
    omega = torch.arange(dim // 2, dtype=positions.dtype, device=positions.device) / (dim / 2.0)
    omega = 1.0 / 10000**omega
    out = positions.reshape(-1, 1) * omega.reshape(1, -1)
    return torch.cat([torch.sin(out), torch.cos(out)], dim=1)
