"""The burn-scar task, added through the registry only: its published layout (strict load, reference forward,
fold), its input preparation, and the task through the API, the command line and the app."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from rasterio.crs import CRS

from geofm.cli import main
from geofm.config import BURN_SCARS_NORM, CLASS_NODATA, MODELS, TASKS, get_model_spec, get_task
from geofm.models.fold import fold_segmenter, is_folded
from geofm.inference.prepare import prepare_input
from geofm.inference.segment import segment_stack
from geofm.models import create_model, load_model
from geofm.models.checkpoints import load_checkpoint, read_checkpoint
from geofm.pipeline import run_task
from geofm.stack import HLSStack
from tests.checkpoints import mmseg_state_dict, tiny_segmenter, write_mmseg_checkpoint
from tests.geotiff_helpers import hls_like, write_tif
from tests.app.support import OMAHA_SMALL, OUTCOMES, env, go, metric, start, texts  # noqa: F401  (env: fixture)
from tests.models.segmenter_reference import _reference_logits

SPEC = MODELS["prithvi-eo-1.0-100m-burn-scar"]


def test_registry_entry_holds_the_published_facts():
    task = get_task("burn-scars")
    assert task.model == SPEC.name and get_model_spec("burn-scars") is SPEC
    assert task.date_span() == (1, 1) and task.scene_choice == "clearest" and task.result == "classes"
    assert SPEC.hf_repo == "ibm-nasa-geospatial/Prithvi-EO-1.0-100M-burn-scar"
    assert SPEC.filename == "burn_scars_Prithvi_100M.pth" and SPEC.checkpoint_layout == "mmseg"
    assert [c.name for c in SPEC.classes] == ["Unburnt land", "Burn scar"]
    assert SPEC.arch.num_classes == 2 and SPEC.arch.neck_channels == 768 and SPEC.num_frames == 1
    enc = SPEC.encoder
    assert (enc.img_size, enc.patch_size, enc.num_frames, enc.embed_dim, enc.depth, enc.num_heads) == \
        (224, 16, 1, 768, 12, 12)
    assert (SPEC.window, SPEC.stride) == (224, 112) and SPEC.norm.units == "reflectance"
    assert SPEC.sha256 is not None and len(SPEC.sha256) == 64 and len(SPEC.revision or "") == 40


def test_preparation_scales_dn_to_reflectance_and_zeroes_fill():
    data = np.full((1, 6, 2, 3), 1000, np.int16)
    data[0, :, 0, 0] = -9999
    x = prepare_input(data, SPEC)
    mean, std = np.array(BURN_SCARS_NORM.mean), np.array(BURN_SCARS_NORM.std)
    assert x.shape == (6, 1, 2, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0, 1, 1], (0.1 - mean) / std, rtol=1e-5)
    np.testing.assert_allclose(x[:, 0, 0, 0], (0.0 - mean) / std, rtol=1e-5)


def test_tiny_burn_scar_layout_matches_the_reference_forward_and_folds(tmp_path):
    cfg = tiny_segmenter(num_frames=1, num_classes=2)
    path = write_mmseg_checkpoint(tmp_path / SPEC.filename, cfg, seed=4, classes=("Unburnt land", "Burn scar"))
    model = create_model(SPEC.name, arch=cfg)
    load_checkpoint(model, path, "segmenter")
    model.eval()
    x = torch.randn(2, 6, 1, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        got = model(x)
        ref = _reference_logits(cfg, mmseg_state_dict(cfg, seed=4), x)
        folded = fold_segmenter(model)(x)
    assert got.shape == (2, 2, 64, 64)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(folded, got, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_published_file_loads_strictly_full_size(published_weights_dir: Path):
    path = published_weights_dir / SPEC.filename
    obj = read_checkpoint(path)
    assert obj["meta"]["CLASSES"] == ("Unburnt land", "Burn scar")
    sd = obj["state_dict"]
    assert len(sd) == 184 and sd["decode_head.conv_seg.weight"].shape == (2, 256, 1, 1)
    model = load_model("burn-scars", weights_dir=published_weights_dir)
    own = model.state_dict()
    assert len(own) == 170  # the training-only auxiliary head is dropped
    assert torch.equal(own["backbone.blocks.7.attn.qkv.weight"], sd["backbone.blocks.7.attn.qkv.weight"])
    assert own["neck.fpn1.0.weight"].shape == (768, 768, 2, 2)
    # the reference forward and the folded model agree with the loaded model on a full window
    x = torch.randn(1, 6, 1, 224, 224, generator=torch.Generator().manual_seed(6))
    with torch.inference_mode():
        got = model(x)
        ref = _reference_logits(SPEC.arch, sd, x)
        folded = fold_segmenter(model, inplace=True)(x)
    assert is_folded(model)
    torch.testing.assert_close(got, ref, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(folded, got, rtol=1e-3, atol=1e-3)
    assert (folded.argmax(1) == got.argmax(1)).float().mean() > 0.999


def _stack(h: int, w: int) -> HLSStack:
    data = hls_like(1, h, w, seed=7)
    data[:, :, :3, :4] = -9999
    return HLSStack(data, (data != -9999).all(axis=1), CRS.from_epsg(32613), Affine(30, 0, 440000, 0, -30, 3960000))


@pytest.mark.slow
def test_api_runs_burn_scars_like_the_unfolded_model(published_weights_dir):
    stack = _stack(224, 250)
    result = run_task("burn-scars", stack, weights_dir=published_weights_dir, device="cpu", probabilities=True,
                      mask_ratio=0.5, seed=1)  # masking options are not for this task and are ignored
    unfolded = load_model(SPEC, weights_dir=published_weights_dir, device="cpu")
    ref = segment_stack(unfolded, SPEC, stack, device=torch.device("cpu"), batch_size=2)
    np.testing.assert_array_equal(result.classes, ref.classes)
    assert result.model == SPEC.name and result.class_names == ("Unburnt land", "Burn scar")
    assert (result.classes[:3, :4] == CLASS_NODATA).all() and set(np.unique(result.classes)) <= {0, 1, 255}
    assert result.probabilities.shape == (2, 224, 250)
    with pytest.raises(Exception, match="takes 1 date"):
        run_task("burn-scars", HLSStack(np.concatenate([stack.data] * 2), np.concatenate([stack.valid] * 2),
                                        stack.crs, stack.transform), weights_dir=published_weights_dir)


@pytest.mark.slow
def test_cli_runs_burn_scars(published_weights_dir, tmp_path, capsys):
    data = hls_like(1, 90, 110, seed=8)
    data[:, :, :4, :6] = -9999
    scene, out = write_tif(tmp_path / "scene.tif", data[0]), tmp_path / "out.tif"
    code = main(["run", "burn-scars", "--input", str(scene), "--out", str(out),
                 "--weights-dir", str(published_weights_dir), "--device", "cpu"])
    stdout = capsys.readouterr().out
    assert code == 0 and stdout.startswith(f"wrote {out}: burn-scars 110x90 px, ")
    assert "Unburnt land" in stdout or "Burn scar" in stdout
    with rasterio.open(out) as src:
        classes = src.read(1)
        assert src.nodata == 255 and src.colormap(1)[1][:3] == SPEC.classes[1].color
    assert (classes[:4, :6] == 255).all() and set(np.unique(classes[4:])) <= {0, 1}
    # a flag of another task is refused in one line
    assert main(["run", "burn-scars", "--input", str(scene), "--out", str(out), "--seed", "3"]) == 2
    assert "only apply to 'reconstruct'" in capsys.readouterr().err


@pytest.mark.slow
def test_app_burn_scar_page_numbers_match_the_result(env):
    assert TASKS["burn-scars"].page == "app_pages/5_Burn_scars.py"
    at = start(OMAHA_SMALL)
    assert at.button(key="task-burn-scars").label == "Burn scar mapping"
    at = go(at, "app_pages/5_Burn_scars.py")
    assert at.title[0].value == "Burn scar mapping"
    at.button(key="burn-scars-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES]["burn-scars"]
    classes = outcome.result.classes
    from geofm.config import default_model

    assert outcome.result.model == default_model("burn-scars", "cpu") and classes.shape == outcome.stack.shape
    burnt_km2 = (classes == 1).sum() * 900 / 1e6
    clear_km2 = (classes != CLASS_NODATA).sum() * 900 / 1e6
    assert metric(at, "Burn scar area") == f"{burnt_km2:.2f} km²"
    assert metric(at, "Share of the clear area") == f"{100 * burnt_km2 / clear_km2:.1f} %"
    assert "Burn scar" in texts(at) and "Unburnt land (true colour shows through)" in texts(at)
    assert [b.label for b in at.get("download_button")] == ["GeoTIFF (COG)", "PNG image", "GeoJSON polygons"]
    assert outcome.views.geojson  # polygons of the burn scars (unburnt land left out)
