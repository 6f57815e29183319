"""Issue 7 against the stand-in as the real services behave: Planetary Computer's SAS signing (raw page dicts,
time limits, 429 Retry-After, expired tokens, pre-expired tokens), paging quirks, CMR-STAC's polygon winding and
Earthdata login, stalled endpoints, 503 ServerBusy, corrupt COGs, the cache, secrets, the southern tile and the
2020 start of Planetary Computer's record."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from geofm.config import FMASK_PASS_CONCURRENCY
from geofm.data import AOI, get_scenes, read_aoi, search_hls
from geofm.data import reader as reader_mod
from geofm.data.grid import Grid
from geofm.data.reader import fill_clear_fractions
from geofm.data.signing import blob_container, clear_tokens, fresh_href, sign_in_place
from geofm.data.stac import _search_items, open_endpoint
from geofm.errors import AuthError, CoverageError, ServiceError
from tests.standin import StandIn
from tests.standin.layout import DATES, SOUTH_DATES, SOUTH_TILE, TILES, decode, item_id

EAST_BOX = (-95.80, 41.30, -95.70, 41.36)  # only tile 15TTG
SMALL_EAST = (-95.72, 41.44, -95.69, 41.46)
NEBRASKA = (-96.05, 41.22, -95.93, 41.30)  # across lon -96: both tiles
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SAS token or Earthdata login carried over between tests."""
    clear_tokens()
    for var in ("EARTHDATA_TOKEN", "GEOFM_EARTHDATA_HOSTS", "GEOFM_CMR_STAC_URL"):
        monkeypatch.delenv(var, raising=False)
    yield
    clear_tokens()


def _scene(standin: StandIn, date_index: int, tile_index: int):
    return get_scenes([item_id(DATES[date_index], TILES[tile_index])], stac_url=standin.url)[0]


# ----------------------------------------------------------------------------- 1. signing at search time

def test_search_signs_hrefs_and_reads_with_the_token(standin: StandIn) -> None:
    standin.require_tokens(True)
    scenes = search_hls(AOI.from_bbox(*EAST_BOX), "2022-03-01", "2022-04-30", max_cloud=100, stac_url=standin.url)
    assert scenes and all(s.signer == "planetary-computer" for s in scenes)
    for s in scenes:
        for href in s.assets.values():
            assert blob_container(href).account == "hls2euwest" and "sig=" in href and "se=" in href
    assert standin.token_requests == 1  # one container: one token, cached for the rest
    stack = read_aoi([[scenes[0]]], AOI.from_bbox(*SMALL_EAST), use_cache=False)
    assert stack.data.shape[:2] == (1, 6) and (stack.data != -9999).all()
    # without our signing the blob host refuses: Azure's 409 PublicAccessNotPermitted
    bare = scenes[0].assets["B02"].split("?", 1)[0]
    r = requests.head(bare, timeout=5)
    assert r.status_code == 409 and r.headers["x-ms-error-code"] == "PublicAccessNotPermitted"


def test_raw_page_dicts_are_signed(standin: StandIn) -> None:
    href = f"{standin.blob_url}/e0/S30/x.B02.tif"
    page = {"type": "FeatureCollection", "features": [
        {"id": "a", "assets": {"B02": {"href": href}, "meta": {"href": "https://example.org/a.xml"}}}]}
    sign_in_place(page)  # pystac-client 0.9 calls its modifier with this dict
    signed = page["features"][0]["assets"]["B02"]["href"]
    assert signed.startswith(href + "?st=") and "sig=" in signed
    assert page["features"][0]["assets"]["meta"]["href"] == "https://example.org/a.xml"


def test_token_fetch_at_search_time_has_a_time_limit(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOFM_HTTP_TIMEOUT", "1")
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "0")
    standin.stall_next(1, 6.0, match="/api/sas/v1/token")
    t0 = time.perf_counter()
    with pytest.raises(ServiceError, match=r"data-token service \(no answer within 1 s\)"):
        search_hls(AOI.from_bbox(*EAST_BOX), "2022-03-01", "2022-04-30", stac_url=standin.url)
    assert time.perf_counter() - t0 < 3.5


