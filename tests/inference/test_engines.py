"""Whole-stack engines on tiny random models: segmentation (folded == unfolded) and MAE reconstruction."""

import dataclasses

import numpy as np
import pytest
import torch
from affine import Affine
from rasterio.crs import CRS

from geofm.config import ViTConfig, get_model_spec
from geofm.errors import InputError
from geofm.models.fold import fold_segmenter
from geofm.inference.reconstruct import pad_amount, reconstruct_stack
from geofm.inference.segment import segment_stack
from geofm.models import create_model
from geofm.render.preview import stretch_max, to_rgb, with_display_rgbs
from geofm.stack import HLSStack
from tests.geotiff_helpers import hls_like
from tests.inference.support import TINY_SEG

CPU = torch.device("cpu")
TINY_MAE = ViTConfig(embed_dim=32, depth=1, num_heads=2, decoder_embed_dim=32, decoder_depth=1,
                     decoder_num_heads=2)


def _stack(t: int, h: int, w: int, seed: int = 0) -> HLSStack:
    data = hls_like(t, h, w, seed)
    valid = np.ones((t, h, w), bool)
    return HLSStack(data, valid, CRS.from_epsg(32614), Affine(30, 0, 700000, 0, -30, 4600000))


def _with_fill(stack: HLSStack, t: int, ys: slice, xs: slice) -> HLSStack:
    stack.data[t, :, ys, xs] = -9999
    stack.valid[t, ys, xs] = False
    return stack


def test_segment_stack_folded_equals_unfolded_and_marks_nodata():
    spec = get_model_spec("flood")
    model = create_model(spec, arch=TINY_SEG)
    stack = _with_fill(_stack(1, 250, 300), 0, slice(10, 14), slice(20, 25))
    ref = segment_stack(model, spec, stack, device=CPU, batch_size=1, probabilities=True)
    got = segment_stack(fold_segmenter(model), spec, stack, device=CPU, batch_size=3, probabilities=True)
    np.testing.assert_array_equal(got.classes, ref.classes)
    np.testing.assert_allclose(got.probabilities, ref.probabilities, atol=1e-4)
    assert got.classes.shape == (250, 300) and (got.classes[10:14, 20:25] == 255).all()
    assert (got.classes == 255).sum() == 20
    assert got.class_names == ("No water", "Water / flood") and got.crs == stack.crs
    assert got.transform == stack.transform and got.model == spec.name and got.device == "cpu"


def test_segment_stack_checks_dates():
    spec = get_model_spec("crops")
    with pytest.raises(InputError, match="takes 3 date"):
        segment_stack(None, spec, _stack(1, 10, 10), device=CPU)


@pytest.fixture(scope="module")
def mae():
    torch.manual_seed(0)
    return create_model("reconstruct", arch=TINY_MAE)


@pytest.fixture(scope="module")
def mae_spec():
    return get_model_spec("reconstruct")


def test_pad_amount():
    assert [pad_amount(n, 224) for n in (1, 223, 224, 225, 448)] == [223, 1, 0, 223, 0]


def test_reconstruction_is_seeded_and_batch_independent(mae, mae_spec):
    stack = _stack(2, 250, 230)
    a = reconstruct_stack(mae, mae_spec, stack, device=CPU, seed=7, batch_size=1)
    b = reconstruct_stack(mae, mae_spec, stack, device=CPU, seed=7, batch_size=4)
    c = reconstruct_stack(mae, mae_spec, stack, device=CPU, seed=8, batch_size=4)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_allclose(a.reconstructed, b.reconstructed, rtol=1e-5, atol=1e-2)
    assert not np.array_equal(a.mask, c.mask)
    assert a.seed == 7 and a.mask_ratio == 0.75


def test_reconstruction_composition_and_shared_stretch(mae, mae_spec):
    stack = _with_fill(_stack(2, 224, 448, seed=3), 1, slice(0, 5), slice(0, 5))
    r = with_display_rgbs(reconstruct_stack(mae, mae_spec, stack, device=CPU, mask_ratio=0.75, seed=0), stack)
    assert r.original_rgb.shape == r.masked_rgb.shape == r.reconstructed_rgb.shape == (2, 224, 448, 3)
    assert r.mask.shape == (2, 224, 448) and r.reconstructed.shape == (2, 6, 224, 448)
    # per window: 2 dates x 14 x 14 tokens, int(392 * 0.25) = 98 kept
    for x0 in (0, 224):
        assert (~r.mask[:, :, x0:x0 + 224]).sum() == 98 * 256
    # masks are per patch: constant over each 16x16 block
    blocks = r.mask.reshape(2, 14, 16, 28, 16)
    assert (blocks.all(axis=(2, 4)) | ~blocks.any(axis=(2, 4))).all()
    # visible pixels keep the input exactly (DN), hidden ones take the prediction
    visible = ~r.mask & stack.valid
    diff = np.abs(r.reconstructed - stack.data).max(axis=1)
    assert diff[visible].max() < 0.05
    assert diff[r.mask & stack.valid].mean() > 10
    # invalid input -> nodata DN and black RGB
    assert (r.reconstructed[1, :, :5, :5] == -9999).all() and (r.original_rgb[1, :5, :5] == 0).all()
    # one stretch for all images: the original RGB is to_rgb with the white point over all dates
    vmax = stretch_max(stack.data, stack.valid)
    np.testing.assert_array_equal(r.original_rgb[0], to_rgb(stack.data[0], stack.valid[0], vmax))
    np.testing.assert_array_equal(r.masked_rgb[r.mask], 0)
    np.testing.assert_array_equal(r.masked_rgb[~r.mask], r.original_rgb[~r.mask])
    np.testing.assert_array_equal(r.reconstructed_rgb[visible], r.original_rgb[visible])


@pytest.mark.parametrize("dates", [1, 3])
def test_reconstruction_any_number_of_dates_and_small_input(mae, mae_spec, dates):
    r = reconstruct_stack(mae, mae_spec, _stack(dates, 20, 37), device=CPU, mask_ratio=0.5, seed=1)
    assert r.mask.shape == (dates, 20, 37) and r.reconstructed.shape == (dates, 6, 20, 37)
    assert 0.3 < r.mask.mean() < 0.7


def test_reconstruction_rejects_bad_ratio_and_dates(mae, mae_spec):
    with pytest.raises(InputError, match="mask ratio"):
        reconstruct_stack(mae, mae_spec, _stack(1, 10, 10), device=CPU, mask_ratio=1.0)
    with pytest.raises(InputError, match="1 to 3"):
        reconstruct_stack(mae, dataclasses.replace(mae_spec), _stack(4, 10, 10), device=CPU)
