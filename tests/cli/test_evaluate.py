"""`geofm evaluate --result R.tif --reference auto|PATH` and `geofm run … --reference`: agreement products
beside the result (COGs with colour tables and provenance tags, STAC Items, metrics JSON), metrics printed,
bad input as one error line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from geofm.cli import main
from geofm.config import CLASS_NODATA, MODELS
from geofm.data import AOI, load_task_stack
from geofm.evaluate.provenance import Provenance, write_provenance
from geofm.io.geotiff import write_class_map_cog
from geofm.stack import SegmentationResult
from tests.geotiff_helpers import hls_like, write_tif

SINDH_BBOX = (67.62, 26.36, 67.72, 26.46)


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([*map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def flood_result(standin, tmp_path):
    """A flood class map over the Sindh example: dark-NIR pixels of the clearest scene called water."""
    stack, _ = load_task_stack("flood", AOI.from_bbox(*SINDH_BBOX), "2022-08-25", "2022-09-12", stac_url=standin.url)
    spec = MODELS["prithvi-eo-1.0-100m-sen1floods11"]
    classes = np.where(stack.valid[0], stack.data[0, 3] < 1000, CLASS_NODATA).astype(np.uint8)
    seg = SegmentationResult(classes=classes, crs=stack.crs, transform=stack.transform, model=spec.name,
                             class_names=tuple(c.name for c in spec.classes),
                             class_colors=tuple(c.color for c in spec.classes))
    out = write_class_map_cog(seg, tmp_path / "flood.tif")
    write_provenance(out, Provenance(task="flood", model=spec.name, scene_ids=stack.scene_ids,
                                     dates=[t.isoformat() for t in stack.times if t], geofm_version="0.1.0"))
    return out


def test_evaluate_flood_result_with_auto_reference(standin, flood_result, capsys):
    code, out, err = _run(capsys, "evaluate", "--result", flood_result, "--reference", "auto",
                          "--stac-url", standin.url)
    assert code == 0, err
    assert out.startswith(f"flood: {flood_result} compared with JRC Global Surface Water (seasonality) 2020")
    values = dict(line.strip().split(": ", 1) for line in out.splitlines()[1:] if ": " in line
                  and not line.strip().startswith(("note", "reference")))
    assert 0.1 < float(values["iou"]) < 0.9 and float(values["recall"]) > 0.97
    folder = flood_result.parent
    for key in ("agreement", "new-water", "reference"):
        tif = folder / f"flood.{key}.tif"
        with rasterio.open(tif) as src:
            assert src.crs == rasterio.open(flood_result).crs and src.nodata == CLASS_NODATA
            assert src.tags()["GEOFM_PRODUCT"] == key
            assert src.tags()["GEOFM_REFERENCE"].startswith("JRC Global Surface Water")
            assert src.colormap(1)[CLASS_NODATA][3] == 0
        item = json.loads((folder / f"flood.{key}.item.json").read_text())
        assert item["properties"]["geofm:scene_ids"] == [s for s in json.loads(
            rasterio.open(flood_result).tags()["GEOFM_SCENE_IDS"])]
        assert item["assets"]["data"]["href"] == f"./flood.{key}.tif"
    with rasterio.open(folder / "flood.agreement.tif") as src:
        agreement = src.read(1)
    assert set(np.unique(agreement)) <= {0, 1, 2, 3, CLASS_NODATA} and (agreement == 3).any()
    metrics = json.loads((folder / "flood.metrics.json").read_text())
    assert metrics["metrics"]["iou"] == pytest.approx(float(values["iou"]), rel=1e-3)
    assert "12 months" in metrics["meaning"]


def test_evaluate_with_a_reference_file_and_worldcover(standin, flood_result, tmp_path, capsys):
    # the result itself as the reference: perfect agreement
    code, out, _ = _run(capsys, "evaluate", "--result", flood_result, "--reference", flood_result)
    assert code == 0 and "iou: 1" in out and "precision: 1" in out
    code, out, _ = _run(capsys, "evaluate", "--result", flood_result, "--reference", "esa-worldcover",
                        "--stac-url", standin.url)
    assert code == 0 and "ESA WorldCover (permanent water bodies) 2021" in out


@pytest.mark.parametrize("argv, message", [
    (["--result", "{tmp}/nope.tif", "--reference", "auto"], "does not exist"),
    (["--result", "{flood}", "--reference", "{tmp}/nope.tif"], "does not exist"),
    (["--result", "{flood}", "--reference", "auto", "--task", "burn-scars"], "no public reference layer"),
])
def test_evaluate_bad_input_is_one_line(flood_result, tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path, flood=flood_result) for a in argv]
    code, out, err = _run(capsys, "evaluate", *argv)
    assert code == 2 and err.count("\n") == 1 and err.startswith("geofm: error: ") and message in err


def test_run_reference_checked_before_the_model(tmp_path, capsys):
    tif = write_tif(tmp_path / "t.tif", hls_like(1, 40, 40, seed=1)[0])
    code, _, err = _run(capsys, "run", "reconstruct", "--input", tif, "--out", tmp_path / "r.tif",
                        "--reference", tif)
    assert code == 2 and "use --reference auto" in err
    code, _, err = _run(capsys, "run", "burn-scars", "--input", tif, "--out", tmp_path / "b.tif",
                        "--reference", "auto")
    assert code == 2 and "no public reference layer" in err


@pytest.mark.slow
def test_run_flood_bbox_with_reference_auto(standin, tiny_models, tmp_path, capsys):
    out = tmp_path / "flood.tif"
    code, stdout, err = _run(capsys, "run", "flood", "--bbox", *SINDH_BBOX, "--start", "2022-08-25", "--end",
                             "2022-09-12", "--stac-url", standin.url, "--out", out, "--weights-dir",
                             tiny_models, "--device", "cpu", "--reference", "auto")
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[0].startswith(f"wrote {out}") and lines[1].startswith("flood: compared with JRC Global Surface")
    assert any(line.strip().startswith("iou: ") for line in lines)
    assert any("top-of-atmosphere" in line for line in lines)
    with rasterio.open(out) as src:
        tags = src.tags()
    assert tags["GEOFM_TASK"] == "flood" and len(tags["GEOFM_CHECKPOINT_SHA256"]) == 64
    assert json.loads(tags["GEOFM_SCENE_IDS"])[0].startswith("HLS.L30.T42RUQ.2022240")
    assert json.loads(tags["GEOFM_PARAMETERS"])["bbox"] == list(SINDH_BBOX)
    assert (tmp_path / "flood.item.json").is_file() and (tmp_path / "flood.agreement.tif").is_file()


@pytest.mark.slow
def test_run_reconstruct_reference_auto_beats_or_not_the_baseline(tiny_models, tmp_path, capsys):
    data = hls_like(1, 64, 64, seed=3)
    tif = write_tif(tmp_path / "scene_2022-06-01.tif", data[0])
    code, stdout, err = _run(capsys, "run", "reconstruct", "--input", tif, "--out", tmp_path / "r.tif",
                             "--weights-dir", tiny_models, "--device", "cpu", "--reference", "auto",
                             "--mask-ratio", "0.5")
    assert code == 0, err
    values = dict(line.strip().split(": ", 1) for line in stdout.splitlines()[1:] if ": " in line)
    assert float(values["psnr_db"]) > 0 and float(values["baseline_psnr_db"]) > 0
    assert float(values["psnr_gain_db"]) == pytest.approx(float(values["psnr_db"]) - float(values["baseline_psnr_db"]),
                                                          abs=2e-3)
    with rasterio.open(tmp_path / "r.patch-error.tif") as src:
        heat = src.read(1)
        assert src.dtypes[0] == "float32"
    assert np.isfinite(heat).any() and np.isnan(heat).any()  # hidden patches only


def test_dry_date_window_and_checks():
    from datetime import date

    from geofm.errors import InputError
    from geofm.evaluate.change import dry_window

    assert dry_window(date(2022, 9, 5)) == (date(2022, 6, 7), date(2022, 8, 26))
    assert dry_window(date(2022, 9, 5), "2022-08-25") == (date(2022, 8, 25), date(2022, 8, 25))
    with pytest.raises(InputError, match="before the event"):
        dry_window(date(2022, 9, 5), "2022-09-06")


@pytest.mark.slow
def test_run_flood_with_a_dry_date_writes_water_gained_and_lost(standin, tiny_models, tmp_path, capsys):
    out = tmp_path / "flood.tif"
    code, stdout, err = _run(capsys, "run", "flood", "--bbox", 67.70, 26.30, 67.80, 26.37, "--start", "2022-08-27", "--end",
                             "2022-09-12", "--stac-url", standin.url, "--out", out, "--weights-dir",
                             tiny_models, "--device", "cpu", "--dry-date", "2022-08-25",
                             "--max-cloud", "60")
    assert code == 0, err
    assert "before / after, dry date 2022-08-25" in stdout
    values = dict(line.strip().split(": ", 1) for line in stdout.splitlines() if line.startswith("  ") and ": " in line)
    with rasterio.open(tmp_path / "flood-dry.water-change.tif") as src:
        change = src.read(1)
        assert src.tags()["GEOFM_PRODUCT"] == "water-change"
    # printed with two decimals: equal to the layer within half of the last digit
    assert (change == 1).any() and (change == 2).any()  # both kinds: the two sums below are told apart
    assert float(values["water_gained_km2"]) == pytest.approx((change == 1).sum() * 0.0009, abs=0.005)
    assert float(values["water_lost_km2"]) == pytest.approx((change == 2).sum() * 0.0009, abs=0.005)
    with rasterio.open(out) as src:
        params = json.loads(src.tags()["GEOFM_PARAMETERS"])
    assert params["dry_scene_ids"][0].startswith("HLS.S30.T42RUQ.2022237")