def test_pre_expired_tokens_are_not_cached(standin: StandIn) -> None:
    standin.require_tokens(True)
    standin.set_token_lifetime(-30)  # reported on Planetary Computer: a token that has already expired
    scene = _scene(standin, 5, 1)
    standin.set_token_lifetime(3600)
    before = standin.token_requests
    stack = read_aoi([[scene]], AOI.from_bbox(*SMALL_EAST), use_cache=False)  # 403, re-signed once, read
    assert (stack.data != -9999).all()
    assert standin.token_requests == before + 1


# ----------------------------------------------------------------------------- 2. paging

def test_one_page_of_up_to_the_limit_and_no_next_link_needed(standin: StandIn) -> None:
    standin.set_paging(no_next=True, duplicates=True)
    aoi = AOI.from_bbox(*NEBRASKA)
    standin.reset_stats()
    scenes = search_hls(aoi, "2022-03-01", "2022-09-30", max_cloud=100, stac_url=standin.url)
    expected = {item_id(d, t) for d in DATES for t in TILES}
    assert {s.id for s in scenes} == expected and len(scenes) == len(expected) == 18


def test_pages_that_repeat_items_are_deduplicated(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("geofm.data.stac.STAC_PAGE_LIMIT", 5)  # as if more than 1000 items matched
    standin.set_paging(duplicates=True)
    client, endpoint = open_endpoint(standin.url)
    kw = dict(intersects=AOI.from_bbox(*NEBRASKA).to_geojson(), datetime="2022-03-01T00:00:00Z/2022-09-30T23:59:59Z")
    items = _search_items(client, endpoint, ["hls2-l30", "hls2-s30"], 18, **kw)
    ids = [it.id for it in items]
    assert len(ids) == len(set(ids)) == 18
    standin.set_paging(no_next=True, duplicates=True)  # the page has no next link: what came is what there is
    items = _search_items(client, endpoint, ["hls2-l30", "hls2-s30"], 18, **kw)
    assert len({it.id for it in items}) == 5


# ----------------------------------------------------------------------------- 3. CMR-STAC polygon winding

def test_cmr_gets_counter_clockwise_polygons(standin: StandIn) -> None:
    clockwise = {"type": "Polygon", "coordinates": [[[-95.8, 41.30], [-95.8, 41.36], [-95.7, 41.36], [-95.7, 41.30],
                                                     [-95.8, 41.30]]]}  # as Leaflet draws a rectangle
    raw = requests.post(standin.cmr_url + "/search", json={"collections": ["HLSS30_2.0"], "intersects": clockwise},
                        timeout=10)
    assert raw.status_code == 400 and "wrong order" in raw.text  # what CMR answers
    scenes = search_hls(AOI.from_geojson(clockwise), "2022-03-01", "2022-04-30", max_cloud=100,
                        stac_url=standin.cmr_url)
    assert {s.id for s in scenes} == {item_id(DATES[i], TILES[1]) for i in (0, 1, 2)}
    assert all(s.epsg is None and s.signer is None for s in scenes)  # CMR items carry no proj:*


# ----------------------------------------------------------------------------- 4. time limits

def test_stalled_stac_endpoint_ends_in_one_line_within_seconds(standin: StandIn,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOFM_HTTP_TIMEOUT", "2")
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "0")
    standin.stall_next(3, 20.0)  # accepts the connection and never answers
    t0 = time.perf_counter()
    with pytest.raises(ServiceError) as err:
        search_hls(AOI.from_bbox(*EAST_BOX), "2022-03-01", "2022-04-30", stac_url=standin.url)
    assert time.perf_counter() - t0 < 6
    assert "no answer within 2 s (1 try)" in err.value.user_message()


def test_stalled_endpoint_cli(standin: StandIn) -> None:
    standin.stall_next(3, 20.0)
    env = dict(os.environ, GEOFM_HTTP_TIMEOUT="2", GEOFM_HTTP_RETRIES="0", GEOFM_STAC_URL=standin.url)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "geofm", "search", "--bbox", *map(str, EAST_BOX), "--start",
                           "2022-03-01", "--end", "2022-04-30"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60)
    took = time.perf_counter() - t0
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("geofm: error: ") and "no answer within 2 s" in lines[0]
    assert "Traceback" not in proc.stderr and took < 20  # interpreter start-up and imports included


# ----------------------------------------------------------------------------- 5. throttling

