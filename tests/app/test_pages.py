"""The Streamlit app through AppTest, against the STAC stand-in and the published-layout test checkpoints.

Areas are a few km (one 224 window) so the full-size models stay cheap on CPU.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from geofm import pipeline
from geofm.config import CLASS_NODATA, QueueLimits
from geofm.examples import get_example
from geofm.serve.queue import gpu_queue
from tests.app.support import FREMONT_SMALL, OMAHA_SMALL, OUTCOMES, _geotiff, box, go, metric, start, texts

pytestmark = pytest.mark.slow


# ------------------------------------------------------------------------------------- explore


def test_explore_lists_the_scenes_the_api_finds(env):
    from geofm.data import AOI, fill_clear_fractions, search_hls

    at = start()
    example = get_example("sindh-flood")
    at.button(key="ex-sindh-flood").click().run()
    assert example.title in texts(at)
    at.button(key="w_find").click().run()
    assert not at.exception and not at.error
    shown = at.dataframe[0].value

    aoi = AOI.from_geojson(at.session_state["geofm_query"]["geometry"])
    scenes = search_hls(aoi, example.start, example.end, max_cloud=example.max_cloud, stac_url=env.url)
    fill_clear_fractions(scenes, aoi)
    scenes.sort(key=lambda s: s.datetime)  # one tile per date here: one row per scene, in date order
    assert list(shown["ids"]) == [s.id for s in scenes]
    assert list(shown["date"]) == [s.date.isoformat() for s in scenes]
    assert set(shown["sensor"]) <= {"Landsat 8/9", "Sentinel-2"}
    assert list(shown["sensor"]) == [{"L30": "Landsat 8/9", "S30": "Sentinel-2"}[s.sensor] for s in scenes]
    assert list(shown["cloud_cover"]) == [round(s.cloud_cover, 1) for s in scenes]
    assert list(shown["clear_percent"]) == [round(100 * s.clear_fraction, 1) for s in scenes]
    # the stand-in's 2022-08-28 Landsat 9 scene is clear over the lake (the 6 km example lies west of the
    # 2022-09-05 cloud; the clear shares of the cloudy dates are checked against the reader above)
    clearest = shown.groupby("date")["clear_percent"].max()
    assert clearest["2022-08-28"] == 100.0 and len(clearest) >= 2


def test_a_search_cut_short_by_another_event_resumes_in_the_next_run(env):
    """A "Find scenes" click is kept until its search ends: a page run that another event (a map value, a
    widget) cuts short mid-search loses nothing; a new area drops a search asked for the old one."""
    from geofm.serve.explore import PENDING_SEARCH

    at = start()
    at.button(key="ex-sindh-flood").click().run()
    at.session_state[PENDING_SEARCH] = True  # the click's run was cut short before the search ended
    at.run()
    assert not at.exception and not at.error
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) >= 2
    assert PENDING_SEARCH not in at.session_state
    at.button(key="w_find").click().run()  # a click: searched once, nothing left pending
    assert len(at.dataframe) == 1 and PENDING_SEARCH not in at.session_state
    at.session_state[PENDING_SEARCH] = True
    at.button(key="ex-fremont-crops").click().run()  # another area: the old area's search is not run for it
    assert PENDING_SEARCH not in at.session_state and len(at.dataframe) == 0


def test_explore_area_too_large_says_size_and_limit(env):
    at = start(box(-96.6, 40.9, -95.3, 41.7))  # ~110 x 90 km
    message = "\n".join(e.value for e in at.error)
    assert re.search(r"The area is \d+\.\d x \d+\.\d km; the largest allowed is 50 x 50 km", message), message
    assert at.button(key="w_find").disabled
    assert all(at.button(key=f"task-{t}").disabled for t in ("flood", "crops", "reconstruct"))


def test_explore_no_scenes_suggests_wider_dates(env):
    at = start(OMAHA_SMALL, dates=(date(2021, 1, 1), date(2021, 1, 31)))  # inside PC's record, no scenes
    at.button(key="w_find").click().run()
    assert not at.exception
    message = at.error[0].value
    assert "No HLS scenes" in message and "wider date range" in message and "allow more cloud" in message


def test_explore_defaults_to_the_last_90_days(env):
    from datetime import timedelta

    at = start()
    assert at.date_input(key="w_dates").value == (date.today() - timedelta(days=90), date.today())


def test_explore_dates_before_2020_name_planetary_computers_start(env, monkeypatch, tmp_path):
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.delenv("EARTHDATA_TOKEN", raising=False)
    at = start(OMAHA_SMALL, dates=(date(2019, 3, 10), date(2019, 4, 30)))
    at.button(key="w_find").click().run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "starts on 2020-01-01" in message and "2019-03-10" in message
    assert at.session_state["geofm_query"]["geometry"] is not None  # the area is kept


def test_explore_service_unreachable(env, monkeypatch):
    monkeypatch.setenv("GEOFM_STAC_URL", "http://127.0.0.1:9/api/stac/v1")
    at = start(OMAHA_SMALL)
    at.button(key="w_find").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "127.0.0.1" not in at.error[0].value  # the URL goes to the server log
    assert "satellite image catalogue cannot be reached right now" in at.error[0].value


def test_place_search_offline_says_so_and_keeps_the_area(env):
    at = start(OMAHA_SMALL)
    at.text_input(key="w_place").input("Omaha")
    at.button[0].click().run()  # the form's Search button
    assert not at.exception
    assert any("Place search is unavailable" in w.value and "internet" in w.value for w in at.warning)
    assert "Your area:" in texts(at)


def test_task_page_without_area_explains_what_to_do(env):
    at = go(start(), "app_pages/2_Flood.py")
    assert "No area yet. Choose one on the Explore page" in at.info[0].value
    assert at.button(key="flood-run").disabled


# ------------------------------------------------------------------------------------- flood


def test_flood_numbers_match_the_result_and_survive_reruns(env, model_calls):
    at = go(start(OMAHA_SMALL), "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES]["flood"]
    classes = outcome.result.classes
    assert outcome.result.crs == outcome.stack.crs and classes.shape == outcome.stack.shape
    water_km2 = (classes == 1).sum() * 900 / 1e6
    clear_km2 = (classes != CLASS_NODATA).sum() * 900 / 1e6
    assert 0 < water_km2 < clear_km2  # some water, not all: the numbers below tell the classes apart
    assert metric(at, "Water area") == f"{water_km2:.2f} km²"
    assert metric(at, "Clear area (no cloud, no gaps)") == f"{clear_km2:.2f} km²"
    assert metric(at, "Share of the clear area") == f"{100 * water_km2 / clear_km2:.1f} %"
    assert "Water / flood" in texts(at)  # legend
    assert [b.label for b in at.get("download_button")] == ["GeoTIFF (COG)", "PNG image", "GeoJSON polygons"]
    facts = at.caption[-1].value
    assert "Reading pixels" in facts and "Running the model" in facts and "CPU" in facts
    assert model_calls["flood"] == 1
    requests_before = env.stats.file_requests + env.stats.stac_requests

    # a rerun (any widget): same result, no model run, no data read (opacity is on the map, in the browser)
    at.run()
    assert at.session_state[OUTCOMES]["flood"] is outcome
    assert metric(at, "Water area") == f"{water_km2:.2f} km²"
    assert model_calls["flood"] == 1
    assert env.stats.file_requests + env.stats.stac_requests == requests_before

    # going to another page and back keeps it
    go(at, "app_pages/0_Explore.py")
    go(at, "app_pages/2_Flood.py")
    assert metric(at, "Water area") == f"{water_km2:.2f} km²"

    # same inputs again: from the cache, instantly
    at.button(key="flood-run").click().run()
    again = at.session_state[OUTCOMES]["flood"]
    assert again.from_cache and again.result is outcome.result
    assert model_calls["flood"] == 1
    assert "served from the cache" in at.caption[-1].value


def test_flood_uses_the_scenes_the_user_selected(env):
    """Rows picked in the explore page's scene table reach the run instead of the clearest scene."""
    at = start(OMAHA_SMALL)
    picked = "HLS.L30.T15TTG.2022097T171500.v2.0"  # 2022-04-07, not the clearest date over this area
    query = at.session_state["geofm_query"]
    query.update(task="flood", scene_ids=(picked,))
    at.session_state["geofm_query"] = query
    go(at, "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES]["flood"]
    assert [s.id for s in outcome.scenes] == [picked]
    assert outcome.stack.scene_ids == [picked]
    assert outcome.stack.times[0].date() == date(2022, 4, 7)


def test_flood_error_keeps_inputs_and_previous_result(env, model_calls):
    at = go(start(OMAHA_SMALL), "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    water = metric(at, "Water area")
    # 2022-04-05..09 holds only the Landsat scene with a cloud right over Omaha
    go(at, "app_pages/0_Explore.py")
    at.date_input(key="w_dates").set_value((date(2022, 4, 5), date(2022, 4, 9))).run()
    go(at, "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "clear" in at.error[0].value and "cloud-cover slider" in at.error[0].value
    assert metric(at, "Water area") == water  # the previous result is still shown
    assert "earlier settings" in at.info[0].value
    assert "2022-04-05 to 2022-04-09" in texts(at)  # and the new inputs are kept
    assert model_calls["flood"] == 1


def test_flood_weights_missing_says_so_once_and_disables_run(env, monkeypatch, tmp_path):
    pipeline.clear_model_cache()
    monkeypatch.setenv("GEOFM_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    at = go(start(OMAHA_SMALL), "app_pages/2_Flood.py")
    warned = at.warning[0].value  # said before anyone presses Run, once; the details are in the server log
    assert "not installed on this server" in warned and "GEOFM_WEIGHTS_DIR" not in warned
    assert at.button(key="flood-run").disabled
    pipeline.clear_model_cache()


# ------------------------------------------------------------------------------------- crops


def test_crops_three_dates_class_table_and_chart(env):
    at = go(start(FREMONT_SMALL, dates=(date(2022, 5, 1), date(2022, 9, 30))), "app_pages/3_Crops.py")
    at.button(key="crops-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES]["crops"]
    assert outcome.stack.num_frames == 3
    times = [t.date() for t in outcome.stack.times]
    assert times == sorted(times) and times[0].month in (5, 6) and times[-1].month in (8, 9)
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    assert captions == [f"{t.isoformat()} ({'Landsat' if s.sensor == 'L30' else 'Sentinel-2'})"
                        for t, s in zip(times, outcome.scenes[::len(outcome.scenes) // 3])]
    table = at.dataframe[0].value
    assert len(table) == 13 and table.columns[0] == "class"
    classes = outcome.result.classes
    for k, row in table.iterrows():
        assert row["pixels"] == int((classes == k).sum())
        assert row["area_ha"] == pytest.approx(row["pixels"] * 0.09, abs=0.006)
    assert table["pixels"].sum() == int((classes != CLASS_NODATA).sum())
    assert len(at.get("vega_lite_chart")) == 1
    assert "Crop classes" in texts(at) and "Soybeans" in texts(at)


# ------------------------------------------------------------------------------------- reconstruction


def test_reconstruction_views_and_error_per_band(env, model_calls):
    at = go(start(OMAHA_SMALL), "app_pages/1_Reconstruction.py")
    at.slider(key="reconstruct-ratio").set_value(0.5).run()
    at.number_input(key="reconstruct-seed").set_value(3).run()
    assert model_calls["reconstruct"] == 0  # moving the slider runs nothing
    at.button(key="reconstruct-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES]["reconstruct"]
    assert outcome.result.mask_ratio == 0.5 and outcome.result.seed == 3
    hidden = 100 * outcome.result.mask.mean()
    assert f"{hidden:.0f} % of the pixels hidden" in texts(at)
    errors = at.dataframe[0].value
    assert outcome.scenes[0].sensor == "S30"  # 2022-03-22: Sentinel-2 names its bands
    assert list(errors["band"]) == ["B02 Blue", "B03 Green", "B04 Red", "B8A NIR narrow", "B11 SWIR 1",
                                    "B12 SWIR 2"]
    assert (errors["pixels"] > 0).all() and np.isfinite(errors["rmse"]).all()
    # a new seed marks the shown result as stale until Run
    at.number_input(key="reconstruct-seed").set_value(4).run()
    assert "earlier settings" in at.info[0].value
    assert at.session_state[OUTCOMES]["reconstruct"] is outcome and model_calls["reconstruct"] == 1


def test_reconstruction_offers_installed_prithvi_eo_2_models(env, monkeypatch, tmp_path, tiny_models):
    from geofm.config import MODELS
    from tests.checkpoints import write_mae_checkpoint

    at = go(start(OMAHA_SMALL), "app_pages/1_Reconstruction.py")
    assert not [w for w in at.selectbox if w.key == "reconstruct-model"]  # only the default is installed

    weights = tmp_path / "weights"
    weights.mkdir()
    for f in tiny_models.iterdir():
        (weights / f.name).symlink_to(f)
    tiny = MODELS["prithvi-eo-2.0-tiny-tl"]
    write_mae_checkpoint(weights / tiny.filename, tiny.arch, seed=4)
    monkeypatch.setenv("GEOFM_WEIGHTS_DIR", str(weights))
    at = go(start(OMAHA_SMALL), "app_pages/1_Reconstruction.py")
    choice = at.selectbox(key="reconstruct-model")
    assert choice.options == [MODELS["prithvi-eo-1.0-100m"].title, tiny.title]
    choice.set_value(tiny.name).run()
    at.button(key="reconstruct-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES]["reconstruct"]
    assert outcome.request.model == tiny.name and outcome.result.model == tiny.name


# ------------------------------------------------------------------------------------- uploads


def _upload_page(env) -> AppTest:
    return go(start(), "app_pages/4_Your_file.py")


def test_upload_flood_runs_with_the_same_views(env):
    rng = np.random.default_rng(1)
    bands = rng.integers(200, 3000, (6, 90, 100)).astype(np.int16)
    bands[:, :, 80:] = np.array([300, 400, 300, 100, 50, 30], np.int16)[:, None, None]  # a dark strip
    at = _upload_page(env)
    at.radio(key="up-task").set_value("flood").run()
    at.file_uploader(key="up-file").set_value(("scene.tif", _geotiff(bands), "image/tiff")).run()
    at.button(key="up-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES]["upload"]
    assert outcome.result.classes.shape == (90, 100)
    water_km2 = (outcome.result.classes == 1).sum() * 900 / 1e6
    assert metric(at, "Water area") == f"{water_km2:.2f} km²"
    assert [b.label for b in at.get("download_button")] == ["GeoTIFF (COG)", "PNG image", "GeoJSON polygons"]


def test_upload_three_dates_for_crops_and_a_wrong_band_file(env):
    rng = np.random.default_rng(2)
    files = [(f"t{i}.tif", _geotiff(rng.integers(200, 4000, (6, 60, 70)).astype(np.int16)), "image/tiff")
             for i in (1, 2, 3)]
    at = _upload_page(env)
    at.radio(key="up-task").set_value("crops").run()
    at.file_uploader(key="up-files").set_value(files).run()
    at.button(key="up-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state[OUTCOMES]["upload"]
    assert outcome.stack.num_frames == 3 and outcome.result.classes.shape == (60, 70)
    table = at.dataframe[0].value
    counts = np.bincount(outcome.result.classes.ravel(), minlength=256)[:13]
    assert len(table) == 13 and list(table["pixels"]) == list(counts) and counts.sum() == 60 * 70
    assert list(table["area_ha"]) == pytest.approx(list(counts * 0.09), abs=0.006)

    # a 4-band file: one clear message on upload (Run is off), the previous result stays
    at.file_uploader(key="up-files").set_value(
        ("four.tif", _geotiff(np.ones((4, 60, 70), np.int16)), "image/tiff")).run()
    assert not at.exception
    assert "four.tif has 4 band(s); expected 6 bands per date" in at.error[0].value
    assert at.button(key="up-run").disabled
    assert at.session_state[OUTCOMES]["upload"] is outcome


def test_upload_bad_and_oversized_files(env, monkeypatch):
    at = _upload_page(env)
    at.file_uploader(key="up-file").set_value(("notes.tif", b"this is not a GeoTIFF", "image/tiff")).run()
    assert not at.exception
    assert "notes.tif is not a readable GeoTIFF" in at.error[0].value  # said on upload, before any Run

    monkeypatch.setenv("GEOFM_MAX_UPLOAD_MB", "0.01")
    big = _geotiff(np.ones((6, 100, 100), np.int16))
    at.file_uploader(key="up-file").set_value(("big.tif", big, "image/tiff")).run()
    assert "big.tif is 0.1 MB; the app takes files up to 0.01 MB." in at.error[0].value

    monkeypatch.setenv("GEOFM_MAX_UPLOAD_MB", "200")
    monkeypatch.setenv("GEOFM_MAX_AOI_KM", "1.5")  # 50 px at 30 m
    at.file_uploader(key="up-file").set_value(("wide.tif", big, "image/tiff")).run()
    assert "The upload is 100 × 100 pixels (3 × 3 km at 30 m); the app takes at most 50 × 50 pixels" \
        in at.error[0].value


def test_upload_checked_on_upload_every_bad_file_named_one_file_replaced_bands_by_sensor(env):
    rng = np.random.default_rng(5)
    good = _geotiff(rng.integers(200, 4000, (6, 60, 70)).astype(np.int16))
    at = _upload_page(env)
    at.radio(key="up-task").set_value("crops").run()
    at.file_uploader(key="up-files").set_value([
        ("HLS.S30.T15TTG.2022097T171500.v2.0.tif", good, "image/tiff"),
        ("four.tif", _geotiff(np.ones((4, 60, 70), np.int16)), "image/tiff"),
        ("notes.tif", b"this is not a GeoTIFF", "image/tiff")]).run()  # no Run pressed
    assert not at.exception and len(at.error) == 1
    problems = at.error[0].value
    assert "four.tif has 4 band(s)" in problems and "notes.tif is not a readable GeoTIFF" in problems  # both named
    assert "HLS.S30" not in problems  # the good file is not blamed
    assert at.button(key="up-run").disabled

    # flood takes one file: the uploader holds one, so a new upload replaces the old one
    at.radio(key="up-task").set_value("flood").run()
    assert at.file_uploader(key="up-file").accept_multiple_files is False
    assert not [u for u in at.get("file_uploader") if u.key == "up-files"]
    at.file_uploader(key="up-file").set_value(("first.tif", good, "image/tiff")).run()
    at.file_uploader(key="up-file").set_value(("HLS.L30.T15TTG.2022098T170000.v2.0.tif", good, "image/tiff")).run()
    captions = [c.value for c in at.caption if "px" in c.value]
    assert len(captions) == 1 and "HLS.L30" in captions[0]  # one file: the second replaced the first
    # bands named as the file's sensor names them: Landsat here, Sentinel-2 for an S30 file
    assert "Landsat (HLS L30)" in captions[0] and "B05 NIR narrow" in captions[0] and "B8A" not in captions[0]
    assert not at.button(key="up-run").disabled
    at.file_uploader(key="up-file").set_value(("HLS.S30.T15TTG.2022097T171500.v2.0.tif", good, "image/tiff")).run()
    caption = next(c.value for c in at.caption if "px" in c.value)
    assert "Sentinel-2 (HLS S30)" in caption and "B8A NIR narrow" in caption and "B12 SWIR 2" in caption

    # and the result's labels and reconstruction error table follow the file's sensor too
    at.radio(key="up-task").set_value("reconstruct").run()
    at.file_uploader(key="up-files").set_value(("HLS.S30.T15TTG.2022097T171500.v2.0.tif", good, "image/tiff")).run()
    at.button(key="up-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert list(table["band"])[3] == "B8A NIR narrow" and list(table["band"])[0] == "B02 Blue"
    assert "2022-04-07 (Sentinel-2)" in texts(at)


def test_waiting_user_sees_place_in_line(env):
    """Another session holds the GPU: this run waits in the shared queue and is told its place."""
    import threading
    import time

    from geofm.serve.queue import gpu_queue

    queue = gpu_queue()
    held, release = threading.Event(), threading.Event()

    def other_session():
        with queue.slot("another user"):
            held.set()
            release.wait(30)

    def release_once_we_wait():
        deadline = time.time() + 60
        while queue.waiting < 1 and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(1.0)
        release.set()

    holder = threading.Thread(target=other_session, daemon=True)
    holder.start()
    held.wait(5)
    releaser = threading.Thread(target=release_once_we_wait, daemon=True)
    releaser.start()
    at = go(start(OMAHA_SMALL), "app_pages/2_Flood.py")
    at.button(key="flood-run").click().run()
    holder.join(5)
    releaser.join(5)
    assert not at.exception and not at.error
    lines = texts(at)
    assert "you are number 1 in line" in lines
    waited = re.search(r"Waiting for the GPU/CPU (\d+\.\d) s", at.caption[-1].value)
    assert waited and float(waited.group(1)) >= 0.9
    assert metric(at, "Water area").endswith("km²")


def test_full_queue_says_busy_with_minutes_instead_of_waiting(env, monkeypatch, model_calls):
    """The line is full: the visitor is told at once how busy the demo is; nothing is searched or run."""
    queue = gpu_queue()
    monkeypatch.setattr(queue, "limits", QueueLimits(max_waiting=1, runs_per_minute=100, job_seconds=90))
    monkeypatch.setattr(queue, "_measured", None)  # forget the run times of earlier tests: 90 s per run
    running = queue.join("other visitor", owner="someone-else")
    queue.wait_turn(running)
    waiting = queue.join("third visitor", owner="another-one")
    try:
        at = go(start(OMAHA_SMALL), "app_pages/2_Flood.py")
        at.button(key="flood-run").click().run()
        assert not at.exception
        assert [e.value for e in at.error] == [
            "The demo is busy — about 3 minutes for the runs already in line. Please try again then."]
        assert model_calls["flood"] == 0 and queue.waiting == 1
    finally:
        queue.leave(waiting)
        queue.leave(running)
