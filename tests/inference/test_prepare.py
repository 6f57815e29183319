"""Input preparation: each model's constants, units, fill handling and the crop reshape quirk."""

import numpy as np
import pytest

from geofm.config import CROP_NORM, PRITHVI_V1_NORM, SEN1FLOODS11_NORM, get_model_spec
from geofm.errors import InputError
from geofm.inference.prepare import MAE_FILL_VALUE, prepare_crop, prepare_flood, prepare_input, prepare_mae


def _dn(t: int, h: int = 4, w: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 6000, size=(t, 6, h, w)).astype(np.int16)


def test_flood_fill_to_zero_before_scaling_then_standardise():
    data = _dn(1)
    data[0, :, 1, 2] = -9999
    out = prepare_flood(data, SEN1FLOODS11_NORM)
    assert out.shape == (6, 1, 4, 5) and out.dtype == np.float32
    for b in range(6):
        mean, std = SEN1FLOODS11_NORM.mean[b], SEN1FLOODS11_NORM.std[b]
        assert out[b, 0, 0, 0] == pytest.approx((data[0, b, 0, 0] * 1e-4 - mean) / std, rel=1e-5)
        assert out[b, 0, 1, 2] == pytest.approx((0.0 - mean) / std, rel=1e-5)


def test_crop_plain_reshape_quirk_model_band_b_frame_t_holds_channel_3b_plus_t():
    data = _dn(3, seed=1)
    out = prepare_crop(data, CROP_NORM)
    assert out.shape == (6, 3, 4, 5)
    for b_model in range(6):
        for t_model in range(3):
            channel = 3 * b_model + t_model  # index into the time-major 18-channel chip
            t_in, band = divmod(channel, 6)
            expected = (data[t_in, band].astype(np.float64) - CROP_NORM.mean[band]) / CROP_NORM.std[band]
            np.testing.assert_allclose(out[b_model, t_model], expected, rtol=1e-5)
    # the quirk really scrambles: model (band 1, frame 0) is input date 0 band 3, not date 0 band 1
    assert not np.allclose(out[1, 0], (data[0, 1] - CROP_NORM.mean[1]) / CROP_NORM.std[1])


def test_crop_fill_becomes_band_mean():
    data = _dn(3, seed=2)
    data[1, 4, 2, 3] = -9999  # date 1, band 4 = chip channel 10 -> model (band 3, frame 1)
    out = prepare_crop(data, CROP_NORM)
    assert out[3, 1, 2, 3] == 0.0
    assert np.isfinite(out).all() and np.abs(out).max() < 30


def test_mae_fill_is_0_0001_in_normalised_space_and_layout_is_bands_by_time():
    data = _dn(2, seed=3)
    data[1, :, 0, 0] = -9999
    out = prepare_mae(data, PRITHVI_V1_NORM)
    assert out.shape == (6, 2, 4, 5)
    np.testing.assert_array_equal(out[:, 1, 0, 0], np.float32(MAE_FILL_VALUE))
    expected = (data[0, 2, 3, 4] - PRITHVI_V1_NORM.mean[2]) / PRITHVI_V1_NORM.std[2]
    assert out[2, 0, 3, 4] == pytest.approx(expected, rel=1e-5)


def test_prepare_input_dispatch_and_frame_checks():
    assert prepare_input(_dn(1), get_model_spec("flood")).shape == (6, 1, 4, 5)
    assert prepare_input(_dn(3), get_model_spec("crops")).shape == (6, 3, 4, 5)
    assert prepare_input(_dn(2), get_model_spec("reconstruct")).shape == (6, 2, 4, 5)
    with pytest.raises(InputError, match="3 date"):
        prepare_input(_dn(2), get_model_spec("crops"))
    with pytest.raises(InputError, match="1 to 3"):
        prepare_input(_dn(4), get_model_spec("reconstruct"))
