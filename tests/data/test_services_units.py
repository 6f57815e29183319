"""Issue 7, the parts that need no server: Fmask rules, secrets in messages, Earthdata hosts, polygon winding,
coverage dates, the cache's checks, examples inside the default service's record."""

from __future__ import annotations

import os
import stat
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import shape

from geofm.data import fmask as fm
from geofm.data.aoi import AOI
from geofm.data.cache import ORPHAN_AGE_S, StackCache
from geofm.data.net import earthdata_cookie_jar, earthdata_credentials, is_earthdata_url, redact, retry_after_s
from geofm.data.signing import blob_container, fresh_href, strip_query, token_expired
from geofm.data.stac import coverage_start, default_search_dates
from geofm.examples import EXAMPLES
from geofm.stack import HLSStack


# ------------------------------------------------------------------------------------------ 9. Fmask

def test_fmask_high_aerosol_is_not_clear_snow_and_water_are() -> None:
    values = np.array([0, 0b1100_0000, 0b0100_0000, 0b1000_0000, 0b0001_0000, 0b0010_0000, 0b0000_0010,
                       0b0000_0100, 0b0000_1000, 0b1101_0000, 255], np.uint8)
    assert fm.clear(values).tolist() == [True, False, True, True, True, True, False, False, False, False, False]
    # high aerosol may be allowed explicitly; fill never is
    assert fm.clear(values, allow_high_aerosol=True).tolist() == [True, True, True, True, True, True, False,
                                                                  False, False, True, False]
    area = np.ones(values.shape, bool)
    assert fm.clear_fraction(values, area) == pytest.approx(5 / 11)


# ------------------------------------------------------------------------------------------ 8. secrets

def test_redact_removes_sas_tokens_signed_links_and_bearer_tokens() -> None:
    text = ("Reading https://hls2euwest.blob.core.windows.net/hls2/S30/x.B02.tif?st=2026-01-01T00%3A00Z&se="
            "2026-01-02T00%3A00Z&sp=rl&sv=2024-05-04&sr=c&skoid=abc&sig=SECRETSIG%3D failed; "
            "redirected to https://bucket.s3.amazonaws.com/x.tif?X-Amz-Signature=SECRET2&X-Amz-Credential=AK; "
            "header Authorization: Bearer eyJhbGciOi.SECRET3.xyz; bare sig=SECRET4")
    out = redact(text)
    for secret in ("SECRETSIG", "SECRET2", "SECRET3", "SECRET4", "skoid=abc", "AK"):
        assert secret not in out
    assert "https://hls2euwest.blob.core.windows.net/hls2/S30/x.B02.tif?…" in out
    assert "Bearer …" in out


@pytest.mark.parametrize("url, expected", [
    ("https://data.lpdaac.earthdatacloud.nasa.gov/lp-prot/HLSS30.020/x.tif", True),
    ("https://urs.earthdata.nasa.gov/oauth/authorize", True),
    ("https://cmr.earthdata.nasa.gov/stac/LPCLOUD", True),
    ("http://127.0.0.1/?mirror=earthdata", False),  # a substring of the URL decides nothing
    ("https://earthdata.nasa.gov.attacker.example/x.tif", False),
    ("https://attacker.example/earthdatacloud.nasa.gov/x.tif", False),
    ("https://hls2euwest.blob.core.windows.net/hls2/x.tif", False),
    ("not a url", False),
])
def test_earthdata_token_goes_only_to_earthdata_hosts(url: str, expected: bool) -> None:
    assert is_earthdata_url(url) is expected


def test_operator_can_add_earthdata_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not is_earthdata_url("http://127.0.0.2:9000/lp-prot/x.tif")
    monkeypatch.setenv("GEOFM_EARTHDATA_HOSTS", "127.0.0.2, .mirror.example")
    assert is_earthdata_url("http://127.0.0.2:9000/lp-prot/x.tif")
    assert is_earthdata_url("https://a.mirror.example/x.tif")
    assert not is_earthdata_url("http://127.0.0.1:9000/lp-prot/x.tif")


def test_earthdata_cookie_jar_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    old = tmp_path / ".cache" / "geofm" / "earthdata-cookies.txt"
    old.parent.mkdir(parents=True)
    old.write_text("# an old jar, world-readable\n")
    old.chmod(0o644)
    jar = earthdata_cookie_jar()
    assert jar == old and stat.S_IMODE(jar.stat().st_mode) == 0o600
    assert jar.read_text().startswith("# an old jar")  # kept, only tightened
    jar.unlink()
    assert stat.S_IMODE(earthdata_cookie_jar().stat().st_mode) == 0o600


