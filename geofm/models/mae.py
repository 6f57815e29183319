"""Prithvi masked autoencoder (``PrithviMAE``): encoder with random masking + light decoder."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from geofm.config import ViTConfig
from geofm.models.vit import (Block, LocationEncoder, PosEmbedCache, PrithviViT, TemporalEncoder,
                              init_vit_weights, token_grid)
from geofm.models.pos_embed import sincos_3d


def random_masking(tokens: Tensor, mask_ratio: float, noise: Tensor | None = None
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """Keep the ``int(L*(1-ratio))`` tokens with the smallest noise; -> kept, mask (1 = hidden), ids_restore."""
    b, n, d = tokens.shape
    len_keep = int(n * (1 - mask_ratio))
    if noise is None:
        noise = torch.rand(b, n, device=tokens.device)
    if noise.shape != (b, n):
        raise ValueError(f"noise must have shape {(b, n)}, got {tuple(noise.shape)}")
    ids_shuffle = torch.argsort(noise.to(tokens.device), dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    kept = torch.gather(tokens, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
    mask = torch.ones(b, n, device=tokens.device, dtype=tokens.dtype)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return kept, mask, ids_restore


class MAEDecoder(nn.Module):
    """Decoder; parameter names match the ``decoder.*`` checkpoint keys."""

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.decoder_embed_dim
        self.grid_size = (cfg.num_frames // cfg.tubelet_size, cfg.grid, cfg.grid)
        self.decoder_embed = nn.Linear(cfg.embed_dim, d)
        if cfg.coords_encoding:
            self.temporal_embed_dec = TemporalEncoder(d, cfg.coords_scale_learn)
            self.location_embed_dec = LocationEncoder(d, cfg.coords_scale_learn)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        self.register_buffer("decoder_pos_embed", sincos_3d(d, self.grid_size))
        self.decoder_blocks = nn.ModuleList(
            Block(d, cfg.decoder_num_heads, cfg.mlp_ratio, cfg.ln_eps) for _ in range(cfg.decoder_depth))
        self.decoder_norm = nn.LayerNorm(d, eps=cfg.ln_eps)
        out = cfg.tubelet_size * cfg.patch_size * cfg.patch_size * cfg.in_chans
        self.decoder_pred = nn.Linear(d, out)
        self._pos_cache = PosEmbedCache()

    def forward(self, latent: Tensor, ids_restore: Tensor, grid: tuple[int, int, int],
                temporal_coords: Tensor | None = None, location_coords: Tensor | None = None) -> Tensor:
        """latent (B, 1 + kept, D_enc) -> predictions (B, L, tub*p*p*C) in token order (CLS dropped)."""
        x = self.decoder_embed(latent)
        b, n_vis, d = x.shape
        n = ids_restore.shape[1]
        mask_tokens = self.mask_token.expand(b, n + 1 - n_vis, -1)
        x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).expand(-1, -1, d))
        pos = self._pos_cache.get(self.decoder_pos_embed, grid, self.grid_size)
        x_ = x_ + pos[:, 1:]
        if self.cfg.coords_encoding and temporal_coords is not None:
            x_ = x_ + self.temporal_embed_dec(temporal_coords.to(x_.dtype), grid[1] * grid[2])
        if self.cfg.coords_encoding and location_coords is not None:
            x_ = x_ + self.location_embed_dec(location_coords.to(x_.dtype))
        x = torch.cat([x[:, :1] + pos[:, :1], x_], dim=1)
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]


class PrithviMAE(nn.Module):
    """Masked autoencoder: ``mae(x, mask_ratio) -> (pred (B, L, tub*p*p*C), mask (B, L))``."""

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = PrithviViT(cfg)
        self.decoder = MAEDecoder(cfg)

    def forward(self, x: Tensor, mask_ratio: float = 0.75, *, noise: Tensor | None = None,
                temporal_coords: Tensor | None = None, location_coords: Tensor | None = None
                ) -> tuple[Tensor, Tensor]:
        """x (B, C, T, H, W) normalised; noise (B, L) in [0, 1) decides which tokens are hidden (argsort)."""
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
        grid = token_grid(x, self.cfg)
        tokens, cls = self.encoder.embed(x, temporal_coords, location_coords)
        kept, mask, ids_restore = random_masking(tokens, mask_ratio, noise)
        latent = self.encoder.run_blocks(torch.cat([cls, kept], dim=1))
        pred = self.decoder(latent, ids_restore, grid, temporal_coords, location_coords)
        return pred, mask

    def patchify(self, x: Tensor) -> Tensor:
        """(B, C, T, H, W) -> (B, L, tub*p*p*C): 'b c (t tub) (h p) (w q) -> b (t h w) (tub p q c)'."""
        b, c, t, h, w = x.shape
        tub, p = self.cfg.tubelet_size, self.cfg.patch_size
        x = x.reshape(b, c, t // tub, tub, h // p, p, w // p, p)
        x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)  # b t h w tub p q c
        return x.reshape(b, (t // tub) * (h // p) * (w // p), tub * p * p * c)

    def unpatchify(self, pred: Tensor, T: int, H: int, W: int) -> Tensor:  # noqa: N803
        """Inverse of :meth:`patchify`: (B, L, tub*p*p*C) -> (B, C, T, H, W)."""
        b = pred.shape[0]
        tub, p, c = self.cfg.tubelet_size, self.cfg.patch_size, self.cfg.in_chans
        x = pred.reshape(b, T // tub, H // p, W // p, tub, p, p, c)
        x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)  # b c t tub h p w q
        return x.reshape(b, c, T, H, W)


def init_mae_weights(model: PrithviMAE) -> None:
    init_vit_weights(model)
    nn.init.normal_(model.encoder.cls_token, std=0.02)
    nn.init.normal_(model.decoder.mask_token, std=0.02)
