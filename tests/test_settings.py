"""Operator settings: every GEOFM_* variable read once into one frozen object, one clear line for a bad value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from geofm.cli import main
from geofm.config import PLANETARY_COMPUTER_STAC
from geofm.settings import Settings, SettingsError, from_environment, reload, settings


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
