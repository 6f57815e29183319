"""The link to share is a stranger's input (issue 18): every parameter is checked in one place before any widget
sees it. Numbers out of range are brought into range, the rest is dropped, the page says so in its one notice
("Part of this link could not be read") and never shows an exception."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geofm.config import CONTROLS
from geofm.data.aoi import parse_geojson
from geofm.errors import AOIError
from geofm.serve.share import parse_link

APP = str(Path(__file__).resolve().parents[2] / "app.py")
NOTICE = "Part of this link could not be read"
BOX = [[[-95.93, 41.29], [-95.90, 41.29], [-95.90, 41.31], [-95.93, 41.31], [-95.93, 41.29]]]
POLYGON = {"type": "Polygon", "coordinates": BOX}
DEEP = "[" * 3000 + "]" * 3000  # about 6 KB: a RecursionError in the page before


@pytest.fixture
def offline_app(monkeypatch):
    monkeypatch.setenv("GEOFM_STAC_URL", "http://127.0.0.1:9/")  # nothing listens: nothing is searched here
    monkeypatch.setenv("GEOFM_GEOCODER_URL", "http://127.0.0.1:9/search")
    monkeypatch.setenv("GEOFM_PRELOAD", "none")


def _open(page: str | None = None, **params: str) -> AppTest:
    """A new session opening the link (on ``page``, else the Explore page)."""
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    if page is not None:
        at.switch_page(page)
    at.run()
    return at


def _notice(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning if NOTICE in w.value)


# ------------------------------------------------------------------ the page, one hostile parameter at a time

HOSTILE = {
    "mask_ratio 5": (dict(task="reconstruct", mask_ratio="5"), "mask ratio 5 is outside 0.05–0.95; 0.95 is used"),
    "mask_ratio -1": (dict(task="reconstruct", mask_ratio="-1"), "mask ratio -1 is outside 0.05–0.95; 0.05 is used"),
    "mask_ratio nan": (dict(task="reconstruct", mask_ratio="nan"), "the mask ratio is not a number"),
    "seed -4": (dict(task="reconstruct", seed="-4"), "seed -4 is outside 0–2147483647; 0 is used"),
    "cloud nan": (dict(cloud="nan"), "the cloud cover is not a number"),
    "cloud 250": (dict(cloud="250"), "cloud cover 250 is outside 0–100; 100 is used"),
    "start 1900": (dict(start="1900-01-01", end="2022-04-30"), "the start date 1900-01-01 is outside"),
    "start after end": (dict(start="2022-05-01", end="2022-04-01"), "is after the end date"),
    "geojson list": (dict(geojson="[1, 2, 3]"), "The area must be one GeoJSON Polygon or MultiPolygon."),
    "geojson deep": (dict(geojson=DEEP), "nested more than 16 levels deep"),
    "geojson too many points": (dict(geojson=json.dumps({"type": "Polygon", "coordinates": [[[0, 0]] * 12_000]})),
                                "The area has 12,000 points; at most 10,000 are read."),
    "bbox nan": (dict(bbox="nan,41.29,-95.90,41.31"), "The box must be four numbers"),
    "task": (dict(task="<script>"), "there is no task '<script>'"),
    "model": (dict(task="reconstruct", model="../../etc/passwd"), "there is no model"),
    "scenes": (dict(scenes="HLS.L30.T15TUF.2022075T170000.v2.0,../../x,<b>"), "2 scene id(s) are not scene ids"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_a_hostile_link_parameter_gives_the_notice_never_an_exception(case, offline_app):
    params, said = HOSTILE[case]
    page = "app_pages/1_Reconstruction.py" if params.get("task") == "reconstruct" else None
    at = _open(page, **params)
    assert not at.exception, at.exception
    notice = _notice(at)
    assert NOTICE in notice and said in notice, [w.value for w in at.warning]
    if page is not None and case.startswith(("mask_ratio", "seed")):
        ratio, seed = at.slider(key="reconstruct-ratio").value, at.number_input(key="reconstruct-seed").value
        assert CONTROLS.mask_ratio[0] <= ratio <= CONTROLS.mask_ratio[1] and 0 <= seed <= CONTROLS.seed_max
        assert (ratio, seed) == {"mask_ratio 5": (0.95, 0), "mask_ratio -1": (0.05, 0), "mask_ratio nan": (0.75, 0),
                                 "seed -4": (0.75, 0)}[case]


def test_a_feature_with_properties_restores_its_polygon_only(offline_app):
    feature = {"type": "Feature", "properties": {"name": "<img src=x onerror=alert(1)>", "nested": [[{"a": 1}]]},
               "geometry": POLYGON}
    at = _open(None, geojson=json.dumps(feature), start="2022-03-10", end="2022-04-30", cloud="40")
    assert not at.exception, at.exception
    assert not _notice(at)
    query = at.session_state["geofm_query"]
    assert query["geometry"] == POLYGON  # the geometry alone: no properties reach the page
    assert (query["start"], query["end"], query["max_cloud"]) == (date(2022, 3, 10), date(2022, 4, 30), 40.0)


def test_the_good_parts_of_a_damaged_link_are_kept(offline_app):
    at = _open(None, bbox="-95.93,41.29,-95.90,41.31", start="2022-03-10", end="2022-04-30", cloud="nan",
               task="crops")
    assert not at.exception, at.exception
    query = at.session_state["geofm_query"]
    assert query["geometry"]["coordinates"] == BOX and query["task"] == "crops"
    assert (query["start"], query["end"]) == (date(2022, 3, 10), date(2022, 4, 30))
    assert query["max_cloud"] == 30.0  # the default: the link's value was no number
    assert "the cloud cover is not a number" in _notice(at)


# ------------------------------------------------------------------ the one place that checks them

def test_parse_link_checks_every_parameter():
    good = parse_link(dict(bbox="-95.93,41.29,-95.90,41.31", start="2022-03-10", end="2022-04-30", cloud="40",
                           task="reconstruct", scenes="A.1,B.2", mask_ratio="0.5", seed="7",
                           model="prithvi-eo-1.0-100m"))
    assert good.problems == ()
    assert (good.geometry, good.start, good.end, good.max_cloud, good.task, good.scene_ids, good.mask_ratio,
            good.seed, good.model) == ({"type": "Polygon", "coordinates": BOX}, date(2022, 3, 10),
                                       date(2022, 4, 30), 40.0, "reconstruct", ("A.1", "B.2"), 0.5, 7,
                                       "prithvi-eo-1.0-100m")
    assert parse_link(dict(mask_ratio="0.33")).mask_ratio == 0.35  # on the slider's steps
    assert parse_link(dict(seed="9" * 5000)).seed is None  # not read at all (int() of it raises)
    assert parse_link(dict(cloud="inf")).max_cloud is None
    many = parse_link(dict(scenes=",".join(f"S.{i}" for i in range(80))))
    assert len(many.scene_ids) == CONTROLS.link_scenes and "the first 50 are used" in many.problems[0]
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": POLYGON}]}
    assert parse_link(dict(geojson=json.dumps(fc))).geometry == POLYGON
    two = dict(fc, features=fc["features"] * 2)
    assert "holds 2 features" in parse_link(dict(geojson=json.dumps(two))).problems[0]
    future = parse_link(dict(end=str(date.today().replace(year=date.today().year + 1))))
    assert future.end is None and "is outside" in future.problems[0]


def test_parse_geojson_limits_bytes_depth_and_points_before_parsing():
    with pytest.raises(AOIError, match=r"nested more than 16 levels deep"):
        parse_geojson("[" * 100_000 + "]" * 100_000, max_bytes=10**6)
    with pytest.raises(AOIError, match=r"is 293 KB; at most 256 KB is read"):
        parse_geojson(" " * 300_000)
    with pytest.raises(AOIError, match=r"has 20,000 points; at most 10,000"):
        parse_geojson(json.dumps({"type": "MultiPoint", "coordinates": [[1.0, 2.0]] * 20_000}))
    assert parse_geojson('{"name": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "type": "Polygon"}')["type"] == "Polygon"
    assert math.isnan(parse_geojson('[NaN, 1]')[0])  # parsed; AOI.from_geojson refuses non-finite coordinates