def test_earthdata_credentials_from_token_or_netrc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EARTHDATA_TOKEN", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert earthdata_credentials() is None
    (tmp_path / "netrc").write_text("machine example.org login a password b\n")
    (tmp_path / "netrc").chmod(0o600)
    assert earthdata_credentials() is None
    (tmp_path / "netrc").write_text("machine urs.earthdata.nasa.gov login me password pw\n")
    assert earthdata_credentials() == "netrc"
    monkeypatch.setenv("EARTHDATA_TOKEN", "tok")
    assert earthdata_credentials() == "token"


# ------------------------------------------------------------------------------------------ 5. throttling

def test_retry_after_from_header_or_planetary_computer_text() -> None:
    assert retry_after_s({"Retry-After": "7"}) == 7.0
    assert retry_after_s({"retry-after": "0"}) == 0.0
    assert retry_after_s({}, "Rate limit is exceeded. Try again in 12 seconds.") == 12.0
    assert retry_after_s({}, "busy") is None
    assert 0 <= retry_after_s({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) <= 0.0 + 1e-9


# ------------------------------------------------------------------------------------------ 1./10. signing

@pytest.mark.parametrize("href, where", [
    ("https://hls2euwest.blob.core.windows.net/hls2/S30/x.tif", ("hls2euwest", "hls2")),
    ("http://127.0.0.1:8123/hls2euwest/hls2/S30/x.tif?st=a&sig=b", ("hls2euwest", "hls2")),  # storage emulator
    ("http://localhost:10000/acct/cont/blob.tif", ("acct", "cont")),
    ("https://planetarycomputer.microsoft.com/api/data/v1/item/preview.png", None),
    ("https://example.org/acct/cont/blob.tif", None),  # path style only for a local emulator
    ("http://127.0.0.1:8123/files/x.tif", None),
])
def test_blob_container_of_hrefs(href: str, where: tuple[str, str] | None) -> None:
    found = blob_container(href)
    assert (found.account, found.container) == where if where else found is None


def test_token_expiry_is_read_from_the_signed_href() -> None:
    base = "https://acct.blob.core.windows.net/c/x.jpg"
    past = (date.today() - timedelta(days=1)).isoformat()
    future = (date.today() + timedelta(days=2)).isoformat()
    assert token_expired(f"{base}?st=a&se={past}T00%3A00%3A00Z&sig=x")
    assert not token_expired(f"{base}?st=a&se={future}T00%3A00%3A00Z&sig=x")
    assert token_expired(base)  # a blob href without a token needs one
    assert fresh_href("https://example.org/a.jpg") == "https://example.org/a.jpg"  # not a blob: left alone
    assert fresh_href(None) is None
    assert strip_query(f"{base}?sig=x") == base


# ------------------------------------------------------------------------------------------ 3. winding

def test_area_geojson_is_counter_clockwise_even_when_drawn_clockwise() -> None:
    from shapely.geometry import Polygon

    clockwise = {"type": "Polygon", "coordinates": [[[-96.0, 41.2], [-96.0, 41.3], [-95.9, 41.3], [-95.9, 41.2],
                                                     [-96.0, 41.2]]]}
    assert not Polygon(clockwise["coordinates"][0]).exterior.is_ccw  # as Leaflet draws a rectangle
    for aoi in (AOI.from_geojson(clockwise), AOI.from_bbox(-96.0, 41.2, -95.9, 41.3)):
        gj = aoi.to_geojson()
        assert Polygon(gj["coordinates"][0]).exterior.is_ccw
        assert shape(gj).equals(aoi.geometry)


# ------------------------------------------------------------------------------------------ coverage

def test_coverage_starts_and_default_dates() -> None:
    assert coverage_start("planetary-computer") == date(2020, 1, 1)
    assert coverage_start("cmr") == date(2013, 4, 11)
    start, end = default_search_dates(date(2026, 11, 30))
    assert (start, end) == (date(2026, 9, 1), date(2026, 11, 30))
    assert default_search_dates()[1] == date.today()


def test_examples_lie_inside_planetary_computers_record() -> None:
    assert {e.task for e in EXAMPLES} >= {"flood", "crops", "reconstruct"}
    for e in EXAMPLES:
        assert date.fromisoformat(e.start) >= date(2020, 1, 1), e.key
        assert date.fromisoformat(e.end) > date.fromisoformat(e.start)
    crops = next(e for e in EXAMPLES if e.task == "crops")
    assert crops.start.startswith("2022") and -104 < crops.bounds[0] < -80  # Corn Belt, the training season
    flood = next(e for e in EXAMPLES if e.task == "flood")
    assert flood.start.startswith("2022") and 60 < flood.bounds[0] < 75  # Sindh, Pakistan


# ------------------------------------------------------------------------------------------ 7. cache

def _stack(v: int) -> HLSStack:
    return HLSStack(np.full((1, 6, 32, 32), v, np.int16), np.ones((1, 32, 32), bool), CRS.from_epsg(32615),
                    Affine(30, 0, 0, 0, -30, 0), [None], [f"s{v}"])


@pytest.mark.parametrize("damage", ["truncate", "empty", "flip", "garbage"])
def test_damaged_cache_entry_is_dropped_not_a_traceback(tmp_path: Path, damage: str) -> None:
    cache = StackCache(tmp_path)
    assert cache.put("k", _stack(3))
    path = cache.dir / "k.npz"
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "flip":  # a stored (uncompressed) pixel changes: the zip CRC or our checksum catches it
        i = raw.find(np.full(8, 3, np.int16).tobytes())
        raw[i] = 4
        path.write_bytes(raw)
    else:
        path.write_bytes(os.urandom(len(raw)))
    assert cache.get("k") is None
    assert not path.exists()
    assert cache.put("k", _stack(3)) and cache.get("k").data.max() == 3


def test_orphaned_temporary_files_are_removed_and_counted(tmp_path: Path) -> None:
    cache = StackCache(tmp_path, max_bytes=10**9)
    cache.put("a", _stack(1))
    entry = cache.size_bytes()
    orphan = cache.dir / ".dead.123.456.tmp.npz"
    orphan.write_bytes(b"x" * 5000)
    young = cache.dir / ".live.1.2.tmp.npz"
    young.write_bytes(b"y" * 7000)
    assert cache.size_bytes() == entry + 12000  # temporary files count against the cap
    old = orphan.stat().st_mtime - ORPHAN_AGE_S - 10
    os.utime(orphan, (old, old))
    cache.evict()
    assert not orphan.exists() and young.exists()
    assert cache.size_bytes() == entry + 7000


def test_failed_cache_write_is_not_a_failed_run(tmp_path: Path) -> None:
    (tmp_path / "stacks").write_text("a file where the cache folder should be")  # mkdir fails: an OSError
    cache = StackCache(tmp_path)
    assert cache.put("k", _stack(1)) is False
    assert cache.get("k") is None


@pytest.mark.parametrize("props, want", [
    ({"proj:transform": [30, 0, 699960, 0, -30, 4600020, 0, 0, 1], "proj:shape": [3660, 3660]},
     ((30.0, 0.0, 699960.0, 0.0, -30.0, 4600020.0), (3660, 3660))),
    ({}, (None, None)),  # CMR's items: no projection extension
    ({"proj:transform": [30, 0, 699960], "proj:shape": [3660, 3660]}, (None, None)),  # too short
    ({"proj:transform": "30 0 699960 0 -30 4600020", "proj:shape": [3660, 3660]}, (None, None)),  # not a list
    ({"proj:transform": [30, 0, 699960, 0, -30, 4600020], "proj:shape": None}, (None, None)),
])
def test_scene_pixel_grid_from_the_projection_extension(props: dict, want: tuple) -> None:
    """``Scene.transform``/``shape`` from ``proj:transform``/``proj:shape``; absent or malformed gives None, never
    an error (a catalog's odd item must not stop a search)."""
    import pystac

    from geofm.data.scene import Scene

    item = pystac.Item("HLS.S30.T14TQL.2022081T171900.v2.0", None, None, datetime(2022, 3, 22), props,
                       collection="hls2-s30")
    for key in ("B02", "B03", "B04", "B8A", "B11", "B12", "Fmask"):
        item.add_asset(key, pystac.Asset(f"https://example.test/{key}.tif"))
    scene = Scene.from_item(item, "S30")
    assert (scene.transform, scene.shape) == want
