"""Sliding-window segmentation: window grid, coverage, padding, averaging, nodata, batching, OOM retry."""

import numpy as np
import pytest
import torch
from torch import nn

from geofm.errors import DeviceOutOfMemoryError, InputError
from geofm.inference.device import map_in_batches, resolve_device
from geofm.inference.sliding import classify, slide_logits, window_origins, window_starts

WIN, STRIDE = 224, 112


class TinySegmenter(nn.Module):
    """A position-sensitive stand-in forward: (B, C, T, 224, 224) -> (B, K, 224, 224)."""

    def __init__(self, channels: int = 6, frames: int = 1, classes: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(channels * frames, classes, 5, padding=2)
        lin = torch.linspace(-1, 1, WIN)
        self.ramp = nn.Parameter((lin.view(WIN, 1) + 2 * lin.view(1, WIN)).expand(1, classes, WIN, WIN).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        logits = self.conv(x.reshape(b, c * t, h, w))
        return logits + self.ramp * torch.arange(1, logits.shape[1] + 1).view(1, -1, 1, 1)


def official_origins(h: int, w: int) -> list[tuple[int, int]]:
    """The HFO slide_inference loop, written out independently of the engine."""
    out = []
    for hi in range(max(h - WIN + STRIDE - 1, 0) // STRIDE + 1):
        for wi in range(max(w - WIN + STRIDE - 1, 0) // STRIDE + 1):
            y1, x1 = hi * STRIDE, wi * STRIDE
            y2, x2 = min(y1 + WIN, h), min(x1 + WIN, w)
            out.append((max(y2 - WIN, 0), max(x2 - WIN, 0)))
    return out


def naive_logits(model: nn.Module, x: torch.Tensor, k: int) -> torch.Tensor:
    """Window-by-window loop on the padded input, then crop: the reference for the batched engine."""
    h, w = x.shape[-2:]
    hp, wp = max(h, WIN), max(w, WIN)
    xp = torch.zeros(x.shape[:-2] + (hp, wp))
    xp[..., :h, :w] = x
    total, count = torch.zeros(k, hp, wp), torch.zeros(1, hp, wp)
    with torch.no_grad():
        for y, x0 in official_origins(hp, wp):
            total[:, y:y + WIN, x0:x0 + WIN] += model(xp[None, ..., y:y + WIN, x0:x0 + WIN])[0]
            count[:, y:y + WIN, x0:x0 + WIN] += 1
    return (total / count)[:, :h, :w]


@pytest.mark.parametrize("h, w, expected", [(1, 1, 1), (223, 225, 2), (224, 224, 1), (512, 512, 16),
                                            (1000, 700, 48)])
def test_window_count_and_coverage(h, w, expected):
    hp, wp = max(h, WIN), max(w, WIN)
    origins = window_origins(hp, wp)
    assert len(origins) == expected
    assert origins == official_origins(hp, wp)
    covered = np.zeros((hp, wp), dtype=int)
    for y, x in origins:
        assert 0 <= y and y + WIN <= hp and 0 <= x and x + WIN <= wp
        covered[y:y + WIN, x:x + WIN] += 1
    assert covered.min() >= 1


def test_official_starts_512():
    assert window_starts(512) == [0, 112, 224, 288]
    assert window_starts(1000) == [0, 112, 224, 336, 448, 560, 672, 776]


@pytest.mark.parametrize("h, w", [(1, 1), (223, 225), (224, 224), (512, 512), (1000, 700)])
def test_batched_engine_equals_naive_window_loop(h, w):
    model = TinySegmenter().eval()
    x = torch.randn(6, 1, h, w, generator=torch.Generator().manual_seed(h * 7 + w))
    got = slide_logits(model, x, 3, batch_size=5)
    ref = naive_logits(model, x, 3)
    assert got.shape == (3, h, w)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    classes, _ = classify(got, np.ones((h, w), bool))
    np.testing.assert_array_equal(classes, ref.argmax(0).numpy())


def test_overlap_really_averages():
    """In a 336-px strip the middle third is seen by two windows at different in-window positions."""
    model = TinySegmenter().eval()
    x = torch.zeros(6, 1, 224, 336)
    got = slide_logits(model, x, 3, batch_size=2)
    single = model(x[None, ..., :224]).detach()[0]
    assert not torch.allclose(got[:, :, 150], single[:, :, 150])  # column 150: average of two windows
    torch.testing.assert_close(got[:, :, 10], single[:, :, 10])  # column 10: one window only


def test_nodata_in_any_frame_becomes_255_and_probabilities_sum_to_one():
    model = TinySegmenter(frames=3).eval()
    x = torch.randn(6, 3, 230, 240)
    valid = np.ones((3, 230, 240), bool)
    valid[2, 5:9, 7:11] = False
    classes, probs = classify(slide_logits(model, x, 3), valid.all(axis=0), probabilities=True)
    assert classes.dtype == np.uint8 and classes.shape == (230, 240)
    assert (classes[5:9, 7:11] == 255).all()
    assert set(np.unique(classes[~(classes == 255)])) <= {0, 1, 2}
    assert (classes == 255).sum() == 16
    np.testing.assert_allclose(probs.sum(0), 1.0, rtol=1e-5)


def test_progress_reports_windows():
    seen = []
    slide_logits(TinySegmenter().eval(), torch.zeros(6, 1, 300, 300), 3, batch_size=3,
                 progress=lambda stage, msg, frac=None: seen.append((stage, msg, frac)))
    assert seen[0] == ("infer", "window 0 of 4 on CPU", 0.0)
    assert seen[-1] == ("infer", "window 4 of 4 on CPU", 1.0)


class OOMAbove(nn.Module):
    """Wraps a model and raises torch.OutOfMemoryError for batches larger than ``limit``."""

    def __init__(self, inner: nn.Module, limit: int) -> None:
        super().__init__()
        self.inner, self.limit, self.sizes = inner, limit, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(x.shape[0])
        if x.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return self.inner(x)


def test_oom_halves_batch_and_result_is_unchanged():
    inner = TinySegmenter().eval()
    wrapped = OOMAbove(inner, limit=2)
    x = torch.randn(6, 1, 512, 512)
    got = slide_logits(wrapped, x, 3, batch_size=8)
    assert wrapped.sizes[:3] == [8, 4, 2] and set(wrapped.sizes[3:]) == {2}
    assert sum(s for s in wrapped.sizes if s <= 2) == 16
    torch.testing.assert_close(got, slide_logits(inner, x, 3, batch_size=1))


def test_oom_at_batch_one_is_a_user_error():
    wrapped = OOMAbove(TinySegmenter().eval(), limit=0)
    with pytest.raises(DeviceOutOfMemoryError, match="even with one window"):
        slide_logits(wrapped, torch.randn(6, 1, 512, 512), 3, batch_size=4)
    assert wrapped.sizes == [4, 2, 1]


def test_other_runtime_errors_are_not_swallowed():
    def boom(chunk):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        map_in_batches([1, 2, 3], boom, 2, device=torch.device("cpu"))


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InputError, match="auto, cpu or cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            resolve_device("cuda")
