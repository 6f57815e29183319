"""PrithviSegmenter vs a reference forward written from the published facts (mmseg fine-tunes)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from geofm.config import SegmenterConfig
from geofm.models import PrithviSegmenter, create_model
from geofm.models.checkpoints import load_checkpoint
from tests.checkpoints import mmseg_state_dict, tiny_segmenter, write_mmseg_checkpoint
from tests.models.segmenter_reference import _reference_logits


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
