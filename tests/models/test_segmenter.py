"""PrithviSegmenter vs a reference forward written from the published facts (mmseg fine-tunes)."""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geofm.config import SegmenterConfig
from geofm.models import PrithviSegmenter, create_model
from geofm.models.checkpoints import load_checkpoint
from tests.checkpoints import mmseg_state_dict, tiny_segmenter, write_mmseg_checkpoint
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


def _loaded(cfg: SegmenterConfig, tmp_path, seed: int = 0) -> tuple[PrithviSegmenter, dict[str, Tensor]]:
    path = write_mmseg_checkpoint(tmp_path / "seg.pth", cfg, seed)
    model = create_model("flood", arch=cfg)
    load_checkpoint(model, path, "segmenter")
    return model, mmseg_state_dict(cfg, seed)


@pytest.mark.parametrize("frames", [1, 3])
def test_logits_match_reference_forward(frames: int, tmp_path) -> None:
    cfg = tiny_segmenter(num_frames=frames, num_classes=4)
    model, sd = _loaded(cfg, tmp_path)
    x = torch.randn(2, 6, frames, 64, 64)
    with torch.no_grad():
        logits = model(x)
        expected = _reference_logits(cfg, sd, x)
    assert logits.shape == (2, 4, 64, 64)
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)
    assert logits.argmax(1).unique().numel() > 1  # varied output, not a constant map


def test_embed_major_channel_order_matters(tmp_path) -> None:
    cfg = tiny_segmenter(num_frames=3, num_classes=4)
    model, sd = _loaded(cfg, tmp_path, seed=5)
    x = torch.randn(1, 6, 3, 64, 64)
    with torch.no_grad():
        logits = model(x)
        time_major = _reference_logits(cfg, sd, x, embed_major=False)
    assert (logits - time_major).abs().max() > 1e-2


def test_tokens_to_image_channel_is_e_times_T_plus_t() -> None:
    tokens = torch.zeros(1, 1 + 2 * 2 * 2, 3)  # T=2, h=w=2, D=3; value = 100*t + 10*e + pixel
    for t in range(2):
        for pix in range(4):
            for e in range(3):
                tokens[0, 1 + t * 4 + pix, e] = 100 * t + 10 * e + pix
    from geofm.models.segmenter import TokensToImageNeck

    img = TokensToImageNeck.tokens_to_image(tokens, 2, 2)
    assert img.shape == (1, 6, 2, 2)
    for e in range(3):
        for t in range(2):
            assert img[0, e * 2 + t, 1, 0].item() == 100 * t + 10 * e + 2


def test_eval_mode_uses_running_statistics(tmp_path) -> None:
    cfg = tiny_segmenter(num_frames=1, num_classes=3)
    model, _ = _loaded(cfg, tmp_path)
    x = torch.randn(1, 6, 1, 64, 64)
    with torch.no_grad():
        a = model(x)
        b = model(torch.cat([x, 3 * x]))[:1]  # batch statistics would change the first sample
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    assert not model.training


def test_wrong_frame_count_or_size_is_refused() -> None:
    model = create_model("flood", arch=tiny_segmenter(num_frames=1))
    with pytest.raises(ValueError, match="frame"):
        model(torch.randn(1, 6, 3, 64, 64))
    with pytest.raises(ValueError, match="multiples"):
        model(torch.randn(1, 6, 1, 60, 64))


def test_full_size_flood_forward_is_finite_and_varied(published_weights_dir) -> None:
    from geofm.models import load_model

    model = load_model("flood", weights_dir=published_weights_dir)
    x = torch.randn(1, 6, 1, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (1, 2, 224, 224) and torch.isfinite(logits).all()
    counts = torch.bincount(logits.argmax(1).flatten(), minlength=2)
    assert counts.min() > 0.01 * counts.sum()
