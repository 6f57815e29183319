"""The Prithvi ViT encoder: 3-D patch embedding, sin-cos position embedding, timm-style blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geofm.config import ViTConfig
from geofm.models.pos_embed import sincos_1d_torch, sincos_3d


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (timm parameter names)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embedding dimension {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed3D(nn.Module):
    """Conv3d with kernel = stride = (tubelet, p, p); output tokens in (t, h, w) order."""

    def __init__(self, cfg: ViTConfig, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = (cfg.tubelet_size, cfg.patch_size, cfg.patch_size)
        self.proj = nn.Conv3d(cfg.in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


def _add_scale(module: nn.Module, learn: bool) -> None:
    """The coordinate encoders' ``scale``: a learnt parameter (initial 0.1) or a fixed buffer of 1."""
    if learn:
        module.scale = nn.Parameter(torch.full((1,), 0.1))
    else:
        module.register_buffer("scale", torch.ones(1))


class TemporalEncoder(nn.Module):
    """EO-2.0 "TL": sin-cos of (year, day-of-year) per frame, times a scale, repeated over the frame's tokens."""

    def __init__(self, dim: int, learn_scale: bool) -> None:
        super().__init__()
        self.year_dim = dim // 2
        self.doy_dim = dim - self.year_dim
        _add_scale(self, learn_scale)

    def forward(self, coords: Tensor, tokens_per_frame: int) -> Tensor:
        """coords (B, T, 2) float [year, day of year] -> (B, T*tokens_per_frame, dim)."""
        b, t = coords.shape[:2]
        year = sincos_1d_torch(self.year_dim, coords[:, :, 0].flatten()).reshape(b, t, -1)
        doy = sincos_1d_torch(self.doy_dim, coords[:, :, 1].flatten()).reshape(b, t, -1)
        emb = self.scale * torch.cat([year, doy], dim=-1)
        return torch.repeat_interleave(emb, tokens_per_frame, dim=1)


class LocationEncoder(nn.Module):
    """EO-2.0 "TL": sin-cos of (lon, lat) (first half from coords[:, 0]), times a scale."""

    def __init__(self, dim: int, learn_scale: bool) -> None:
        super().__init__()
        self.first_dim = dim // 2
        self.second_dim = dim - self.first_dim
        _add_scale(self, learn_scale)

    def forward(self, coords: Tensor) -> Tensor:
        """coords (B, 2) float [lon, lat] -> (B, 1, dim)."""
        b = coords.shape[0]
        first = sincos_1d_torch(self.first_dim, coords[:, 0].flatten()).reshape(b, 1, -1)
        second = sincos_1d_torch(self.second_dim, coords[:, 1].flatten()).reshape(b, 1, -1)
        return self.scale * torch.cat([first, second], dim=-1)


class PosEmbedCache:
    """Returns the stored table when the grid matches the configured one, else a recomputed sin-cos table."""

    def __init__(self) -> None:
        self._tables: dict[tuple, Tensor] = {}

    def get(self, stored: Tensor, grid: tuple[int, int, int], cfg_grid: tuple[int, int, int]) -> Tensor:
        if grid == cfg_grid:
            return stored
        key = (stored.shape[-1], grid, stored.device, stored.dtype)
        if key not in self._tables:
            if len(self._tables) > 8:
                self._tables.clear()
            self._tables[key] = sincos_3d(stored.shape[-1], grid).to(stored.device, stored.dtype)
        return self._tables[key]


def token_grid(x: Tensor, cfg: ViTConfig) -> tuple[int, int, int]:
    """(t, h, w) token grid of a (B, C, T, H, W) input; raises ValueError when it does not tile exactly."""
    if x.ndim != 5:
        raise ValueError(f"expected a (B, C, T, H, W) tensor, got shape {tuple(x.shape)}")
    _, c, t, h, w = x.shape
    p, tub = cfg.patch_size, cfg.tubelet_size
    if c != cfg.in_chans:
        raise ValueError(f"expected {cfg.in_chans} bands, got {c}")
    if t % tub or h % p or w % p:
        raise ValueError(f"input T,H,W = {t},{h},{w} must be multiples of {tub},{p},{p}")
    return t // tub, h // p, w // p


class PrithviViT(nn.Module):
    """Prithvi encoder; parameter names match the ``encoder.*`` / ``backbone.*`` checkpoint keys."""

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.embed_dim
        self.grid_size = (cfg.num_frames // cfg.tubelet_size, cfg.grid, cfg.grid)
        self.patch_embed = PatchEmbed3D(cfg, d)
        if cfg.coords_encoding:
            self.temporal_embed_enc = TemporalEncoder(d, cfg.coords_scale_learn)
            self.location_embed_enc = LocationEncoder(d, cfg.coords_scale_learn)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.register_buffer("pos_embed", sincos_3d(d, self.grid_size))
        self.blocks = nn.ModuleList(Block(d, cfg.num_heads, cfg.mlp_ratio, cfg.ln_eps) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(d, eps=cfg.ln_eps)
        self._pos_cache = PosEmbedCache()

    def embed(self, x: Tensor, temporal_coords: Tensor | None = None,
              location_coords: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Patch tokens with position (and optional time/location) encodings, and the CLS token (B, 1, D)."""
        grid = token_grid(x, self.cfg)
        tokens = self.patch_embed(x)
        pos = self._pos_cache.get(self.pos_embed, grid, self.grid_size)
        tokens = tokens + pos[:, 1:]
        if self.cfg.coords_encoding and temporal_coords is not None:
            tokens = tokens + self.temporal_embed_enc(temporal_coords.to(tokens.dtype), grid[1] * grid[2])
        if self.cfg.coords_encoding and location_coords is not None:
            tokens = tokens + self.location_embed_enc(location_coords.to(tokens.dtype))
        cls = (self.cls_token + pos[:, :1]).expand(tokens.shape[0], -1, -1)
        return tokens, cls

    def run_blocks(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward_features(self, x: Tensor, temporal_coords: Tensor | None = None,
                         location_coords: Tensor | None = None) -> Tensor:
        """(B, C, T, H, W) -> (B, 1 + L, D) normed tokens, CLS first, no masking."""
        tokens, cls = self.embed(x, temporal_coords, location_coords)
        return self.run_blocks(torch.cat([cls, tokens], dim=1))

    def forward(self, x: Tensor, temporal_coords: Tensor | None = None,
                location_coords: Tensor | None = None) -> Tensor:
        return self.forward_features(x, temporal_coords, location_coords)


def init_vit_weights(module: nn.Module) -> None:
    """Random init of the published recipe: xavier-uniform linears, zero biases, unit LayerNorms."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, PatchEmbed3D):
            w = m.proj.weight.data
            nn.init.xavier_uniform_(w.view(w.shape[0], -1))
            nn.init.zeros_(m.proj.bias)
