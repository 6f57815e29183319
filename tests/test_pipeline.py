"""The Python API on full-size checkpoints in the published layouts (random weights, small inputs)."""

import os

import numpy as np
import pytest
import torch
from affine import Affine
from rasterio.crs import CRS

from geofm.config import get_model_spec
from geofm.errors import InputError, WeightsNotFoundError
from geofm.models.fold import is_folded
from geofm.inference.segment import segment_stack
from geofm.models import load_model
from geofm.pipeline import get_model, is_loaded, run_crops, run_flood, run_reconstruction, run_task
from geofm.stack import HLSStack
from tests.geotiff_helpers import hls_like

pytestmark = pytest.mark.slow


def _stack(t: int, h: int, w: int, seed: int = 0) -> HLSStack:
    data = hls_like(t, h, w, seed)
    data[:, :, :3, :4] = -9999
    valid = (data != -9999).all(axis=1)
    return HLSStack(data, valid, CRS.from_epsg(32614), Affine(30, 0, 700000, 0, -30, 4600000))


def test_get_model_caches_one_folded_model(tiny_models):
    a, spec = get_model("flood", weights_dir=tiny_models, device="cpu")
    b, _ = get_model("prithvi-eo-1.0-100m-sen1floods11", weights_dir=tiny_models, device="cpu")
    assert a is b and is_folded(a) and not a.training and spec.name == "prithvi-eo-1.0-100m-sen1floods11"
    mae, mspec = get_model("reconstruct", weights_dir=tiny_models, device="cpu")
    assert mspec.kind == "mae" and not is_folded(mae)


def test_is_loaded_asks_about_the_file_of_the_folder_given(tiny_models, tmp_path):
    """Loaded from one folder is not loaded from another (it answered True for any folder)."""
    other = tmp_path / "other"
    other.mkdir()
    name = get_model_spec("flood").filename
    for f in tiny_models.glob(name + "*"):  # the same model, another copy of its file
        os.link(f, other / f.name)
    assert not is_loaded("flood", weights_dir=tiny_models, device="cpu")
    get_model("flood", weights_dir=tiny_models, device="cpu")
    assert is_loaded("flood", weights_dir=tiny_models, device="cpu")
    assert not is_loaded("flood", weights_dir=other, device="cpu")
    assert not is_loaded("flood", weights_dir=tmp_path / "empty", device="cpu")  # no file there


def test_run_flood_equals_the_unfolded_published_model(published_weights_dir):
    stack = _stack(1, 224, 224)
    seen = []
    result = run_flood(stack, weights_dir=published_weights_dir, device="cpu", probabilities=True,
                       progress=lambda stage, msg, frac=None: seen.append((stage, msg, frac)))
    spec = get_model_spec("flood")
    unfolded = load_model(spec, weights_dir=published_weights_dir, device="cpu")
    ref = segment_stack(unfolded, spec, stack, device=torch.device("cpu"), batch_size=1)
    np.testing.assert_array_equal(result.classes, ref.classes)
    assert (result.classes[:3, :4] == 255).all() and set(np.unique(result.classes)) <= {0, 1, 255}
    assert result.probabilities.shape == (2, 224, 224) and result.seconds > 0
    assert ("infer", "window 1 of 1 on CPU", 1.0) in seen


def test_run_crops_three_dates(tiny_models):
    result = run_crops(_stack(3, 224, 224, seed=1), weights_dir=tiny_models, device="cpu")
    assert result.classes.shape == (224, 224) and len(result.class_names) == 13
    assert set(np.unique(result.classes)) <= set(range(13)) | {255}
    assert (result.classes[:3, :4] == 255).all() and (result.classes[3:] != 255).all()


def test_date_count_is_checked_before_loading(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))  # no weights anywhere
    monkeypatch.delenv("GEOFM_WEIGHTS_DIR", raising=False)
    with pytest.raises(InputError, match="takes 3 date"):
        run_crops(_stack(2, 10, 10), weights_dir=tmp_path, device="cpu")
    with pytest.raises(InputError, match="takes 1 date"):
        run_flood(_stack(2, 10, 10), weights_dir=tmp_path, device="cpu")
    with pytest.raises(WeightsNotFoundError):
        run_flood(_stack(1, 10, 10), weights_dir=tmp_path, device="cpu")


def test_run_reconstruction_is_reproducible(tiny_models):
    stack = _stack(2, 100, 120, seed=2)
    a = run_reconstruction(stack, weights_dir=tiny_models, device="cpu", seed=3)
    b = run_task("reconstruct", stack, weights_dir=tiny_models, device="cpu", seed=3, mask_ratio=0.75)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.reconstructed_rgb, b.reconstructed_rgb)
    assert a.reconstructed.shape == (2, 6, 100, 120) and a.model == "prithvi-eo-1.0-100m"
    with pytest.raises(InputError, match="Unknown task"):
        run_task("wildfire", stack)


def test_window_logits_are_the_same_bits_for_any_thread_count_and_batch(published_weights_dir):
    """Issue 18: a chunk's windows give the same logits in a region worker (its share of the cores), in
    `geofm run` (all of them) and after --resume, whatever else shares their batches. The full-size flood model
    (folded, oneDNN) over two windows: 1 thread in batches of 2 against 2 threads in batches of 3 (padded),
    3 threads one window at a time and 6 threads in batches of 2. Each of these gave other last bits before the
    folded head ran as inner products (80-95 % of the logits)."""
    from geofm.inference.prepare import prepare_input
    from geofm.inference.sliding import slide_logits

    model, spec = get_model("flood", weights_dir=published_weights_dir, device="cpu")
    x = torch.from_numpy(prepare_input(hls_like(1, 224, 336, seed=5), spec))  # windows at x = 0 and 112
    before = torch.get_num_threads()

    def logits(threads: int, batch: int) -> torch.Tensor:
        torch.set_num_threads(threads)
        return slide_logits(model, x, 2, window=224, stride=112, batch_size=batch, device=torch.device("cpu"))

    try:
        want = logits(1, 2)
        for threads, batch in [(2, 3), (3, 1), (6, 2)]:
            got = logits(threads, batch)
            assert torch.equal(got, want), (threads, batch, float((got != want).float().mean()))
    finally:
        torch.set_num_threads(before)
    assert want.shape == (2, 224, 336) and want.std() > 0
