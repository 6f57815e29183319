"""`geofm run` end to end on small GeoTIFFs with full-size checkpoints in the published layouts."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from geofm.cli import main
from tests.geotiff_helpers import hls_like, write_tif


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli_inputs")
    data = hls_like(3, 100, 130, seed=5)
    data[:, :, :4, :6] = -9999
    paths = {f"t{i}": write_tif(folder / f"t{i}.tif", data[i]) for i in range(3)}
    paths["chip18"] = write_tif(folder / "chip18.tif", data.reshape(18, 100, 130))
    paths["four"] = write_tif(folder / "four.tif", data[0, :4])
    broken = folder / "broken.tif"
    broken.write_bytes(b"II*\x00garbage" * 50)
    paths["broken"] = broken
    return paths


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["run", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_flood_writes_cog_png_and_summary(scenes, tiny_models, tmp_path, capsys):
    out, png = tmp_path / "flood.tif", tmp_path / "flood.png"
    code, stdout, _ = _run(capsys, "flood", "--input", scenes["t0"], "--out", out, "--png", png,
                           "--weights-dir", tiny_models, "--device", "cpu")
    assert code == 0
    assert stdout.startswith(f"wrote {out} and {png}: flood 130x100 px, ") and stdout.count("\n") == 1
    assert "No water" in stdout and "% (" in stdout and "km2" in stdout and "on cpu (fp32)" in stdout
    with rasterio.open(out) as src, rasterio.open(scenes["t0"]) as inp:
        classes = src.read(1)
        assert src.crs == inp.crs and src.transform == inp.transform and src.nodata == 255
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert len(src.tags()["CHECKPOINT_SHA256"]) == 64  # provenance: which weights made it
    assert (classes[:4, :6] == 255).all() and set(np.unique(classes[4:])) <= {0, 1}
    assert Image.open(png).size == (2 * 130 + 4, 100)


@pytest.mark.slow
def test_precision_flag_beats_the_operator_setting(scenes, published_weights_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GEOFM_PRECISION", "bf16")
    common = ["flood", "--input", scenes["t0"], "--weights-dir", published_weights_dir, "--device", "cpu"]
    code, stdout, _ = _run(capsys, *common, "--out", tmp_path / "a.tif")
    assert code == 0 and stdout.rstrip().endswith("on cpu (bf16)")
    code, stdout, _ = _run(capsys, *common, "--out", tmp_path / "b.tif", "--precision", "fp32")
    assert code == 0 and stdout.rstrip().endswith("on cpu (fp32)")
    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        low, ref = a.read(1), b.read(1)
    assert (low == 255).sum() == (ref == 255).sum() == 24 and (low == ref).mean() > 0.98


@pytest.mark.slow
def test_crops_from_one_18_band_file(scenes, tiny_models, tmp_path, capsys):
    out, probs_path = tmp_path / "crops.tif", tmp_path / "crops_probs.tif"
    code, stdout, _ = _run(capsys, "crops", "--input", scenes["chip18"], "--out", out,
                           "--probabilities", probs_path, "--weights-dir", tiny_models, "--device", "cpu")
    assert code == 0 and "crops 130x100 px" in stdout
    with rasterio.open(out) as src:
        classes = src.read(1)
        assert src.colormap(1)[2][:3] == (255, 212, 0)  # Corn
    assert set(np.unique(classes[4:])) <= set(range(13))
    with rasterio.open(probs_path) as src, rasterio.open(scenes["chip18"]) as inp:
        probs = src.read()
        assert src.count == 13 and src.dtypes[0] == "float32" and src.descriptions[2] == "Corn"
        assert src.crs == inp.crs and src.transform == inp.transform
    assert np.isnan(probs[:, :4, :6]).all()  # nodata corner
    inside = probs[:, 4:, :]
    np.testing.assert_allclose(inside.sum(axis=0), 1.0, atol=1e-4)
    assert (inside.argmax(axis=0) == classes[4:]).all()


def test_reconstruct_with_a_prithvi_eo_2_model(scenes, tmp_path, capsys):
    """--model picks an EO-2.0 masked autoencoder (tiny-TL, published layout with its time/location
    encoder scales) through the same loader and engine; visible patches keep the input exactly."""
    from geofm.config import MODELS
    from tests.checkpoints import write_mae_checkpoint

    spec = MODELS["prithvi-eo-2.0-tiny-tl"]
    write_mae_checkpoint(tmp_path / spec.filename, spec.arch, seed=3)
    out = tmp_path / "rec2.tif"
    code, stdout, _ = _run(capsys, "reconstruct", "--model", spec.name, "--input", scenes["t0"], "--out", out,
                           "--mask-ratio", "0.5", "--weights-dir", tmp_path, "--device", "cpu")
    assert code == 0, stdout
    assert "1 date(s) x 6 bands" in stdout
    with rasterio.open(out) as src, rasterio.open(scenes["t0"]) as inp:
        rec, original = src.read(), inp.read()
        assert src.count == 6 and src.tags()["MODEL"] == spec.name
    same = (rec == original).all(axis=0)
    assert 0.3 < same.mean() < 0.7  # about half of the patches were visible and kept as they were
    # a segmenter is not a masked autoencoder
    code, _, err = _run(capsys, "reconstruct", "--model", "flood", "--input", scenes["t0"], "--out", out)
    assert code == 2 and "is not a masked autoencoder" in err


@pytest.mark.slow
def test_reconstruct_two_dates_is_seeded(scenes, tiny_models, tmp_path, capsys):
    outs = []
    for seed, name in ((1, "a.tif"), (1, "b.tif"), (2, "c.tif")):
        out = tmp_path / name
        code, stdout, _ = _run(capsys, "reconstruct", "--input", scenes["t0"], scenes["t1"], "--out", out,
                               "--seed", seed, "--mask-ratio", "0.5", "--weights-dir", tiny_models)
        assert code == 0 and "2 date(s) x 6 bands" in stdout and f"seed {seed}" in stdout
        with rasterio.open(out) as src:
            assert src.count == 12 and src.dtypes[0] == "int16" and src.nodata == -9999
            assert src.descriptions[6] == "date2 B02"
            outs.append(src.read())
    assert np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[0], outs[2])
    with rasterio.open(scenes["t1"]) as src:
        original = src.read()
    same = (outs[0][6:] == original).all(axis=0)
    assert 0.3 < same.mean() < 0.7  # visible half keeps the input DN exactly
    assert (outs[0][:, :4, :6] == -9999).all()


@pytest.mark.slow
def test_bbox_path_fetches_hls_from_stac(standin, tiny_models, tmp_path, capsys):
    out = tmp_path / "bbox.tif"
    code, stdout, _ = _run(capsys, "flood", "--bbox", "-95.94", "41.29", "-95.91", "41.31", "--start",
                           "2022-03-10", "--end", "2022-04-30", "--max-cloud", "40", "--stac-url", standin.url,
                           "--out", out, "--weights-dir", tiny_models, "--device", "cpu")
    assert code == 0, stdout
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() in (32614, 32615) and src.width > 50 and src.height > 50
        assert set(np.unique(src.read(1))) <= {0, 1, 255}


@pytest.mark.parametrize("argv, message", [
    (["flood", "--input", "{four}", "--out", "{tmp}/o.tif"], "four.tif has 4 band(s); expected 6 bands per date"),
    (["flood", "--input", "{tmp}/missing.tif", "--out", "{tmp}/o.tif"], "does not exist"),
    (["flood", "--input", "{broken}", "--out", "{tmp}/o.tif"], "Cannot read broken.tif as a GeoTIFF"),
    (["crops", "--input", "{t0}", "--out", "{tmp}/o.tif"], "crops takes 3 date(s) (18 bands in all)"),
    (["flood", "--input", "{t0}", "{t1}", "--out", "{tmp}/o.tif"], "flood takes 1 date(s)"),
    (["flood", "--input", "{t0}", "--bbox", "1", "2", "3", "4", "--out", "{tmp}/o.tif"], "not both"),
    (["flood", "--bbox", "1", "2", "3", "4", "--out", "{tmp}/o.tif"], "--bbox needs --start and --end"),
    (["reconstruct", "--input", "{t0}", "--mask-ratio", "1.5", "--out", "{tmp}/o.tif"], "below 1; got 1.5"),
    (["flood", "--input", "{t0}", "--seed", "3", "--out", "{tmp}/o.tif"], "only apply to 'reconstruct'"),
    (["crops", "--input", "{chip18}", "--model", "prithvi-eo-2.0-300m", "--out", "{tmp}/o.tif"],
     "--model only applies to 'reconstruct'"),
    (["flood", "--input", "{t0}", "--out", "{tmp}/o.png"], "--out must end in .tif"),
    (["reconstruct", "--input", "{t0}", "--out", "{tmp}/o.tif", "--probabilities", "{tmp}/p.tif"],
     "--probabilities only applies to 'flood', 'crops' and 'burn-scars'"),
    (["flood", "--input", "{t0}", "--out", "{tmp}/o.tif", "--weights-dir", "{tmp}"], "were not found"),
    (["flood", "--input", "{t0}", "--out", "{tmp}/o.tif", "--precision", "fp8"],
     "Unknown precision 'fp8'; use auto, bf16, fp16, fp32."),
])
def test_bad_input_is_one_line_exit_2(scenes, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))  # no weights anywhere
    monkeypatch.delenv("GEOFM_WEIGHTS_DIR", raising=False)
    values = {k: str(v) for k, v in scenes.items()} | {"tmp": str(tmp_path)}
    code, stdout, stderr = _run(capsys, *[a.format(**values) for a in argv])
    assert code == 2 and stdout == ""
    errors = [line for line in stderr.splitlines() if line.startswith("geofm: error:")]
    assert len(errors) == 1 and message in errors[0], stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == errors[0]
    assert not (tmp_path / "o.tif").exists()


def test_help_documents_the_reconstruction_output(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "int16 DN" in text and "nodata -9999" in text and "--mask-ratio" in text and "--bbox" in text
