"""The folded upsampling + head gives the same logits and class maps as the published layer stack."""

import pytest
import torch
from torch import nn

from geofm.config import SegmenterConfig, ViTConfig
from geofm.models.fold import (FoldedUpsampleHead, MergedUpsample, fold_segmenter, is_folded,
                                  reference_upsample_head)
from geofm.models import create_model

TINY = SegmenterConfig(encoder=ViTConfig(img_size=64, num_frames=3, embed_dim=32, depth=1, num_heads=2),
                       num_classes=5, neck_channels=96, head_channels=16)


def _randomise_stats(model: nn.Module, seed: int) -> None:
    """Non-trivial BatchNorm statistics and transposed-conv biases (fresh init has zeros/ones)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
                mod.weight.copy_(torch.randn(mod.num_features, generator=g))
                mod.bias.copy_(torch.randn(mod.num_features, generator=g))
            if isinstance(mod, nn.ConvTranspose2d):
                mod.bias.copy_(torch.randn(mod.out_channels, generator=g) * 0.1)


def _assert_same(ref: torch.Tensor, got: torch.Tensor) -> None:
    rel = (got - ref).abs().max() / ref.abs().max()
    assert rel < 1e-4, rel
    assert torch.equal(ref.argmax(1), got.argmax(1))


@pytest.mark.parametrize("h, w", [(1, 1), (5, 7), (14, 14)])
def test_folded_head_equals_layers_on_random_weights(h, w):
    torch.manual_seed(h * 10 + w)
    up, conv = nn.ConvTranspose2d(12, 12, 2, 2), nn.Conv2d(12, 9, 3, padding=1, bias=False)
    bn, cls = nn.BatchNorm2d(9).eval(), nn.Conv2d(9, 4, 1)
    _randomise_stats(nn.ModuleList([up, bn]), seed=h + w)
    x = torch.randn(3, 12, h, w)
    with torch.no_grad():
        ref = reference_upsample_head(x, up, conv, bn, cls)
        got = FoldedUpsampleHead(up, conv, bn, cls)(x)
    assert got.shape == ref.shape == (3, 4, 2 * h, 2 * w)
    _assert_same(ref, got)
    # the border pixels (where the transposed-conv bias meets zero padding) are exact too
    torch.testing.assert_close(got[..., 0, :], ref[..., 0, :], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got[..., -1], ref[..., -1], rtol=1e-4, atol=1e-5)


def test_merged_transposed_pair_equals_two_layers():
    torch.manual_seed(5)
    first, second = nn.ConvTranspose2d(6, 7, 2, 2), nn.ConvTranspose2d(7, 5, 2, 2)
    _randomise_stats(nn.ModuleList([first, second]), seed=5)
    x = torch.randn(2, 6, 3, 4)
    with torch.no_grad():
        ref, got = second(first(x)), MergedUpsample(first, second)(x)
    assert got.shape == (2, 5, 12, 16)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)


def test_fold_tiny_segmenter_same_logits_and_classes():
    model = create_model("crops", arch=TINY)
    _randomise_stats(model, seed=1)
    folded = fold_segmenter(model)
    assert is_folded(folded) and not is_folded(model)  # a copy unless inplace
    x = torch.randn(2, 6, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        _assert_same(model(x), folded(x))


@pytest.mark.slow
def test_fold_full_size_flood_same_logits_and_classes():
    torch.manual_seed(3)
    model = create_model("flood")
    _randomise_stats(model, seed=3)
    x = torch.randn(1, 6, 1, 224, 224, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        ref = model(x)
        folded = fold_segmenter(model, inplace=True)
        got = folded(x)
    assert folded is model and is_folded(model)
    _assert_same(ref, got)


def test_fold_refuses_training_mode():
    model = create_model("crops", arch=TINY).train()
    with pytest.raises(ValueError, match="eval"):
        fold_segmenter(model)


def test_folded_model_runs_under_bf16_autocast():
    """The GPU path runs the folded head under bf16 autocast; CPU autocast exercises the same dtype logic."""
    model = fold_segmenter(create_model("crops", arch=TINY))
    x = torch.randn(2, 6, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    with torch.inference_mode():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    assert low.dtype == torch.bfloat16 and low.shape == ref.shape
    assert (low.float() - ref).abs().max() < 0.05 * ref.abs().max()
    assert (low.float().argmax(1) == ref.argmax(1)).float().mean() > 0.9


def _with_threads(n: int, fn, *args):  # noqa: ANN001, ANN002, ANN202
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn(*args)
    finally:
        torch.set_num_threads(before)


def test_folded_head_bits_do_not_depend_on_thread_count_or_batch_size():
    """A window's logits are the same bits whatever the torch threads (a region worker's share of the cores, all
    of them for `geofm run`) and however many windows share its batch. Flood's head shapes (768 -> 256 channels
    on the 112 grid, 2 classes), channels-last input as the neck gives it. oneDNN's grouped 1x1 classifier and its
    2x2 convolution gave other last bits for 2 threads (any batch), 2 threads with batch 3, 3 threads with batch 1
    or 4 and 6 threads with batch 2, against 1 thread."""
    torch.manual_seed(7)
    up, conv = nn.ConvTranspose2d(768, 256, 2, 2), nn.Conv2d(256, 256, 3, padding=1, bias=False)
    bn, cls = nn.BatchNorm2d(256).eval(), nn.Conv2d(256, 2, 1)
    _randomise_stats(nn.ModuleList([up, bn]), seed=7)
    head = FoldedUpsampleHead(up, conv, bn, cls).eval()
    x = torch.randn(4, 768, 112, 112, generator=torch.Generator().manual_seed(8))
    x = x.contiguous(memory_format=torch.channels_last)

    def first_window(batch: int) -> torch.Tensor:
        with torch.inference_mode():
            return head(x[:batch])[0]

    want = _with_threads(1, first_window, 2)
    with torch.no_grad():  # and it is the published layer stack's computation
        _assert_same(reference_upsample_head(x[:1], up, conv, bn, cls), want[None])
    for threads, batch in [(2, 2), (2, 3), (3, 1), (6, 2), (1, 1)]:
        got = _with_threads(threads, first_window, batch)
        assert torch.equal(got, want), (threads, batch, float((got != want).float().mean()))