def test_token_429_waits_as_asked(standin: StandIn) -> None:
    standin.require_tokens(True)
    standin.throttle_tokens(2, retry_after=1)
    t0 = time.perf_counter()
    scenes = search_hls(AOI.from_bbox(*EAST_BOX), "2022-03-01", "2022-04-30", stac_url=standin.url)
    assert time.perf_counter() - t0 >= 2.0  # the server's Retry-After, twice
    assert scenes and standin.token_requests == 3


def test_token_429_with_a_long_wait_says_busy_at_once(standin: StandIn) -> None:
    standin.require_tokens(True)
    standin.throttle_tokens(10, retry_after=600)
    clear_tokens()  # again, right before the search: a token a reader thread of an earlier test fetched late
    t0 = time.perf_counter()
    with pytest.raises(ServiceError) as err:
        search_hls(AOI.from_bbox(*EAST_BOX), "2022-03-01", "2022-04-30", stac_url=standin.url)
    assert time.perf_counter() - t0 < 5  # the wait would pass our bound: no point waiting
    text = err.value.user_message()
    assert "busy" in text and "about 600 seconds" in text and "down" not in text


def test_blob_503_server_busy_is_waited_out(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "0")
    scene = _scene(standin, 5, 1)
    standin.busy_next(1, match=".B04.tif")
    stack = read_aoi([[scene]], AOI.from_bbox(*SMALL_EAST), use_cache=False)
    assert {decode(v)["band"] for v in stack.data[0, 2].ravel()} == {2}
    assert standin.stats.faults_served == 1
    standin.new_epoch()
    scene = _scene(standin, 5, 1)
    standin.busy_next(1000, match=".B04.tif")
    with pytest.raises(ServiceError) as err:
        read_aoi([[scene]], AOI.from_bbox(*SMALL_EAST), use_cache=False)
    assert err.value.status_code == 503
    assert "busy (HTTP 503)" in str(err.value) and "down" not in err.value.user_message()


