"""PrithviMAE / encoder numerics: sin-cos tables, patchify, masking, and equivalence with TerraTorch's PrithviMAE."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from einops import rearrange
from torch import nn

from geofm.config import MODELS, ViTConfig
from geofm.models import PrithviMAE, create_model
from geofm.models.pos_embed import sincos_3d, sincos_3d_numpy
from tests.checkpoints import tiny_vit
from tests.models.terratorch_reference import terratorch_prithvi_mae


@pytest.mark.parametrize("dim,grid", [(768, (3, 14, 14)), (512, (1, 14, 14)), (1280, (4, 16, 16)), (64, (2, 3, 5))])
def test_sincos_table_equals_terratorch(dim: int, grid: tuple[int, int, int]) -> None:
    reference = terratorch_prithvi_mae().get_3d_sincos_pos_embed(dim, grid, add_cls_token=True)
    ours = sincos_3d_numpy(dim, grid)
    assert ours.shape == (1 + grid[0] * grid[1] * grid[2], dim)
    np.testing.assert_array_equal(ours, reference)


def test_sincos_feature_layout_is_w_h_t() -> None:
    table = sincos_3d(768, (3, 14, 14))[0]
    assert table.shape == (589, 768) and torch.all(table[0] == 0)
    tokens = table[1:].reshape(3, 14, 14, 768)  # t-major, then h, then w
    w_part, h_part, t_part = tokens[..., :288], tokens[..., 288:576], tokens[..., 576:]
    assert torch.equal(w_part[0, 0], w_part[2, 9])  # depends on w only
    assert not torch.equal(w_part[0, 0, 0], w_part[0, 0, 1])
    assert torch.equal(h_part[0, :, 0], h_part[1, :, 7]) and not torch.equal(h_part[0, 0, 0], h_part[0, 1, 0])
    assert torch.equal(t_part[1, 0, 0], t_part[1, 13, 13]) and not torch.equal(t_part[0, 0, 0], t_part[1, 0, 0])
    # first w feature is sin(w * 1) (omega_0 = 1), first cos feature at index 144
    assert torch.allclose(w_part[0, 0, :, 0], torch.sin(torch.arange(14.0)), atol=1e-6)
    assert torch.allclose(w_part[0, 0, :, 144], torch.cos(torch.arange(14.0)), atol=1e-6)


def test_patchify_matches_published_rearrange_and_inverts() -> None:
    mae = create_model("reconstruct", arch=tiny_vit(tubelet_size=1))
    x = torch.randn(2, 6, 2, 32, 32)
    patches = mae.patchify(x)
    expected = rearrange(x, "b c (t tub) (h p) (w q) -> b (t h w) (tub p q c)", tub=1, p=8, q=8)
    assert patches.shape == (2, 2 * 4 * 4, 8 * 8 * 6)
    assert torch.equal(patches, expected)
    assert patches[1, 4 * 4 + 1 * 4 + 2, 3 * 8 * 6 + 5 * 6 + 4].item() == x[1, 4, 1, 8 + 3, 16 + 5].item()
    assert torch.equal(mae.unpatchify(patches, 2, 32, 32), x)


def test_random_masking_keeps_smallest_noise_tokens() -> None:
    mae = create_model("reconstruct", arch=tiny_vit())
    x = torch.randn(2, 6, 2, 32, 32)
    noise = torch.rand(2, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        pred, mask = mae(x, 0.75, noise=noise)
    assert pred.shape == (2, 32, 384) and mask.shape == (2, 32)
    keep = int(32 * 0.25)
    for b in range(2):
        kept = set(torch.argsort(noise[b])[:keep].tolist())
        assert {i for i in range(32) if mask[b, i] == 0} == kept
    assert mask.sum().item() == 2 * (32 - keep)


def test_full_size_forward_shapes_and_other_frame_counts() -> None:
    mae = create_model("reconstruct")
    x = torch.randn(1, 6, 1, 224, 224)  # one date on the 3-frame model: tables recomputed for T=1
    with torch.no_grad():
        pred, mask = mae(x, 0.5, noise=torch.rand(1, 196))
        feats = mae.encoder.forward_features(x)
    assert pred.shape == (1, 196, 1536) and mask.sum().item() == 98
    assert feats.shape == (1, 197, 768) and torch.isfinite(pred).all()


def _terratorch_mae(cfg: ViTConfig, coords: bool = False) -> nn.Module:
    tt = terratorch_prithvi_mae()
    return tt.PrithviMAE(
        img_size=cfg.img_size, patch_size=(cfg.tubelet_size, cfg.patch_size, cfg.patch_size),
        num_frames=cfg.num_frames, in_chans=cfg.in_chans, embed_dim=cfg.embed_dim, depth=cfg.depth,
        num_heads=cfg.num_heads, decoder_embed_dim=cfg.decoder_embed_dim, decoder_depth=cfg.decoder_depth,
        decoder_num_heads=cfg.decoder_num_heads, mlp_ratio=cfg.mlp_ratio,
        norm_layer=partial(nn.LayerNorm, eps=cfg.ln_eps),
        coords_encoding=["time", "location"] if coords else None, coords_scale_learn=cfg.coords_scale_learn,
    ).eval()


def _twin(cfg: ViTConfig, coords: bool = False) -> tuple[nn.Module, PrithviMAE]:
    """TerraTorch's MAE with perturbed random weights, and ours strictly loaded with the same state dict."""
    torch.manual_seed(0)
    ref = _terratorch_mae(cfg, coords)
    with torch.no_grad():
        for name, p in ref.named_parameters():  # make biases / norms / scales non-trivial
            if p.ndim == 1:
                p.add_(0.1 * torch.randn_like(p))
    ours = create_model("prithvi-eo-2.0-tiny-tl" if coords else "reconstruct", arch=cfg)
    ours.load_state_dict(ref.state_dict(), strict=True)  # same key names and shapes
    return ref, ours


