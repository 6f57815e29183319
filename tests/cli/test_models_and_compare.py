"""EO-2.0 fine-tunes from the command line: the model choice, the date of a user's file, and ``geofm compare``
on the stand-in (figures recomputed from the two class maps it wrote)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geofm.cli import main
from geofm.evaluate.models_compare import pixel_counts
from tests.geotiff_helpers import hls_like, write_tif

EO1 = "prithvi-eo-1.0-100m-sen1floods11"
EO2 = "prithvi-eo-2.0-300m-tl-sen1floods11"


def _main(capsys, *argv) -> tuple[int, str, str]:
    code = main([*map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def undated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("eo2_inputs")
    return write_tif(folder / "scene.tif", hls_like(1, 90, 120, seed=3)[0])


def test_run_eo2_needs_the_date_of_an_undated_file(undated, published_weights_dir, tmp_path, capsys):
    out = tmp_path / "f.tif"
    common = ["run", "flood", "--input", undated, "--model", EO2, "--weights-dir", published_weights_dir,
              "--device", "cpu"]
    code, stdout, stderr = _main(capsys, *common, "--out", out)
    assert code == 2 and stdout == "" and "--date YYYY-MM-DD" in stderr and "Traceback" not in stderr
    assert not out.exists()
    code, stdout, stderr = _main(capsys, *common, "--out", out, "--date", "2021-08-01")
    assert code == 0, stderr
    with rasterio.open(out) as src:
        tags = src.tags()
        assert src.shape == (90, 120) and set(np.unique(src.read(1))) <= {0, 1}
    assert tags["GEOFM_MODEL"] == EO2 and json.loads(tags["GEOFM_DATES"]) == ["2021-08-01T00:00:00"]


def test_date_tag_of_the_file_is_used(published_weights_dir, tmp_path, capsys):
    path = write_tif(tmp_path / "tagged.tif", hls_like(1, 60, 70, seed=4)[0])
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(SENSING_TIME="2022-09-01T05:50:12.345Z")
    code, _, stderr = _main(capsys, "run", "flood", "--input", path, "--model", EO2, "--out", tmp_path / "o.tif",
                            "--weights-dir", published_weights_dir, "--device", "cpu")
    assert code == 0, stderr
    with rasterio.open(tmp_path / "o.tif") as src:
        assert json.loads(src.tags()["GEOFM_DATES"]) == ["2022-09-01T05:50:12.345000"]


@pytest.mark.parametrize("argv, message", [
    (["run", "flood", "--input", "{f}", "--model", "prithvi-eo-2.0-300m-burn-scars", "--out", "{tmp}/o.tif"],
     "flood runs one of prithvi-eo-1.0-100m-sen1floods11, prithvi-eo-2.0-300m-tl-sen1floods11"),
    (["run", "flood", "--input", "{f}", "--date", "2021-13-01", "--out", "{tmp}/o.tif"], "--date takes YYYY-MM-DD"),
    (["compare", "flood", "--input", "{f}", "--models", EO1, "--out", "{tmp}/c"], "--models takes two different"),
    (["compare", "burn-scars", "--input", "{f}", "--models", f"{EO1},{EO2}", "--out", "{tmp}/c"],
     "burn-scars runs one of"),
])
def test_bad_model_choices_are_one_line(undated, tmp_path, capsys, argv, message):
    values = {"f": str(undated), "tmp": str(tmp_path)}
    code, stdout, stderr = _main(capsys, *[a.format(**values) for a in argv])
    errors = [line for line in stderr.splitlines() if line.startswith("geofm: error:")]
    assert code == 2 and len(errors) == 1 and message in errors[0], stderr


@pytest.mark.slow
def test_compare_on_the_standin_figures_equal_the_written_maps(standin, tiny_models, tmp_path, capsys):
    out = tmp_path / "cmp"
    code, stdout, stderr = _main(capsys, "compare", "flood", "--bbox", "-95.94", "41.29", "-95.91", "41.31",
                                 "--start", "2022-03-10", "--end", "2022-04-30", "--max-cloud", "40",
                                 "--stac-url", standin.url, "--models", f"{EO1},{EO2}", "--out", out,
                                 "--reference", "auto", "--weights-dir", tiny_models, "--device", "cpu")
    assert code == 0, stderr
    summary = json.loads((out / "compare.json").read_text())
    with rasterio.open(out / f"{EO1}.tif") as fa, rasterio.open(out / f"{EO2}.tif") as fb, \
            rasterio.open(out / "agreement.tif") as fg:
        a, b, agree = fa.read(1), fb.read(1), fg.read(1)
        px_km2 = abs(fa.transform.a * fa.transform.e) / 1e6
        assert fa.tags()["GEOFM_MODEL"] == EO1 and fb.tags()["GEOFM_MODEL"] == EO2
        assert fg.tags()["CLASS_1"] == "Only EO-1.0" and fg.tags()["CLASS_2"] == "Only EO-2.0"
    counts = pixel_counts(a, b, 1)
    assert summary["pixels"] | {"not_compared": 0} == counts | {"not_compared": 0}
    assert sum(counts.values()) > 1000  # a real area was compared
    expected_iou = counts["both"] / max(1, counts["both"] + counts["only_a"] + counts["only_b"])
    assert summary["iou"] == pytest.approx(expected_iou, abs=1e-12)
    assert summary["areas_km2"]["a"] == pytest.approx((counts["both"] + counts["only_a"]) * px_km2, rel=1e-9)
    assert summary["areas_km2"]["only_b"] == pytest.approx(counts["only_b"] * px_km2, rel=1e-9)
    # the agreement layer is the same partition, pixel by pixel
    valid = (a != 255) & (b != 255)
    assert np.array_equal(agree[valid], (a[valid] == 1) + 2 * (b[valid] == 1))
    assert (agree[~valid] == 255).all()
    for name in (EO1, EO2):
        model = summary["models"][name]
        assert model["provenance"]["model"] == name and len(model["provenance"]["checkpoint_sha256"]) == 64
        assert model["reference"] is not None and 0.0 <= model["reference"]["iou"] <= 1.0
        assert model["reference_title"].startswith(("JRC", "ESA"))
    assert f"IoU between the models {summary['iou']:.3f}" in stdout