def test_fmask_pass_limits_its_concurrency(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    scenes = search_hls(AOI.from_bbox(*NEBRASKA), "2022-03-01", "2022-09-30", max_cloud=100, stac_url=standin.url)
    assert len(scenes) == 18
    standin.set_latency(0.05)
    live, peak = [0], [0]
    lock = threading.Lock()
    real = reader_mod.read_fmask

    def counted(scene, grid):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        try:
            return real(scene, grid)
        finally:
            with lock:
                live[0] -= 1

    monkeypatch.setattr(reader_mod, "read_fmask", counted)
    fill_clear_fractions(scenes, AOI.from_bbox(*NEBRASKA))
    assert all(s.clear_fraction is not None for s in scenes)
    assert 1 < peak[0] <= FMASK_PASS_CONCURRENCY < reader_mod.MAX_WORKERS


# ----------------------------------------------------------------------------- 6. corrupt data

def test_corrupt_cog_is_an_error_not_pixels_and_is_never_cached(standin: StandIn) -> None:
    scene = _scene(standin, 5, 1)
    name = scene.assets["B04"].split("?")[0].rsplit("/", 1)[-1]
    standin.corrupt_file(name)
    aoi = AOI.from_bbox(*SMALL_EAST)
    t0 = time.perf_counter()
    with pytest.raises(ServiceError, match=r"is damaged: its pixels do not decode") as err:
        read_aoi([[scene]], aoi)
    assert time.perf_counter() - t0 < 5 and "slow or down" not in err.value.user_message()  # not retried 8 times
    gets = [r for r in standin.stats.requests_log if r[1] == name and r[0] == "GET"]
    assert len(gets) <= 4
    cache_dir = Path(os.environ["GEOFM_CACHE_DIR"]) / "stacks"
    assert not list(cache_dir.glob("*.npz")) if cache_dir.exists() else True
    standin.restore_file(name)  # the file is fixed: the next run reads good pixels
    standin.new_epoch()
    stack = read_aoi([[_scene(standin, 5, 1)]], aoi)
    assert {decode(v)["band"] for v in stack.data[0, 2].ravel()} == {2}


def test_a_tile_whose_second_half_is_zeroed_is_damaged_not_a_wrong_map(standin: StandIn, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Zeroing a deflate tile's second half leaves a stream that inflates to the tile's size without ending:
    GDAL returns those pixels without a word. Where the tile bytes are at hand (reads through GDAL's cache, as
    region workers do; local files) the stream must end (marker + checksum) right after the tile."""
    import rasterio

    from geofm.data import net
    from geofm.data.reader import read_band
    from geofm.data.tilecheck import check_stream

    monkeypatch.setattr(net, "_KEEP_BLOCKS", [64 << 20])  # reads through the /vsicurl/ cache
    scene = _scene(standin, 5, 1)
    name = scene.assets["B04"].split("?")[0].rsplit("/", 1)[-1]
    aoi = AOI.from_bbox(*SMALL_EAST)
    good = read_aoi([[scene]], aoi, use_cache=False)
    standin.corrupt_file(name, kind="zero-half")
    standin.new_epoch()
    t0 = time.perf_counter()
    with pytest.raises(ServiceError, match=r"is damaged: its pixels do not decode"):
        read_aoi([[_scene(standin, 5, 1)]], aoi)
    print(f"zeroed half tile: refused after {time.perf_counter() - t0:.2f} s")
    cache_dir = Path(os.environ["GEOFM_CACHE_DIR"]) / "stacks"
    assert not list(cache_dir.glob("*.npz")) if cache_dir.exists() else True  # nothing cached
    standin.restore_file(name)
    standin.new_epoch()
    again = read_aoi([[_scene(standin, 5, 1)]], aoi)
    assert np.array_equal(again.data, good.data)  # the repaired file reads as before

    # a local file (a reference or an input GeoTIFF) with one such tile
    from tests.standin.server import corrupt_copy

    disk = standin.state.aliases.get(name, name)
    local = corrupt_copy(standin.folder / "files" / disk, "zero-half")
    with rasterio.open(local) as src:
        grid = Grid(src.crs, src.transform, 300, 300)
    with pytest.raises(ServiceError, match=r"is damaged: its pixels do not decode"):
        read_band(str(local), grid, nodata=-9999)
    assert read_band(str(standin.folder / "files" / disk), grid, nodata=-9999).shape == (300, 300)

    # the rule on its own: an intact tile passes, the same tile with its second half zeroed does not
    import zlib

    tile = zlib.compress(np.arange(256 * 256, dtype=np.int16).tobytes(), 1)
    assert check_stream(tile, 256 * 256 * 2) is None
    assert check_stream(tile[:len(tile) // 2] + bytes(len(tile) - len(tile) // 2), 256 * 256 * 2) is not None


# ----------------------------------------------------------------------------- 7. cache in the read path

def test_damaged_cache_entry_is_read_again(standin: StandIn) -> None:
    scene = _scene(standin, 5, 1)
    aoi = AOI.from_bbox(*SMALL_EAST)
    first = read_aoi([[scene]], aoi)
    entry = next((Path(os.environ["GEOFM_CACHE_DIR"]) / "stacks").glob("*.npz"))
    entry.write_bytes(entry.read_bytes()[:1000])  # truncated (a crash, a full disk)
    standin.new_epoch()  # new hrefs: nothing in GDAL's or the Fmask memory of this process
    scene = _scene(standin, 5, 1)
    standin.reset_stats()
    again = read_aoi([[scene]], aoi)
    assert standin.stats.file_bytes > 0  # read from the network again, not a traceback
    assert np.array_equal(first.data, again.data)
    standin.reset_stats()
    read_aoi([[scene]], aoi)
    assert standin.stats.file_bytes == 0  # and cached again


def test_a_failed_cache_write_never_fails_the_run(standin: StandIn, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    (tmp_path / "blocked").mkdir()
    (tmp_path / "blocked" / "stacks").write_text("not a folder")
    monkeypatch.setenv("GEOFM_CACHE_DIR", str(tmp_path / "blocked"))
    stack = read_aoi([[_scene(standin, 5, 1)]], AOI.from_bbox(*SMALL_EAST))
    assert (stack.data != -9999).all()


# ----------------------------------------------------------------------------- 8. secrets

def test_expired_token_message_holds_no_secret(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    standin.require_tokens(True)
    scene = _scene(standin, 5, 1)
    standin.expire_tokens()
    monkeypatch.setattr("geofm.data.reader.RESIGNERS", {})  # no re-signing: the 403 reaches the user
    with pytest.raises(AuthError) as err:
        read_aoi([[scene]], AOI.from_bbox(*SMALL_EAST), use_cache=False)
    text = err.value.user_message()
    assert "HTTP 403" in text
    for secret in ("sig=", "se=", "st=", "skoid", scene.assets["B02"].split("?")[1][:20]):
        assert secret not in text


def test_unsigned_blob_read_409_is_signed_and_read(standin: StandIn) -> None:
    """Azure answers 409 PublicAccessNotPermitted to a blob read with no token: sign it and read."""
    standin.require_tokens(True)
    scene = _scene(standin, 5, 1)
    scene.assets = {k: v.split("?")[0] for k, v in scene.assets.items()}  # as printed by `geofm search --json`
    stack = read_aoi([[scene]], AOI.from_bbox(*SMALL_EAST), use_cache=False)
    assert {decode(v)["band"] for v in stack.data[0, 4].ravel()} == {4}


def test_stac_hrefs_must_be_web_links() -> None:
    import pystac

    from geofm.data.scene import Scene

    for bad in ("/etc/passwd", "file:///etc/passwd", "/vsicurl/http://x/y.tif", "/vsizip//tmp/a.zip/b.tif"):
        item = pystac.Item("HLS.S30.T15TTG.2022081T171900.v2.0", None, None,
                           __import__("datetime").datetime(2022, 3, 22), {"eo:cloud_cover": 1.0})
        for key in ("B02", "B03", "B04", "B8A", "B11", "B12", "Fmask"):
            item.add_asset(key, pystac.Asset(f"https://example.org/{key}.tif"))
        item.assets["B04"].href = bad
        with pytest.raises(ServiceError, match="not a web address"):
            Scene.from_item(item, "S30")


def test_earthdata_token_never_reaches_other_hosts(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARTHDATA_TOKEN", standin.earthdata_token)
    monkeypatch.setenv("GEOFM_EARTHDATA_HOSTS", standin.data_host)
    aoi = AOI.from_bbox(*SMALL_EAST)
    read_aoi([[_scene(standin, 5, 1)]], aoi, use_cache=False)  # Planetary Computer mode: blobs on 127.0.0.1
    assert not [r for r in standin.host_requests("pc") if r.authorization]
    cmr = search_hls(aoi, "2022-07-01", "2022-07-31", stac_url=standin.cmr_url)
    stack = read_aoi([[cmr[0]]], aoi, use_cache=False)  # CMR mode: COGs on the Earthdata data host
    assert {decode(v)["band"] for v in stack.data[0, 5].ravel()} == {5}
    data = [r for r in standin.host_requests("data") if r.path.startswith("/lp-prot")]
    assert data and all(r.authorization == "Bearer" for r in data)
    assert not [r for r in standin.host_requests("pc") if r.authorization]


def test_earthdata_login_by_netrc_and_cookie(standin: StandIn, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    if standin.data_host == "127.0.0.1":
        pytest.fail("the stand-in could not bind 127.0.0.2; the login flow needs separate hosts")
    monkeypatch.setenv("HOME", str(tmp_path))
    netrc = tmp_path / ".netrc"
    netrc.write_text(standin.netrc_text())
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    aoi = AOI.from_bbox(*SMALL_EAST)
    cmr = search_hls(aoi, "2022-07-01", "2022-07-31", stac_url=standin.cmr_url)
    monkeypatch.setenv("GEOFM_EARTHDATA_HOSTS", f"{standin.data_host},{standin.login_host}")
    stack = read_aoi([[cmr[0]]], aoi, use_cache=False)
    assert {decode(v)["band"] for v in stack.data[0, 0].ravel()} == {0}
    logins = standin.host_requests("login")
    assert logins and any(r.authorization == "Basic" for r in logins)
    jar = tmp_path / ".cache" / "geofm" / "earthdata-cookies.txt"
    assert jar.exists() and oct(jar.stat().st_mode & 0o777) == "0o600"


# ----------------------------------------------------------------------------- 10. thumbnails, southern tiles

def test_expired_thumbnail_links_are_re_signed(standin: StandIn) -> None:
    standin.require_tokens(True)
    standin.set_token_lifetime(30)  # inside our one-minute margin: treated as expired
    scene = _scene(standin, 5, 1)
    assert scene.thumbnail and scene.thumbnail.split("?")[0].endswith(".jpg")
    standin.set_token_lifetime(3600)
    fresh = fresh_href(scene.thumbnail)
    assert fresh != scene.thumbnail and "sig=" in fresh
    r = requests.get(fresh, timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    assert fresh_href(fresh) == fresh  # still good: left alone


def test_no_subscription_key_hint_anywhere() -> None:
    for path in (ROOT / "geofm").rglob("*.py"):
        assert "SUBSCRIPTION_KEY" not in path.read_text(), path


def test_southern_tile_in_the_northern_zone(standin: StandIn) -> None:
    lon0, lat0 = 150.90, -33.75
    aoi = AOI.from_bbox(lon0, lat0, lon0 + 0.05, lat0 + 0.04)
    scenes = search_hls(aoi, "2023-03-01", "2023-05-31", max_cloud=100, stac_url=standin.url)
    assert {s.id for s in scenes} == {item_id(d, SOUTH_TILE) for d in SOUTH_DATES}
    assert {s.epsg for s in scenes} == {32656}  # NASA's items say 326xx south of the equator too
    first = next(s for s in scenes if s.datetime.month == 3)
    stack = read_aoi([[first]], aoi, use_cache=False)
    grid = Grid.for_aoi(aoi)
    assert grid.crs.to_epsg() == 32756  # the area's own UTM zone (south)
    inside = grid.area_mask(aoi)
    vals = stack.data[0, 3][inside]
    assert (vals != -9999).all() and {decode(v)["band"] for v in vals} == {3}
    assert {decode(v)["date"] for v in vals} == {0}


# ----------------------------------------------------------------------------- coverage: the 2020 start

def test_pre_2020_dates_on_planetary_computer_name_the_start(standin: StandIn,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    with pytest.raises(CoverageError) as err:
        search_hls(AOI.from_bbox(*EAST_BOX), "2019-06-01", "2019-08-31", stac_url=standin.url)
    text = err.value.user_message()
    assert "starts on 2020-01-01" in text and "2019-06-01" in text and "Earthdata" in text


def test_pre_2020_dates_go_to_cmr_with_an_earthdata_login(standin: StandIn,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARTHDATA_TOKEN", standin.earthdata_token)
    monkeypatch.setenv("GEOFM_CMR_STAC_URL", standin.cmr_url)
    monkeypatch.setenv("GEOFM_EARTHDATA_HOSTS", standin.data_host)
    aoi = AOI.from_bbox(*SMALL_EAST)
    scenes = search_hls(aoi, "2019-06-01", "2019-08-31", stac_url=standin.url)
    assert [s.id for s in scenes] == [s.id for s in scenes if "2019" in s.id] and len(scenes) == 1
    assert scenes[0].collection == "HLSS30_2.0"
    stack = read_aoi([[scenes[0]]], aoi, use_cache=False)
    assert {decode(v)["band"] for v in stack.data[0, 1].ravel()} == {1}


def test_pre_2020_dates_cli_one_line(standin: StandIn, tmp_path: Path) -> None:
    env = dict(os.environ, GEOFM_STAC_URL=standin.url, NETRC=str(tmp_path / "none"), HOME=str(tmp_path))
    env.pop("EARTHDATA_TOKEN", None)
    proc = subprocess.run([sys.executable, "-m", "geofm", "search", "--bbox", *map(str, EAST_BOX), "--start",
                           "2019-06-01", "--end", "2019-08-31"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "starts on 2020-01-01" in lines[0], proc.stderr


def test_a_failed_read_leaves_nothing_running_behind_it(standin: StandIn) -> None:
    """When one band fails, the read waits for its other bands under way before it raises: none of them goes on
    fetching, re-signing or caching after the caller has the error (such a straggler re-signed a token into the
    cache while the next test was running: the flaky token test of stop 23)."""
    scene = _scene(standin, 5, 1)
    standin.set_latency(0.4)  # each request takes a while: the other bands are mid-read when B02 fails
    standin.fail_next(1, status=404, match=".B02.tif")
    with pytest.raises(ServiceError):
        read_aoi([[scene]], AOI.from_bbox(*SMALL_EAST), use_cache=False)
    at_error = standin.stats.file_requests
    time.sleep(2.0)
    assert standin.stats.file_requests == at_error  # nothing of the failed read came after its error