@pytest.mark.parametrize("cfg,frames", [
    (tiny_vit(), 2),                                  # configured T
    (tiny_vit(), 1),                                  # fewer frames: tables recomputed
    (tiny_vit(patch_size=14, img_size=28, embed_dim=48, num_heads=3), 2),  # EO-2.0 600M-style 14-px patches
])
def test_equivalent_to_terratorch_mae(cfg: ViTConfig, frames: int) -> None:
    ref, ours = _twin(cfg)
    x = torch.randn(2, 6, frames, cfg.img_size, cfg.img_size)
    g = cfg.img_size // cfg.patch_size
    n_tokens = frames * g * g
    with torch.no_grad():
        ref_feats = ref.encoder.forward_features(x)[-1]
        feats = ours.encoder.forward_features(x)
        torch.testing.assert_close(feats, ref_feats, rtol=0, atol=1e-5)

        torch.manual_seed(7)
        noise = torch.rand(2, n_tokens)
        torch.manual_seed(7)  # TerraTorch draws the same torch.rand(B, L) internally
        _, ref_img, ref_mask = ref(x, mask_ratio=0.6)
        pred, mask = ours(x, 0.6, noise=noise)
    img = ours.unpatchify(pred, frames, cfg.img_size, cfg.img_size)
    torch.testing.assert_close(img, ref_img, rtol=0, atol=1e-5)
    mask_img = ours.unpatchify(mask.unsqueeze(-1).expand(-1, -1, pred.shape[-1]), frames,
                               cfg.img_size, cfg.img_size)[:, 0]
    assert torch.equal(mask_img, ref_mask)
    assert 0 < mask.mean().item() < 1


def test_equivalent_to_terratorch_with_time_and_location() -> None:
    cfg = tiny_vit(num_frames=2, coords_encoding=True, coords_scale_learn=True)
    ref, ours = _twin(cfg, coords=True)
    assert "encoder.temporal_embed_enc.scale" in ours.state_dict()
    assert "decoder.location_embed_dec.scale" in ours.state_dict()
    x = torch.randn(2, 6, 2, 32, 32)
    temporal = torch.tensor([[[2018.0, 13.0], [2018.0, 29.0]], [[2020.0, 100.0], [2021.0, 1.0]]])
    location = torch.tensor([[-96.0, 41.2], [13.4, 52.5]])  # (lon, lat)
    with torch.no_grad():
        ref_feats = ref.encoder.forward_features(x, temporal, location)[-1]
        feats = ours.encoder.forward_features(x, temporal_coords=temporal, location_coords=location)
        plain = ours.encoder.forward_features(x)
        torch.manual_seed(1)
        noise = torch.rand(2, 32)
        torch.manual_seed(1)
        _, ref_img, _ = ref(x, temporal, location, mask_ratio=0.75)
        pred, _ = ours(x, 0.75, noise=noise, temporal_coords=temporal, location_coords=location)
    torch.testing.assert_close(feats, ref_feats, rtol=0, atol=1e-5)
    assert (feats - plain).abs().max() > 1e-3  # the coordinates do change the features
    torch.testing.assert_close(ours.unpatchify(pred, 2, 32, 32), ref_img, rtol=0, atol=1e-5)


def test_registry_mae_shapes() -> None:
    """Parameter shapes the published EO-2.0 files imply (600M: 14-px patches, 1025 tokens)."""
    with torch.device("meta"):
        big = PrithviMAE(MODELS["prithvi-eo-2.0-600m"].arch)
    sd = big.state_dict()
    assert sd["encoder.patch_embed.proj.weight"].shape == (1280, 6, 1, 14, 14)
    assert sd["encoder.pos_embed"].shape == (1, 1025, 1280)
    assert sd["decoder.decoder_pred.weight"].shape == (1176, 512)
