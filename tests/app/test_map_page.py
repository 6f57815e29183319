"""Issue 10 through AppTest: what misled users (points 1-10), the link to share, confidence, the timeline.

Same stand-in and test checkpoints as tests/app/test_pages.py (its fixtures and helpers are reused).
"""

from __future__ import annotations

import json
import logging
from datetime import date

import numpy as np
import pytest
import shapely
from shapely.geometry import shape
from streamlit.testing.v1 import AppTest

from geofm.config import CLASS_NODATA
from geofm.examples import get_example
from tests.app.support import APP, OMAHA_SMALL, OUTCOMES, STANDIN_DATES, TIMEOUT, _geotiff, go, metric, start, texts

pytestmark = pytest.mark.slow

CLOUD = "Cloud or no data"
#: Across the two stand-in Nebraska tiles (14TQL covers all of it, 15TTG about a fifth).
TWO_TILES = {"type": "Polygon", "coordinates": [[[-96.17, 41.30], [-96.09, 41.30], [-96.09, 41.32],
                                                 [-96.17, 41.32], [-96.17, 41.30]]]}
LANDSAT_OMAHA = "HLS.L30.T15TTG.2022097T171500.v2.0"  # 2022-04-07, a cloud over Omaha
OMAHA_BBOX = "-95.93,41.29,-95.9,41.31"
#: North of Omaha: on 2022-04-07 (Landsat) the stand-in's cloud over Omaha covers about half of it.
OMAHA_NORTH = {"type": "Polygon", "coordinates": [[[-95.94, 41.30], [-95.91, 41.30], [-95.91, 41.33],
                                                   [-95.94, 41.33], [-95.94, 41.30]]]}


def map_scripts(at: AppTest) -> list[str]:
    """The Leaflet script of every map on the page (streamlit-folium's component arguments)."""
    return [json.loads(c.proto.json_args).get("script", "") for c in at.get("component_instance")]


def select_scenes(at: AppTest, ids: tuple[str, ...], task: str | None = None) -> None:
    query = at.session_state["geofm_query"]
    query["scene_ids"] = ids
    if task:
        query["task"] = task
    at.session_state["geofm_query"] = query


# ------------------------------------------------------------------------------ 1. selected scenes, any route

