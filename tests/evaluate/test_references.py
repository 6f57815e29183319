"""Reference layers read through the stand-in's STAC API like HLS: only the area's pixels, on the result's
30 m grid (ESA WorldCover's 10 m reduced by the mode), the nearest year, no data kept out; and agreement on
the stand-in's examples (Sindh flood 2022, Nebraska crops 2022)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Transformer

from geofm.config import CLASS_NODATA, CROP_CLASSES, TASKS
from geofm.data import AOI, load_task_stack
from geofm.data.grid import Grid
from geofm.evaluate import evaluate, evaluate_flood, read_reference
from geofm.evaluate.reference import crop_classes
from geofm.stack import SegmentationResult
from tests.standin.layout import JRC_NODATA_EAST, LAKE_ELLIPSE, MANCHAR, OMAHA, WATER_LON
from tests.standin.references import cdl_cropland

SINDH = AOI.from_bbox(67.60, 26.295, 67.85, 26.50)
FREMONT = AOI.from_bbox(-96.55, 41.35, -96.40, 41.50)
NEBRASKA_WATER = AOI.from_bbox(-95.99, 41.21, -95.81, 41.39)
LAKE_KM2 = math.pi * LAKE_ELLIPSE[1] * LAKE_ELLIPSE[2]


def _rc(grid: Grid, lon: float, lat: float) -> tuple[int, int]:
    x, y = Transformer.from_crs(4326, grid.crs, always_xy=True).transform(lon, lat)
    col, row = ~grid.transform @ (x, y)
    return int(row), int(col)


def test_jrc_seasonality_on_the_flood_grid(standin):
    grid = Grid.for_aoi(SINDH)
    ref = read_reference("jrc-gsw", SINDH, grid, year=2022, stac_url=standin.url)
    assert ref.values.shape == grid.shape and ref.year == 2020 and ref.item_ids == ["60E_30N"]
    assert ref.values[_rc(grid, *MANCHAR)] == 12  # normal water: all 12 months
    assert ref.values[_rc(grid, 67.64, 26.45)] == 4  # the 2022 flood belt: seasonal
    assert ref.values[_rc(grid, JRC_NODATA_EAST + 0.005, 26.40)] == 255  # no data strip
    assert ref.values[_rc(grid, 67.80, 26.32)] == 0  # dry land
    water_km2 = np.count_nonzero(ref.values == 12) * 0.0009
    assert water_km2 == pytest.approx(LAKE_KM2, rel=0.03)
    # only the area's pixels were fetched: a few range requests, not whole files
    names = {name for name, _, _ in standin.stats.ranges}
    assert names == {"seasonality_60E_30Nv1_4_2021.tif"}


def test_worldcover_10m_read_as_the_mode_on_the_30m_grid(standin):
    grid = Grid.for_aoi(SINDH)
    ref = read_reference("esa-worldcover", SINDH, grid, year=2022, stac_url=standin.url)
    assert ref.year == 2021 and ref.item_ids == ["ESA_WorldCover_10m_2021_v200_N24E066"]  # nearest year held
    assert set(np.unique(ref.values)) == {0, 40, 80}
    assert ref.values[_rc(grid, *MANCHAR)] == 80
    assert ref.values[_rc(grid, 67.70, 26.297)] == 0  # the no-data strip south of 26.30
    assert np.count_nonzero(ref.values == 80) * 0.0009 == pytest.approx(LAKE_KM2, rel=0.03)
    neb = Grid.for_aoi(NEBRASKA_WATER)
    wc = read_reference("esa-worldcover", NEBRASKA_WATER, neb, year=2022, stac_url=standin.url)
    assert wc.values[_rc(neb, (WATER_LON[0] + WATER_LON[1]) / 2, 41.35)] == 80
    assert wc.values[_rc(neb, OMAHA[0] - 0.03, OMAHA[1])] == 50  # built-up Omaha


def test_cdl_cropland_items_on_the_crop_grid(standin):
    grid = Grid.for_aoi(FREMONT)
    ref = read_reference("usda-cdl", FREMONT, grid, year=2022, stac_url=standin.url)
    assert ref.year == 2021  # the service's last year; the imagery is from 2022
    assert len(ref.item_ids) == 1 and ref.item_ids[0].startswith("cropland_2021_")  # not the cultivated item
    cdl, t = cdl_cropland()
    rows, cols = np.mgrid[0:grid.height, 0:grid.width]
    xs, ys = grid.transform * (cols + 0.5, rows + 0.5)
    ax, ay = Transformer.from_crs(grid.crs, 5070, always_xy=True).transform(xs, ys)
    c, r = ~t * (ax, ay)
    want = cdl[r.astype(int), c.astype(int)]
    assert np.mean(ref.values == want) > 0.995
    classes = crop_classes(ref, 13)
    names = [c.name for c in CROP_CLASSES]
    assert {names[k] for k in np.unique(classes) if k != CLASS_NODATA} >= {"Corn", "Soybeans", "Natural Vegetation",
                                                                         "Winter Wheat", "Alfalfa"}


def _result(classes: np.ndarray, grid: Grid, task: str) -> SegmentationResult:
    from geofm.config import MODELS

    spec = MODELS[TASKS[task].model]
    return SegmentationResult(classes=classes.astype(np.uint8), crs=grid.crs, transform=grid.transform,
                              model=spec.name, class_names=tuple(c.name for c in spec.classes),
                              class_colors=tuple(c.color for c in spec.classes))


def test_flood_agreement_on_the_sindh_example(standin):
    """A model that calls every dark-NIR pixel water (the stand-in's 2022 flood) against JRC normal water (the
    lake): all the lake is found (recall 1), the rest of the flood is newly flooded water."""
    stack, _ = load_task_stack("flood", SINDH, "2022-08-25", "2022-09-12", stac_url=standin.url)
    water = stack.data[0, 3] < 1000
    classes = np.where(stack.valid[0], water, CLASS_NODATA)
    seg = _result(classes, Grid(stack.crs, stack.transform, stack.shape[1], stack.shape[0]), "flood")
    ev = evaluate("flood", seg, stack=stack, stac_url=standin.url)
    m = ev.metrics
    assert ev.reference.startswith("JRC Global Surface Water")
    assert m["recall"] > 0.97
    assert m["precision"] == pytest.approx(m["reference_km2"] / m["model_km2"], rel=0.03)
    assert m["new_water_km2"] == pytest.approx(m["model_km2"] - m["both_km2"])
    assert m["reference_km2"] == pytest.approx(LAKE_KM2, rel=0.05)
    assert any("top-of-atmosphere" in n for n in ev.notes)
    # the same with ESA WorldCover as the reference layer
    wc = evaluate_flood(seg, read_reference("esa-worldcover", SINDH, Grid(stack.crs, stack.transform,
                                                                          stack.shape[1], stack.shape[0]),
                                            stac_url=standin.url))
    assert wc.metrics["recall"] > 0.97 and wc.metrics["iou"] == pytest.approx(m["iou"], abs=0.03)


def test_crop_agreement_against_cdl(standin):
    """A model equal to the CDL classes except that it calls every corn field soybeans: overall accuracy is the
    share of everything but corn, corn's recall is 0 and soybeans' precision the soybean share of both."""
    grid = Grid.for_aoi(FREMONT)
    ref = read_reference("usda-cdl", FREMONT, grid, stac_url=standin.url)
    truth = crop_classes(ref, 13)
    model = np.where(truth == 2, 3, truth)  # corn -> soybeans
    model = np.where(truth == CLASS_NODATA, 0, model)
    ev = evaluate("crops", _result(model, grid, "crops"), reference="auto", stac_url=standin.url, year=2022)
    valid = truth != CLASS_NODATA
    corn, soy = np.count_nonzero(truth == 2), np.count_nonzero(truth == 3)
    assert ev.metrics["overall_accuracy"] == pytest.approx(1 - corn / valid.sum())
    rows = {r["class"]: r for r in ev.table}
    assert rows["Corn"]["recall"] == 0 and rows["Soybeans"]["precision"] == pytest.approx(soy / (soy + corn))
    assert ev.confusion is not None and ev.confusion[2, 3] == corn
    assert any("2021" in n for n in ev.notes)  # the reference year is said
    assert np.count_nonzero(ev.layers[0].data == 1) == corn
