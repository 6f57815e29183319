"""Operator settings: every GEOFM_* variable read once into one frozen object, one clear line for a bad value."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geofm.cli import main
from geofm.config import PLANETARY_COMPUTER_STAC
from geofm.settings import Settings, SettingsError, from_environment, reload, settings

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_defaults_when_nothing_is_set():
    s = from_environment({})
    assert s == Settings()
    assert (s.stac_url, s.weights_dir, s.http_timeout_s, s.http_retries, s.max_aoi_km, s.basemap) == \
        (PLANETARY_COMPUTER_STAC, None, 30.0, 3, 50.0, "osm")


def test_values_are_parsed_and_frozen():
    s = from_environment({"GEOFM_HTTP_TIMEOUT": "2.5", "GEOFM_HTTP_RETRIES": "0", "GEOFM_WEIGHTS_DIR": "/w",
                          "GEOFM_BASEMAP": "NONE", "GEOFM_MAX_UPLOAD_MB": "10", "GEOFM_STAC_URL": "http://s/api",
                          "EARTHDATA_TOKEN": "secret", "GEOFM_APP_CACHE_RUNS": " 4 "})
    assert (s.http_timeout_s, s.http_retries, s.weights_dir, s.basemap, s.max_upload_mb, s.stac_url,
            s.app_cache_runs) == (2.5, 0, Path("/w"), "none", 10.0, "http://s/api", 4)
    assert "secret" not in repr(s)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.http_retries = 5  # type: ignore[misc]


@pytest.mark.parametrize("name, value, message", [
    ("GEOFM_HTTP_TIMEOUT", "abc", "GEOFM_HTTP_TIMEOUT must be a number of seconds > 0, got 'abc'."),
    ("GEOFM_HTTP_TIMEOUT", "0", "GEOFM_HTTP_TIMEOUT must be a number of seconds > 0, got '0'."),
    ("GEOFM_HTTP_RETRIES", "1.5", "GEOFM_HTTP_RETRIES must be a whole number >= 0, got '1.5'."),
    ("GEOFM_MAX_AOI_KM", "-3", "GEOFM_MAX_AOI_KM must be a number of kilometres > 0, got '-3'."),
    ("GEOFM_BASEMAP", "google", "GEOFM_BASEMAP must be osm or none, got 'google'."),
    ("GEOFM_STAC_URL", "ftp://x", "GEOFM_STAC_URL must be an http(s) URL of a STAC API, got 'ftp://x'."),
])
def test_bad_value_is_one_clear_line(name, value, message):
    with pytest.raises(SettingsError) as err:
        from_environment({name: value})
    assert str(err.value) == message and isinstance(err.value, ValueError)


def test_settings_follow_the_environment_and_reload(monkeypatch):
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "1")
    first = settings()
    assert first.http_retries == 1 and settings() is first  # read once
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "2")
    assert settings().http_retries == 2
    assert reload().http_retries == 2


def test_cli_reports_a_bad_setting_in_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("GEOFM_MAX_AOI_KM", "lots")
    code = main(["search", "--bbox", "-96", "41", "-95.9", "41.1", "--start", "2019-03-01", "--end", "2019-04-01"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == "geofm: error: GEOFM_MAX_AOI_KM must be a number of kilometres > 0, got 'lots'."


# ---------------------------------------------------------------- bad settings through the API, CLI and app

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