def test_1_selected_scenes_are_used_whatever_the_route(env):
    """Scenes selected on Explore reach Reconstruction opened from the menu (not from Explore's task button)."""
    at = start(OMAHA_SMALL)
    select_scenes(at, (LANDSAT_OMAHA,), task="flood")  # the explore page's task was another one
    go(at, "app_pages/1_Reconstruction.py")
    assert f"Uses the 1 scene(s) you selected: `{LANDSAT_OMAHA}`" in texts(at)
    at.button(key="reconstruct-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES]["reconstruct"]
    assert [s.id for s in outcome.scenes] == [LANDSAT_OMAHA]
    assert outcome.stack.times[0].date() == date(2022, 4, 7)


# ------------------------------------------------------------------------------ 2. clouds and no data shown

def test_2_clouds_are_a_layer_a_legend_entry_and_a_share_on_every_task(env):
    at = start(OMAHA_NORTH)
    select_scenes(at, (LANDSAT_OMAHA,))
    go(at, "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES]["flood"]
    unclear = outcome.result.classes == CLASS_NODATA
    # only inside the drawn outline (pixel centres inside the polygon, projected on the UTM grid), as "Clear area"
    from rasterio.features import geometry_mask
    from rasterio.warp import transform_geom

    inside = geometry_mask([transform_geom("EPSG:4326", outcome.result.crs, OMAHA_NORTH)], invert=True,
                           out_shape=unclear.shape, transform=outcome.result.transform)
    assert 0.5 < inside.mean() < 1.0  # the outline, a lon/lat box, is a tilted quadrilateral on the UTM grid
    share = 100 * unclear[inside].mean()
    assert 5 < share < 95  # the stand-in's cloud covers part of the area
    assert metric(at, CLOUD) == f"{share:.1f} %"  # UTM grid: equal pixel areas
    assert "Cloud, shadow or no data" in texts(at)  # the legend under the map
    script = map_scripts(at)[0]
    assert "Cloud, shadow or no data" in script  # a layer and an on-map legend entry
    assert outcome.views.cloud_overlay.rgba[..., 3].max() > 0  # hatched grey where there is no class

    # the other tasks show the share too
    go(at, "app_pages/1_Reconstruction.py")
    at.button(key="reconstruct-run").click().run()
    recon = at.session_state[OUTCOMES]["reconstruct"]
    assert recon.stack.valid[0].shape == inside.shape  # the same grid
    assert metric(at, CLOUD) == f"{100 * (~recon.stack.valid[0])[inside].mean():.1f} %"
    assert "Cloud, shadow or no data" in map_scripts(at)[0]


# ------------------------------------------------------------------------------ 3. opacity keeps the view

def test_3_opacity_is_on_the_map_not_a_server_slider(env, model_calls):
    at = go(start(OMAHA_SMALL), "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    assert not at.exception and not at.error
    assert not [s for s in at.slider if "opacity" in (s.key or "")]  # no rerun (and lost view) per move
    script = map_scripts(at)[0]
    assert "geofm-opacity" in script and 'type="range"' in script and "setOpacity" in script


# ------------------------------------------------------------------------------ 4. upload result marked stale

def test_4_upload_says_when_its_result_is_stale(env):
    rng = np.random.default_rng(1)
    at = go(start(), "app_pages/4_Your_file.py")
    at.radio(key="up-task").set_value("flood").run()
    at.file_uploader(key="up-file").set_value(
        ("scene.tif", _geotiff(rng.integers(200, 3000, (6, 60, 70)).astype(np.int16)), "image/tiff")).run()
    at.button(key="up-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not [i for i in at.info if "earlier run" in i.value]
    at.radio(key="up-task").set_value("burn-scars").run()
    assert any("earlier run" in i.value and "flood" in i.value for i in at.info)
    at.radio(key="up-task").set_value("flood").run()
    assert not [i for i in at.info if "earlier run" in i.value]
    at.file_uploader(key="up-file").set_value(
        ("other.tif", _geotiff(rng.integers(200, 3000, (6, 60, 70)).astype(np.int16)), "image/tiff")).run()
    assert any("earlier run" in i.value for i in at.info)


# ------------------------------------------------------------------------------ 5. the user's file names

def test_5_upload_errors_name_the_users_file(env):
    at = go(start(), "app_pages/4_Your_file.py")
    at.file_uploader(key="up-file").set_value(
        ("oneband.tif", _geotiff(np.ones((1, 60, 70), np.int16)), "image/tiff")).run()
    assert not at.exception
    message = at.error[0].value  # checked on upload, before any Run
    assert "\n- oneband.tif has 1 band(s)" in message, message
    assert at.button(key="up-run").disabled
    assert "00_" not in message and "geofm-uploads" not in message


# ------------------------------------------------------------------------------ 6. no operator details

def test_6_weights_missing_disables_run_and_says_it_once_without_operator_details(env, monkeypatch, tmp_path,
                                                                                  caplog):
    from geofm import pipeline

    pipeline.clear_model_cache()
    monkeypatch.setenv("GEOFM_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    caplog.set_level(logging.ERROR)
    at = go(start(OMAHA_SMALL), "app_pages/2_Flood.py")
    assert at.button(key="flood-run").disabled
    shown = [m.value for m in (*at.warning, *at.error)]
    assert len([m for m in shown if "not installed" in m]) == 1
    for detail in ("GEOFM_", "weights download", "python -m", "huggingface.co", ".pth", "--"):
        assert all(detail not in m for m in shown), (detail, shown)
    assert "sen1floods11_Prithvi_100M.pth" in caplog.text  # the operator gets it in the log
    pipeline.clear_model_cache()


def test_6_service_errors_keep_the_stac_url_in_the_log(env, monkeypatch, caplog):
    monkeypatch.setenv("GEOFM_STAC_URL", "http://127.0.0.1:9/api/stac/v1")
    caplog.set_level(logging.WARNING)
    at = start(OMAHA_SMALL)
    at.button(key="w_find").click().run()
    assert not at.exception and len(at.error) == 1
    assert "127.0.0.1" not in at.error[0].value and "http" not in at.error[0].value
    # plain words a student understands (issue 19, point 15); the address and the reason go to the log
    assert at.error[0].value == "The satellite image catalogue cannot be reached right now; try again in a minute."
    assert "127.0.0.1:9" in caplog.text and "connection refused" in caplog.text


# ------------------------------------------------------------------------------ 7. one row per date

def test_7_scenes_table_has_one_row_per_date_with_the_mosaic_clear_share(env):
    """An area across two MGRS tiles: one row per date, the clear share of the day's mosaic (not of a tile
    that barely touches the area), sensor, thumbnail and every id."""
    from geofm.data import AOI, Grid, search_hls
    from geofm.data import fmask as fm
    from geofm.data.reader import read_fmask

    at = start(TWO_TILES, cloud=100)
    at.button(key="w_find").click().run()
    assert not at.exception and not at.error
    shown = at.dataframe[0].value
    aoi = AOI.from_geojson(TWO_TILES)
    scenes = search_hls(aoi, *STANDIN_DATES, max_cloud=100, stac_url=env.url)
    days = sorted({(s.date, s.sensor) for s in scenes})
    assert len(scenes) == 2 * len(days) == 6  # every date has both tiles
    assert len(shown) == len(days) and not shown.duplicated(["date", "sensor"]).any()
    grid = Grid.for_aoi(aoi, 30.0)
    area = grid.area_mask(aoi)
    for (day, sensor), row in zip(days, shown.itertuples()):
        same_day = [s for s in scenes if (s.date, s.sensor) == (day, sensor)]
        clear = np.zeros(grid.shape, bool)
        for s in same_day:
            clear |= fm.clear(read_fmask(s, grid))
        assert row.date == day.isoformat()
        assert row.clear_percent == round(100 * (clear & area).sum() / area.sum(), 1)
        assert row.ids == ", ".join(sorted(s.id for s in same_day))
        assert row.sensor == {"L30": "Landsat 8/9", "S30": "Sentinel-2"}[sensor]
        assert row.thumbnail
    assert shown.set_index("date").loc["2022-03-22", "clear_percent"] == 100.0  # 15TTG alone: about 20 %
    assert len(at.get("vega_lite_chart")) == 1  # the timeline of dates and clear shares

    # selecting a row selects every scene of that date
    from geofm.serve.explore import _ids_of_dates

    assert set(_ids_of_dates(shown, ["2022-03-22"])) == {s.id for s in scenes if s.date == date(2022, 3, 22)}


# ------------------------------------------------------------------------------ 8. band names per sensor

@pytest.mark.parametrize("scene, nir_swir", [
    ("HLS.L30.T15TTG.2022097T171500.v2.0", ["B05 NIR narrow", "B06 SWIR 1", "B07 SWIR 2"]),
    (None, ["B8A NIR narrow", "B11 SWIR 1", "B12 SWIR 2"]),  # the clearest date: Sentinel-2, 2022-03-22
])
def test_8_reconstruction_error_table_names_bands_per_sensor(env, scene, nir_swir):
    at = start(OMAHA_SMALL)
    if scene:
        select_scenes(at, (scene,))
    go(at, "app_pages/1_Reconstruction.py")
    at.button(key="reconstruct-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES]["reconstruct"]
    assert outcome.scenes[0].sensor == ("L30" if scene else "S30")
    assert list(at.dataframe[0].value["band"]) == ["B02 Blue", "B03 Green", "B04 Red", *nir_swir]


# ------------------------------------------------------------------------------ 9. dissolved polygons

def test_9_geojson_is_one_multipolygon_per_class_with_its_area_and_none_for_reconstruction(env):
    at = go(start(OMAHA_SMALL), "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    assert not at.exception and not at.error
    outcome = at.session_state[OUTCOMES]["flood"]
    features = json.loads(outcome.views.geojson)["features"]
    water = outcome.result.classes == 1
    assert water.sum() > 0
    assert [f["properties"]["class_name"] for f in features] == ["Water / flood"]  # no-water is see-through
    feature = features[0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert feature["properties"]["area_m2"] == pytest.approx(water.sum() * 900.0, rel=1e-6)
    assert shape(feature["geometry"]).is_valid and shapely.get_num_geometries(shape(feature["geometry"])) >= 1
    assert "GeoJSON polygons" in [b.label for b in at.get("download_button")]

    go(at, "app_pages/1_Reconstruction.py")
    at.button(key="reconstruct-run").click().run()
    assert [b.label for b in at.get("download_button")] == ["GeoTIFF (COG)", "PNG image"]


# ------------------------------------------------------------------------------ 10. typed coordinates

def test_10_place_field_takes_a_box_or_lat_lon_offline(env):
    at = start()
    at.text_input(key="w_place").input("-95.93 41.29 -95.90 41.31")
    at.button[0].click().run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert at.session_state["geofm_query"]["geometry"] == OMAHA_SMALL
    assert "Your area:" in texts(at)
    at.text_input(key="w_place").input("41.3, -95.92")
    at.button[0].click().run()
    assert not at.warning
    assert "Showing 41.30000, -95.92000" in texts(at)
    assert at.session_state["geofm_place_view"] == [[pytest.approx(41.28), pytest.approx(-95.94)],
                                                    [pytest.approx(41.32), pytest.approx(-95.90)]]
    at.text_input(key="w_place").input("95, 200")
    at.button[0].click().run()
    assert "is not a latitude, longitude pair" in at.warning[0].value


# ------------------------------------------------------------------------------ the link to share

def _open_link(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page != "app_pages/0_Explore.py":
        at.switch_page(page)
        at.run()
    assert not at.exception, at.exception
    return at


def test_link_restores_area_dates_and_the_cached_result(env, model_calls):
    link = dict(bbox=OMAHA_BBOX, start="2022-03-10", end="2022-04-30", cloud="40", task="flood")
    at = _open_link("app_pages/2_Flood.py", **link)
    query = at.session_state["geofm_query"]
    assert query["geometry"]["coordinates"][0][0] == [-95.93, 41.29]
    assert (query["start"], query["end"], query["max_cloud"]) == (date(2022, 3, 10), date(2022, 4, 30), 40.0)
    assert "2022-03-10 to 2022-04-30" in texts(at) and "at most 40 % cloud" in texts(at)
    assert OUTCOMES not in at.session_state or "flood" not in at.session_state[OUTCOMES]
    at.button(key="flood-run").click().run()
    assert not at.exception and not at.error
    water = metric(at, "Water area")
    written = {k: at.query_params[k] for k in link}
    assert written["bbox"] == OMAHA_BBOX and written["start"] == "2022-03-10" and written["cloud"] == "40"
    assert any("Copy link" in getattr(p.proto, "label", "") or "Copy link" in str(p.proto)
               for p in at.get("popover"))
    assert any("?bbox=" in c.value and "task=flood" in c.value for c in at.code)

    # a reload (a new session with the same URL) shows the result from the cache, without running
    again = _open_link("app_pages/2_Flood.py", **link)
    assert metric(again, "Water area") == water
    assert model_calls["flood"] == 1


def test_link_restores_scenes_and_reconstruction_settings(env):
    at = _open_link("app_pages/1_Reconstruction.py", bbox=OMAHA_BBOX, start="2022-03-10", end="2022-04-30",
                    task="reconstruct", scenes=LANDSAT_OMAHA, mask_ratio="0.5", seed="7")
    assert at.slider(key="reconstruct-ratio").value == 0.5
    assert at.number_input(key="reconstruct-seed").value == 7
    assert f"`{LANDSAT_OMAHA}`" in texts(at)
    at.button(key="reconstruct-run").click().run()
    outcome = at.session_state[OUTCOMES]["reconstruct"]
    assert outcome.result.mask_ratio == 0.5 and outcome.result.seed == 7
    assert [s.id for s in outcome.scenes] == [LANDSAT_OMAHA]
    assert at.query_params["mask_ratio"] == "0.5" and at.query_params["seed"] == "7"


# ------------------------------------------------------------------------------ confidence

def test_confidence_layer_is_the_probability_of_water(env):
    at = go(start(OMAHA_SMALL), "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    assert not at.exception and not at.error
    outcome = at.session_state[OUTCOMES]["flood"]
    confidence = outcome.confidence.astype(np.float32)
    classes = outcome.result.classes
    assert confidence.shape == classes.shape
    valid = classes != CLASS_NODATA
    assert (confidence[valid & (classes == 1)] >= 0.5 - 1e-3).all()  # water where P(water) wins
    assert (confidence[valid & (classes == 0)] <= 0.5 + 1e-3).all()
    assert outcome.views.confidence_overlay is not None
    script = map_scripts(at)[0]
    assert "Probability of water / flood" in script and "linear-gradient" in script  # layer + colour bar


# ------------------------------------------------------------------------------ issue 19: 11, 12

def _ticked_dates(at: AppTest) -> list[str]:
    """Dates of the scenes table's ticked rows (the table's key follows the selection)."""
    import hashlib

    chosen = tuple(at.session_state["geofm_query"]["scene_ids"])
    key = "w_scenes-" + hashlib.sha1(",".join(chosen).encode()).hexdigest()[:10]
    rows = list(at.session_state[key].selection.rows)
    return list(at.dataframe[0].value["date"].iloc[rows])


def test_12_a_links_scenes_are_shown_ticked_and_a_pick_elsewhere_ticks_its_row(env):
    at = _open_link("app_pages/0_Explore.py", bbox=OMAHA_BBOX, start="2022-03-10", end="2022-04-30", cloud="100",
                    scenes=LANDSAT_OMAHA)
    assert len(at.dataframe) == 1  # searched by itself: the link's scenes are in the table, no click needed
    assert at.session_state["geofm_query"]["scene_ids"] == (LANDSAT_OMAHA,)
    assert _ticked_dates(at) == ["2022-04-07"]
    assert f"`{LANDSAT_OMAHA}`" in texts(at)
    table = at.dataframe[0].value
    clear_day = table.loc[table["date"] == "2022-03-22", "ids"].iloc[0]
    select_scenes(at, tuple(clear_day.split(", ")))  # what a click on the timeline's 2022-03-22 point does
    at.run()
    assert _ticked_dates(at) == ["2022-03-22"]


def test_11_a_task_page_without_an_area_links_to_explore(env):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("app_pages/3_Crops.py")
    at.run()
    assert "No area yet. Choose one on the Explore page" in at.info[0].value and "draw on the map" not in texts(at)
    links = [(p.proto.label, p.proto.page) for p in at.get("page_link")]
    assert ("Choose an area on the Explore page", "") in links, links  # "": the default page's path, Explore
    assert at.button(key="crops-run").disabled
