"""geofm series: every clear date over an area through one model load, on the stand-in (Sindh, Aug-Sep 2022:
a cloudy Sentinel-2 date, then two clear Landsat dates)."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from geofm.cli import main
from geofm.config import CLASS_NODATA, MODELS, SERIES
from geofm.data.aoi import AOI

#: 4 x 4.4 km west of Manchar Lake, under the Aug 25 scene's cloud (6 km round 67.62, 26.36): one window a date.
BOX = (67.60, 26.34, 67.64, 26.38)
START, END = "2022-08-20", "2022-09-12"


@pytest.fixture
def flood_weights(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only the flood model's file (random, tiny, published layout) and its ready copy: a series needs no
    other."""
    folder = tmp_path_factory.mktemp("series-weights")
    spec = MODELS["prithvi-eo-1.0-100m-sen1floods11"]
    for f in tiny_models.glob(spec.filename + "*"):
        os.link(f, folder / f.name)
    return folder


@pytest.fixture
def count_model(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Stacks that went through the model, one entry per call of segment_stacks."""
    from geofm import pipeline

    calls: list[int] = []
    real = pipeline.segment_stacks

    def counted(model, spec, stacks, **kw):  # noqa: ANN001, ANN202
        calls.append(len(stacks))
        return real(model, spec, stacks, **kw)

    monkeypatch.setattr(pipeline, "segment_stacks", counted)
    return calls


def _series(out: Path, weights: Path, **kw):  # noqa: ANN202
    from geofm.series import run_series

    return run_series("flood", AOI.from_bbox(*BOX), START, END, out, weights_dir=weights,
                      device="cpu", **kw)


def _csv(out: Path) -> list[dict[str, str]]:
    with open(out / SERIES.csv_name, newline="") as fh:
        return list(csv.DictReader(fh))


def _classes(path: Path) -> tuple[np.ndarray, float]:
    with rasterio.open(path) as src:
        return src.read(1), abs(src.transform.a * src.transform.e)


def test_series_writes_a_cog_per_clear_date_and_the_table_measures_them(standin, flood_weights, tmp_path,
                                                                        count_model):
    out = tmp_path / "sindh"
    result = _series(out, flood_weights)
    rows = _csv(out)
    assert [r["date"] for r in rows] == ["2022-08-25", "2022-08-28", "2022-09-05"]
    cloudy, *kept = rows
    assert cloudy["status"] == "left out" and cloudy["file"] == "" and cloudy["area_km2"] == ""
    assert cloudy["reason"].startswith("cloudy: ") and float(cloudy["clear_percent"]) < 50
    assert not (out / "2022-08-25.tif").exists()
    assert count_model == [2]  # both clear dates in one call: their windows shared the batches
    for row in kept:
        assert row["status"] == "kept" and row["file"] == f"{row['date']}.tif" and float(row["clear_percent"]) >= 50
        classes, px_m2 = _classes(out / row["file"])
        water = float((classes == 1).sum()) * px_m2 / 1e6
        clear = float((classes != CLASS_NODATA).sum()) * px_m2 / 1e6
        assert float(row["area_km2"]) == pytest.approx(water, abs=1e-4)
        assert float(row["clear_km2"]) == pytest.approx(clear, abs=1e-4)
        assert float(row["percent_of_clear"]) == pytest.approx(100 * water / clear, abs=0.01)
        assert 0 < water < clear  # random (tiny) weights: some water, not all
        with rasterio.open(out / row["file"]) as src:  # the same COG and provenance as `geofm run`
            tags = src.tags()
            assert src.dtypes[0] == "uint8" and src.nodata == CLASS_NODATA and src.colormap(1)[1][:3] == (30, 100, 220)
        assert tags["GEOFM_TASK"] == "flood" and len(tags["CHECKPOINT_SHA256"]) == 64
        assert json.loads(tags["GEOFM_SCENE_IDS"]) == row["scene_ids"].split()
        assert json.loads(tags["GEOFM_DATES"])[0].startswith(row["date"])
    assert result.run_dates == ["2022-08-28", "2022-09-05"] and result.resumed_dates == []
    collection = json.loads((out / SERIES.item_name).read_text())
    assert collection["type"] == "Collection"
    items = [link["href"] for link in collection["links"] if link["rel"] == "item"]
    assert items == ["./2022-08-28.item.json", "./2022-09-05.item.json"]
    for href in items:
        item = json.loads((out / href).read_text())
        assert item["type"] == "Feature" and item["assets"]["data"]["href"] == "./" + href[2:12] + ".tif"
    gif = Image.open(out / SERIES.gif_name)
    assert gif.n_frames == 2 and gif.size[0] >= SERIES.frame_min_px
    chart = Image.open(out / SERIES.chart_name)
    assert chart.format == "PNG" and chart.size[0] > 600
    # the recurrence map: per pixel, dates it was water / dates it was clear, counted over the COGs
    maps = [_classes(out / f"{r['date']}.tif")[0] for r in kept]
    with rasterio.open(out / SERIES.change_name) as src:
        water_dates, clear_dates = src.read(1), src.read(2)
    assert np.array_equal(water_dates, sum((m == 1).astype(np.uint16) for m in maps))
    assert np.array_equal(clear_dates, sum((m != CLASS_NODATA).astype(np.uint16) for m in maps))
    assert water_dates.max() == 2 and (water_dates <= clear_dates).all()
    assert not list(out.glob(".geofm-write-*"))  # every write finished (atomic writes leave no temporaries)

    # --resume: nothing is run again; a damaged COG is the only date redone
    count_model.clear()
    before = {p.name: p.read_bytes() for p in out.glob("*.tif") if p.name != SERIES.change_name}
    again = _series(out, flood_weights, resume=True)
    assert count_model == [] and again.run_dates == [] and again.resumed_dates == ["2022-08-28", "2022-09-05"]
    assert {p.name: p.read_bytes() for p in out.glob("*.tif") if p.name != SERIES.change_name} == before
    assert _csv(out) == rows
    with open(out / "2022-09-05.tif", "ab") as fh:
        fh.write(b"\0")
    third = _series(out, flood_weights, resume=True)
    assert count_model == [1] and third.run_dates == ["2022-09-05"]
    assert (out / "2022-09-05.tif").read_bytes() == before["2022-09-05.tif"]  # same inputs, same map


def _cli(capsys, *argv: str) -> tuple[int, str, str]:  # noqa: ANN001
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("geofm: error: ") and "Traceback" not in err
    return lines[-1]


@pytest.mark.parametrize("argv, message", [
    (["crops", "--bbox", *map(str, BOX), "--start", START, "--end", END], "takes 3 dates"),
    (["reconstruct", "--bbox", *map(str, BOX), "--start", START, "--end", END], "reconstruction"),
    (["flood", "--bbox", *map(str, BOX), "--start", "2022-08-28", "--end", "2022-08-28"], "needs a range"),
    (["flood", "--bbox", *map(str, BOX), "--start", "2022-01-01", "--end", "2023-03-01"],
     "at most 366 days"),
    (["flood", "--bbox", "66.0", "25.0", "67.5", "26.5", "--start", START, "--end", END], "geofm region"),
    (["flood", "--bbox", *map(str, BOX), "--start", START, "--end", END, "--min-clear", "120"], "--min-clear"),
    (["flood", "--bbox", *map(str, BOX), "--start", START, "--end", END, "--model", "prithvi-eo-1.0-100m"],
     "flood runs one of"),
])
def test_bad_series_input_is_one_line_exit_2(capsys, tmp_path, argv, message):
    code, _, err = _cli(capsys, "series", *argv, "--out", str(tmp_path / "s"))
    assert message in _one_error_line(code, err)
    assert not (tmp_path / "s" / SERIES.manifest_name).exists()


def test_crops_says_why_not_yet(capsys, tmp_path):
    code, _, err = _cli(capsys, "series", "crops", "--bbox", *map(str, BOX), "--start", START, "--end", END,
                        "--out", str(tmp_path / "s"))
    line = _one_error_line(code, err)
    assert "not in series yet" in line and "season" in line


@pytest.mark.parametrize("start, end, min_clear, message", [
    ("2022-08-20", "2022-08-26", "50", "None of the 1 dates"),  # only the cloudy Aug 25
    ("2022-08-26", "2022-08-30", "50", "Only one date"),  # only Aug 28
])
def test_ranges_without_two_clear_dates_are_refused_before_the_model(standin, capsys, tmp_path, count_model,
                                                                     start, end, min_clear, message):
    code, _, err = _cli(capsys, "series", "flood", "--bbox", *map(str, BOX), "--start", start, "--end", end,
                        "--min-clear", min_clear, "--out", str(tmp_path / "s"))
    assert message in _one_error_line(code, err)
    assert count_model == []


def test_timelapse_frame_cap(standin, capsys, tmp_path, count_model, monkeypatch):
    from geofm.series import dates

    monkeypatch.setattr(dates, "SERIES", dataclasses.replace(SERIES, max_frames=1))
    code, _, err = _cli(capsys, "series", "flood", "--bbox", *map(str, BOX), "--start", START, "--end", END,
                        "--out", str(tmp_path / "s"))
    line = _one_error_line(code, err)
    assert "2 clear dates would make 2 timelapse frames" in line and "at most 1" in line
    assert count_model == []


def test_a_folder_holding_another_series_is_refused(standin, capsys, tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / SERIES.manifest_name).write_text(json.dumps({"version": 1, "dates": [], "params": {
        "task": "burn-scars", "start": "2022-09-01", "end": "2022-10-31"}}))
    code, _, err = _cli(capsys, "series", "flood", "--bbox", *map(str, BOX), "--start", START, "--end", END,
                        "--out", str(out))
    line = _one_error_line(code, err)
    assert "already holds a series (burn-scars, 2022-09-01 to 2022-10-31)" in line and "--resume" in line
    code, _, err = _cli(capsys, "series", "flood", "--bbox", *map(str, BOX), "--start", START, "--end", END,
                        "--out", str(out), "--resume")
    assert "holds another series" in _one_error_line(code, err)


def test_a_manifest_naming_a_file_outside_the_folder_is_not_trusted(tmp_path):
    from geofm.series.manifest import SeriesManifest
    from geofm.region.job import sha256_of

    outside = tmp_path / "2022-08-28.tif"
    outside.write_bytes(b"x")
    folder = tmp_path / "s"
    folder.mkdir()
    m = SeriesManifest(folder / SERIES.manifest_name, {})
    m.dates["2022-08-28"] = {"date": "2022-08-28", "file": "../2022-08-28.tif", "sha256": sha256_of(outside),
                             "status": "done"}
    assert not m.is_complete("2022-08-28")
    (folder / "2022-08-28.tif").write_bytes(b"x")
    m.dates["2022-08-28"]["file"] = "2022-08-28.tif"
    assert m.is_complete("2022-08-28")


@pytest.mark.parametrize("key, kept, cloudy", [
    ("sindh-flood", ["2022-08-28", "2022-09-05", "2022-09-13", "2022-09-29", "2022-10-07", "2022-10-15",
                     "2022-10-24"], ["2022-08-25", "2022-09-19"]),
    ("hermits-peak-burn-scars", ["2022-09-23", "2022-10-04", "2022-10-13", "2022-10-28", "2022-11-13",
                                 "2022-11-22"], ["2022-09-18"]),
])
def test_the_series_examples_find_their_dates_offline(standin, key, kept, cloudy):
    """The examples' series ranges (Sindh's rise and fall, Hermits Peak's autumn) on the stand-in: every date over
    the area, the cloudy ones left out with the reason (the series' default takes every scene)."""
    from geofm.examples import get_example
    from geofm.series import find_dates

    example = get_example(key)
    found = find_dates(AOI.from_bbox(*example.bounds), example.series_start, example.series_end,
                       max_cloud=SERIES.max_cloud)
    assert [d.day.isoformat() for d in found if d.kept] == kept
    assert [d.day.isoformat() for d in found if not d.kept] == cloudy
    assert all(d.reason.startswith("cloudy: ") for d in found if not d.kept)


def test_geojson_area_too_large_points_to_region_and_a_missing_file_is_named(capsys, tmp_path):
    big = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": {
        "type": "Polygon", "coordinates": [[[66.0, 25.0], [67.5, 25.0], [67.5, 26.5], [66.0, 26.5], [66.0, 25.0]]]}}]}
    area = tmp_path / "big.geojson"
    area.write_text(json.dumps(big))
    code, _, err = _cli(capsys, "series", "flood", "--geojson", str(area), "--start", START, "--end", END,
                        "--out", str(tmp_path / "s"))
    line = _one_error_line(code, err)
    assert "a series runs on one machine up to" in line and "`geofm region`" in line
    code, _, err = _cli(capsys, "series", "flood", "--geojson", str(tmp_path / "none.geojson"), "--start", START,
                        "--end", END, "--out", str(tmp_path / "s"))
    assert "does not exist" in _one_error_line(code, err)
