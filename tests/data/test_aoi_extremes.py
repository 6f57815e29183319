"""Issue 9, points 8 and 9: areas measured right (a box across most of the globe, an area below one pixel) and
bad operator settings reported in one line naming the setting, through the API, the CLI and the app."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geofm.cli import main
from geofm.data.aoi import AOI
from geofm.errors import AOIError
from geofm.settings import SettingsError, from_environment

APP = str(Path(__file__).resolve().parents[2] / "app.py")


# ---------------------------------------------------------------- 8: size of an area

def test_a_box_spanning_almost_360_degrees_is_over_the_cap():
    with pytest.raises(AOIError) as info:
        AOI.from_bbox(-179.9, 10, 179.9, 10.3)
    assert str(info.value).startswith("The area is 39448.2 x 33.4 km; the largest allowed is 50 x 50 km.")


def test_a_polygon_across_many_utm_zones_is_over_the_cap():
    poly = {"type": "Polygon", "coordinates": [[[-80, 0], [80, 0], [80, 0.2], [-80, 0.2], [-80, 0]]]}
    with pytest.raises(AOIError, match=r"The area is 17811\.\d x 22\.\d km"):
        AOI.from_geojson(poly)


def test_the_cli_refuses_the_near_global_box(capsys):
    code = main(["run", "flood", "--bbox", "-179.9", "10", "179.9", "10.3", "--start", "2022-01-01", "--end",
                 "2022-02-01", "--out", "/tmp/never-written.tif"])
    err = capsys.readouterr().err
    assert code == 2 and "geofm: error: The area is 39448.2 x 33.4 km; the largest allowed is 50 x 50 km." in err


def test_ordinary_areas_keep_their_utm_size():
    w, h = AOI.from_bbox(-95.93, 41.29, -95.90, 41.31).size_km
    assert w == pytest.approx(2.587, abs=0.001) and h == pytest.approx(2.305, abs=0.001)  # as before


def test_an_area_smaller_than_a_pixel_is_too_small():
    with pytest.raises(AOIError) as info:
        AOI.from_bbox(10.0, 45.0, 10.0001, 45.0001)
    assert str(info.value) == "The area is too small: 8 x 11 m, less than one 30 m pixel across."
    AOI.from_bbox(10.0, 45.0, 10.001, 45.001)  # 79 x 111 m is fine


def test_a_sliver_between_pixel_centres_is_too_small_not_zero_percent_clear():
    from geofm.data.reader import fill_clear_fractions

    sliver = AOI.from_geojson({"type": "Polygon", "coordinates": [[[10.0, 45.0], [10.01, 45.01], [10.00999, 45.01],
                                                                   [10.0, 45.0]]]})
    with pytest.raises(AOIError, match="The area is too small: it holds no whole 30 m pixel."):
        fill_clear_fractions([], sliver)


# ---------------------------------------------------------------- 9: operator settings

BAD = [("GEOFM_HTTP_TIMEOUT", "abc", "a number of seconds > 0"),
       ("GEOFM_HTTP_RETRIES", "3.5", "a whole number >= 0"),
       ("GEOFM_CACHE_MAX_MB", "lots", "a number of MB >= 0"),
       ("GEOFM_MAX_AOI_KM", "inf", "a number of kilometres > 0"),
       ("GEOFM_MAX_AOI_KM", "nan", "a number of kilometres > 0"),
       ("GEOFM_CACHE_MAX_MB", "inf", "a number of MB >= 0"),
       ("GEOFM_HTTP_TIMEOUT", "inf", "a number of seconds > 0")]


@pytest.mark.parametrize("name, value, what", BAD)
def test_bad_setting_is_one_line_naming_it(name, value, what):
    with pytest.raises(SettingsError) as err:
        from_environment({name: value})
    assert str(err.value) == f"{name} must be {what}, got {value!r}."


@pytest.mark.parametrize("name, value, what", BAD[:4])
def test_cli_reports_each_bad_setting_in_one_line(name, value, what, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(name, value)
    code = main(["run", "flood", "--bbox", "-95.93", "41.29", "-95.90", "41.31", "--start", "2022-03-10", "--end",
                 "2022-04-30", "--out", str(tmp_path / "o.tif"), "--stac-url", "http://127.0.0.1:9/"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"geofm: error: {name} must be {what}, got {value!r}.", err


@pytest.mark.slow
@pytest.mark.parametrize("name, value, what", BAD[:4])
def test_app_says_misconfigured_and_logs_the_setting(name, value, what, monkeypatch, caplog):
    monkeypatch.setenv(name, value)
    at = AppTest.from_file(APP, default_timeout=120)
    with caplog.at_level(logging.ERROR):
        at.run()
        at.session_state["geofm_drawn_geometry"] = {
            "type": "Polygon", "coordinates": [[[-95.93, 41.29], [-95.90, 41.29], [-95.90, 41.31], [-95.93, 41.31],
                                                [-95.93, 41.29]]]}
        at.run()
    assert not at.exception, at.exception
    shown = " ".join(e.value for e in at.error)
    assert "This server is misconfigured" in shown and name not in shown  # operator detail only in the log
    assert f"{name} must be {what}, got {value!r}." in caplog.text
