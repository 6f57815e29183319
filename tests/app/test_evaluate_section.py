"""The "Did the model get it right?" section of the task pages (AppTest, stand-in STAC with the reference
collections, published-layout test checkpoints): flood against JRC GSW, crops against USDA CDL with the
confusion-matrix chart, reconstruction against its hidden pixels and the neighbour-fill baseline."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from geofm.config import CLASS_NODATA
from geofm.serve.evaluate_view import HEADING, _SLOT, evaluation_layers
from tests.app.support import FREMONT_SMALL, OMAHA_SMALL, OUTCOMES, go, metric, start, texts

pytestmark = pytest.mark.slow


def _evaluated(at, page: str):
    assert HEADING in [s.value for s in at.subheader]
    at.button(key=f"{page}-evaluate").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES][page]
    return outcome, vars(outcome.rendered)[_SLOT][0]


def test_flood_section_agreement_with_jrc_normal_water(env):
    at = go(start(OMAHA_SMALL), "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    assert not at.error
    outcome, ev = _evaluated(at, "flood")
    # the numbers, by hand from the model's classes and the JRC seasonality read on the same grid
    ref = ev.reference_read
    assert ref.layer == "jrc-gsw" and ref.values.shape == outcome.result.classes.shape
    valid = (outcome.result.classes != CLASS_NODATA) & (ref.values != 255)
    model, normal = (outcome.result.classes == 1) & valid, (ref.values == 12) & valid
    assert normal.sum() > 0  # the river strip at Omaha
    iou = (model & normal).sum() / max((model | normal).sum(), 1)
    assert metric(at, "IoU") == f"{iou:.2f}"
    assert metric(at, "Reference water") == f"{normal.sum() * 0.0009:.2f} km²"
    assert metric(at, "Newly flooded water") == f"{(model & ~normal).sum() * 0.0009:.2f} km²"
    assert "JRC Global Surface Water (seasonality) 2020" in texts(at) and "12 months" in texts(at)
    assert any("top-of-atmosphere" in w.value for w in at.warning)
    names = [layer.name for layer in evaluation_layers(outcome, ev)]
    assert names[1:] == ["Model: Water", "Agreement with reference", "Newly flooded water",
                         "Reference: JRC Global Surface Water (seasonality)"]
    assert "Agreement layers (GeoTIFF + STAC items, zip)" in [b.label for b in at.get("download_button")]
    # a rerun (the opacity is on the map now; any rerun) reads nothing again
    before = env.stats.file_requests + env.stats.stac_requests
    at.run()
    assert metric(at, "IoU") == f"{iou:.2f}"
    assert env.stats.file_requests + env.stats.stac_requests == before


def test_crops_section_confusion_matrix_against_cdl(env):
    at = go(start(FREMONT_SMALL, dates=(date(2022, 5, 1), date(2022, 9, 30))), "app_pages/3_Crops.py")
    at.button(key="crops-run").click().run()
    assert len(at.get("vega_lite_chart")) == 1
    outcome, ev = _evaluated(at, "crops")
    assert ev.reference_read.layer == "usda-cdl" and ev.reference_read.year == 2021
    assert any("2021" in w.value and "2022" in w.value for w in at.warning)  # nearest CDL year, said
    # the class chart and the confusion matrix, twice: full names (wider screens), short codes (a phone's width)
    assert len(at.get("vega_lite_chart")) == 3
    assert metric(at, "Overall accuracy") == f"{100 * ev.metrics['overall_accuracy']:.1f} %"
    assert ev.confusion is not None and ev.confusion.sum() == ev.metrics["compared_pixels"] > 0
    table = at.dataframe[-1].value
    assert len(table) == 13 and list(table.columns[:2]) == ["Class", "F1"]  # readable headers, with units
    assert "None" not in table.to_string()
    assert table["Reference area (km²)"].astype(float).sum() == pytest.approx(ev.confusion.sum() * 0.0009, abs=0.07)
    names = [layer.name for layer in evaluation_layers(outcome, ev)]
    assert names[-2:] == ["Disagreement with reference", "Reference: USDA Cropland Data Layer"]


def test_reconstruction_section_model_vs_neighbour_fill(env):
    at = go(start(OMAHA_SMALL), "app_pages/1_Reconstruction.py")
    at.button(key="reconstruct-run").click().run()
    outcome, ev = _evaluated(at, "reconstruct")
    assert metric(at, "PSNR, model") == f"{ev.metrics['psnr_db']:.1f} dB"
    assert metric(at, "PSNR, neighbour fill") == f"{ev.metrics['baseline_psnr_db']:.1f} dB"
    heat = ev.layers[0].data
    assert np.isfinite(heat[outcome.result.mask[0]]).any() and np.isnan(heat[~outcome.result.mask.any(0)]).all()
    names = [layer.name for layer in evaluation_layers(outcome, ev)]
    assert names[-2:] == ["Error per hidden patch (model)", "Error per hidden patch (neighbour fill)"]
    table = at.dataframe[-1].value
    assert len(table) == 6 and list(table.columns[:2]) == ["Band", "RMSE, model"]  # readable headers
    assert not any("_" in c for c in table.columns)


def test_flood_before_after_a_dry_date(env):
    """The event on 2022-07-08 (clear Sentinel-2); the dry date is the clearest scene 90 to 10 days before it;
    water gained / lost are counted on the same grid."""
    at = go(start(OMAHA_SMALL, dates=(date(2022, 7, 1), date(2022, 7, 31))), "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    outcome = at.session_state[OUTCOMES]["flood"]
    assert outcome.stack.times[0].date() == date(2022, 7, 8)
    at.button(key="flood-evaluate").click().run()
    at.button(key="flood-dry").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    ev, dry = vars(outcome.rendered)["geofm_dry_date"][(date(2022, 4, 9), date(2022, 6, 28))]
    when = dry.stack.times[0].date()
    assert date(2022, 4, 9) <= when <= date(2022, 6, 28) and dry.stack.shape == outcome.stack.shape
    before, after = dry.result.classes, outcome.result.classes
    valid = (before != CLASS_NODATA) & (after != CLASS_NODATA)
    gained = ((after == 1) & (before == 0) & valid).sum() * 0.0009
    lost = ((after == 0) & (before == 1) & valid).sum() * 0.0009
    assert metric(at, "Water gained since the dry date") == f"{gained:.2f} km²"
    assert metric(at, "Water lost since the dry date") == f"{lost:.2f} km²"
    assert f"dry date {when}" in texts(at)
    assert np.count_nonzero(ev.layers[0].data == 1) * 0.0009 == pytest.approx(gained)


def test_flood_dry_window_is_the_users_choice(env):
    """The user picks the dry window (the dates they know were dry): the dry date comes from those dates, and
    the default window is the one offered before."""
    at = go(start(OMAHA_SMALL, dates=(date(2022, 7, 1), date(2022, 7, 31))), "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    outcome = at.session_state[OUTCOMES]["flood"]
    at.button(key="flood-evaluate").click().run()
    window = at.date_input(key="flood-dry-window")
    assert tuple(window.value) == (date(2022, 4, 9), date(2022, 6, 28))  # 90 to 10 days before 2022-07-08
    window.set_value((date(2022, 3, 15), date(2022, 3, 31))).run()
    at.button(key="flood-dry").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    kept = vars(outcome.rendered)["geofm_dry_date"]
    assert list(kept) == [(date(2022, 3, 15), date(2022, 3, 31))]
    ev, dry = kept[(date(2022, 3, 15), date(2022, 3, 31))]
    when = dry.stack.times[0].date()
    assert when == date(2022, 3, 22)  # the stand-in's clear Sentinel-2 date, outside the default window
    assert f"dry date {when} (the clearest scene from 2022-03-15 to 2022-03-31)" in texts(at)
    # a window with no usable scene says so and loses nothing: the event's result stays on the page
    at.date_input(key="flood-dry-window").set_value((date(2021, 1, 1), date(2021, 1, 2))).run()
    at.button(key="flood-dry").click().run()
    assert not at.exception
    assert at.warning and metric(at, "Water area")
