"""The mmseg fine-tunes' forward written from the published facts, on TerraTorch's PrithviViT as an independent
encoder: what PrithviSegmenter is checked against (tests/models/test_segmenter.py and the burn-scar task)."""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geofm.config import SegmenterConfig
from tests.models.terratorch_reference import terratorch_prithvi_mae


def _reference_backbone(cfg: SegmenterConfig, sd: dict[str, Tensor]) -> nn.Module:
    """TerraTorch's PrithviViT (an independent encoder) holding the checkpoint's backbone tensors."""
    enc = cfg.encoder
    vit = terratorch_prithvi_mae().PrithviViT(
        img_size=enc.img_size, patch_size=(1, enc.patch_size, enc.patch_size), num_frames=enc.num_frames,
        in_chans=enc.in_chans, embed_dim=enc.embed_dim, depth=enc.depth, num_heads=enc.num_heads,
        mlp_ratio=enc.mlp_ratio, norm_layer=partial(nn.LayerNorm, eps=1e-5))
    vit.load_state_dict({k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")})
    return vit.eval()


def _reference_logits(cfg: SegmenterConfig, sd: dict[str, Tensor], x: Tensor, *, embed_major: bool = True
                      ) -> Tensor:
    """Facts: drop CLS; tokens -> (B, D*T, h, w) with channel e*T+t; fpn1, fpn2 = ConvT, LN(1e-6), GELU, ConvT;
    FCN: conv3x3 (no bias) -> BN (running stats, eps 1e-5) -> ReLU -> conv1x1."""
    b, _, t, h, w = x.shape
    p = cfg.encoder.patch_size
    tokens = _reference_backbone(cfg, sd).forward_features(x)[-1][:, 1:]  # (B, T*h*w, D)
    if embed_major:
        y = tokens.permute(0, 2, 1).reshape(b, -1, h // p, w // p)
    else:  # TerraTorch's "(t e)" order: the wrong one for these checkpoints
        d = tokens.shape[-1]
        y = tokens.reshape(b, t, h // p, w // p, d).permute(0, 1, 4, 2, 3).reshape(b, t * d, h // p, w // p)
    for fpn in ("fpn1", "fpn2"):
        y = F.conv_transpose2d(y, sd[f"neck.{fpn}.0.weight"], sd[f"neck.{fpn}.0.bias"], stride=2)
        y = F.layer_norm(y.permute(0, 2, 3, 1), (y.shape[1],), sd[f"neck.{fpn}.1.ln.weight"],
                         sd[f"neck.{fpn}.1.ln.bias"], eps=1e-6).permute(0, 3, 1, 2)
        y = F.gelu(y)
        y = F.conv_transpose2d(y, sd[f"neck.{fpn}.3.weight"], sd[f"neck.{fpn}.3.bias"], stride=2)
    hd = "decode_head.convs.0."
    y = F.conv2d(y, sd[hd + "conv.weight"], None, padding=1)
    y = (y - sd[hd + "bn.running_mean"][:, None, None]) / torch.sqrt(sd[hd + "bn.running_var"][:, None, None] + 1e-5)
    y = F.relu(y * sd[hd + "bn.weight"][:, None, None] + sd[hd + "bn.bias"][:, None, None])
    return F.conv2d(y, sd["decode_head.conv_seg.weight"], sd["decode_head.conv_seg.bias"])
