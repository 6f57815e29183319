"""`geofm evaluate` on inputs a careless user or an attacker gives: float references (NaN, nodata, values
that are not classes) and a result whose header declares far more pixels than fit in memory."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from geofm.cli import main
from geofm.config import CLASS_NODATA, MODELS
from geofm.evaluate.provenance import Provenance, write_provenance
from geofm.io.geotiff import write_class_map_cog
from geofm.stack import SegmentationResult

REPO = Path(__file__).resolve().parents[2]
CRS_UTM = CRS.from_epsg(32614)
TRANSFORM = Affine(30, 0, 700000, 0, -30, 4600000)
FLOOD = MODELS["prithvi-eo-1.0-100m-sen1floods11"]
H, W = 40, 50


def _run(capsys, *argv) -> tuple[int, str, str]:  # noqa: ANN001
    code = main([*map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def _water() -> np.ndarray:
    water = np.zeros((H, W), np.uint8)
    water[5:25, 10:30] = 1
    return water


@pytest.fixture
def flood_result(tmp_path: Path) -> Path:
    seg = SegmentationResult(classes=_water(), crs=CRS_UTM, transform=TRANSFORM, model=FLOOD.name,
                             class_names=tuple(c.name for c in FLOOD.classes),
                             class_colors=tuple(c.color for c in FLOOD.classes))
    out = write_class_map_cog(seg, tmp_path / "flood.tif")
    write_provenance(out, Provenance(task="flood", model=FLOOD.name, dates=["2022-08-30T00:00:00"]))
    return out


def _float_reference(path: Path, values: np.ndarray, nodata: float | None) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=1, dtype="float32", crs=CRS_UTM,
                       transform=TRANSFORM, nodata=nodata) as ds:
        ds.write(values.astype(np.float32), 1)
    return path


def _metrics(folder: Path) -> dict:
    return json.loads((folder / "flood.metrics.json").read_text())["metrics"]


def test_float_reference_nan_and_nodata_are_no_data(flood_result: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    ref = _water().astype(np.float32)
    ref[5:15, 10:30] = np.nan  # half the water has no reference: left out, not "land"
    ref[30:40, :] = -1.0  # the file's nodata
    path = _float_reference(tmp_path / "ref.tif", ref, nodata=-1.0)
    code, out, err = _run(capsys, "evaluate", "--result", flood_result, "--reference", path)
    assert code == 0, err
    m = _metrics(tmp_path)
    assert m["iou"] == pytest.approx(1.0) and m["precision"] == pytest.approx(1.0)
    compared = (H * W - 10 * 20 - 10 * W) / (H * W)
    assert m["compared_share"] == pytest.approx(compared)
    with rasterio.open(tmp_path / "flood.reference.tif") as src:
        layer = src.read(1)
    assert (layer[5:15, 10:30] == CLASS_NODATA).all() and (layer[30:, :] == CLASS_NODATA).all()
    assert (layer[15:25, 10:30] == 1).all()


def test_float_reference_without_nodata_tag_nan_is_no_data(flood_result: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    ref = _water().astype(np.float32)
    ref[:, :25] = np.nan
    path = _float_reference(tmp_path / "ref.tif", ref, nodata=None)
    code, _, err = _run(capsys, "evaluate", "--result", flood_result, "--reference", path)
    assert code == 0, err
    m = _metrics(tmp_path)
    assert m["iou"] == pytest.approx(1.0) and m["compared_share"] == pytest.approx(0.5)


@pytest.mark.parametrize("bad, shown", [(300.0, "300"), (0.5, "0.5"), (-3.0, "-3"), (np.inf, "inf")])
def test_reference_values_that_are_not_classes_are_refused_naming_them(flood_result: Path, tmp_path: Path, capsys,  # noqa: ANN001
                                                                        bad: float, shown: str) -> None:
    ref = _water().astype(np.float32)
    ref[0, :7] = bad
    path = _float_reference(tmp_path / "ref.tif", ref, nodata=-1.0)
    code, out, err = _run(capsys, "evaluate", "--result", flood_result, "--reference", path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("geofm: error: "), err
    assert "ref.tif" in err and f"not class codes: {shown} (7 pixels)" in err, err
    assert not (tmp_path / "flood.metrics.json").exists()


def test_a_result_declaring_100000_squared_pixels_is_judged_from_its_header(tmp_path: Path) -> None:
    """Run in a child with 3 GiB of address space: reading the declared raster (9.3 GiB) could never pass."""
    huge = tmp_path / "huge.tif"
    with rasterio.open(huge, "w", driver="GTiff", width=100_000, height=100_000, count=1, dtype="uint8",
                       crs=CRS_UTM, transform=TRANSFORM, tiled=True, blockxsize=512, blockysize=512,
                       compress="deflate", sparse_ok=True, nodata=255) as ds:
        ds.update_tags(GEOFM_TASK="flood", GEOFM_MODEL=FLOOD.name)
    assert huge.stat().st_size < 1_000_000

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "geofm", "evaluate", "--result", str(huge), "--reference",
                           str(huge)], cwd=REPO, capture_output=True, text=True, preexec_fn=limit_memory,
                          timeout=300)
    print(f"100000^2 result: exit {proc.returncode} after {time.monotonic() - started:.1f} s")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert "huge.tif is 100000 x 100000 px" in proc.stderr and "geofm evaluate takes inputs up to" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.tif"]  # nothing written


@pytest.mark.parametrize("tags", [
    {"GEOFM_TASK": "flood"},  # another tool's class map, told its task: no model tag (a TypeError traceback)
    {"GEOFM_TASK": "flood", "GEOFM_MODEL": FLOOD.name, "GEOFM_SCENE_IDS": "not json"},  # a damaged tag
    {"GEOFM_TASK": "flood", "GEOFM_MODEL": FLOOD.name, "GEOFM_PARAMETERS": "[1, 2]"},  # a tag of the wrong kind
])
def test_a_class_map_with_partial_or_foreign_provenance_tags_is_evaluated(tags: dict, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """Provenance read from the file only when it is geofm's, whole; otherwise made anew for the evaluation's
    outputs (the probe of this note's table: exit 1 and a traceback before)."""
    path = tmp_path / "flood.tif"
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=1, dtype="uint8", crs=CRS_UTM,
                       transform=TRANSFORM, nodata=CLASS_NODATA) as ds:
        ds.write(_water(), 1)
        ds.update_tags(**tags)
    ref = _float_reference(tmp_path / "ref.tif", _water().astype(np.float32), nodata=None)
    code, out, err = _run(capsys, "evaluate", "--result", path, "--reference", ref, "--task", "flood", "--year",
                          "2022")
    assert code == 0, err
    assert _metrics(tmp_path)["iou"] == pytest.approx(1.0)
    with rasterio.open(tmp_path / "flood.agreement.tif") as src:
        written = src.tags()
    assert written["GEOFM_TASK"] == "flood" and written["GEOFM_MODEL"] == FLOOD.name
    assert written["GEOFM_SCENE_IDS"] == "[]"
