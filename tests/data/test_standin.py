"""The stand-in itself: startable outside pytest, and like the real services where geofm meets them —
NASA's COG layout and STAC items (Planetary Computer and CMR-STAC shapes), Planetary Computer's SAS tokens
and Azure's errors, paging quirks, CMR's polygon rule and the Earthdata login flow."""

from __future__ import annotations

import base64
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
from PIL import Image
from pystac_client import Client
from shapely.geometry import shape

from tests.standin import StandIn
from tests.standin.layout import (
    ALL_DATES,
    ALL_TILES,
    BURN_DN,
    HERMITS_DATES,
    HERMITS_TILE,
    SF_DATES,
    SF_TILE,
    WATER_DN,
    DATES,
    SINDH_DATES,
    SINDH_TILE,
    SOUTH_DATES,
    SOUTH_TILE,
    TILE_PX,
    TILES,
    decode,
    item_id,
)

ROOT = Path(__file__).resolve().parents[2]
OMAHA_BOX = [-96.05, 41.22, -95.93, 41.30]


def _search(url: str, **body) -> requests.Response:
    return requests.post(f"{url}/search", json=body, timeout=10)


def _one(url: str, iid: str) -> dict:
    feats = _search(url, ids=[iid]).json()["features"]
    assert len(feats) == 1
    return feats[0]


def _file(s: StandIn, iid: str, asset: str) -> Path:
    return s.folder / "files" / f"{iid}.{asset}.tif"


def test_python_m_tests_standin_prints_its_url(stac_standin: StandIn) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.standin", "--port", "0", "--dir", str(stac_standin.folder)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        landing = requests.get(url + "/", timeout=10).json()
        assert any(link["rel"] == "search" and link.get("method") == "POST" for link in landing["links"])
        cols = requests.get(url + "/collections", timeout=10).json()["collections"]
        assert [c["id"] for c in cols] == ["hls2-l30", "hls2-s30", "esa-worldcover", "jrc-gsw", "usda-cdl"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cogs_ranges_and_thumbnail(standin: StandIn) -> None:
    iid = item_id(DATES[1], TILES[1])
    href = _one(standin.url, iid)["assets"]["B8A"]["href"]
    assert href.startswith(f"{standin.blob_url}/e") and href.endswith(f"/S30/15/T/TG/2022/03/22/{iid}/{iid}.B8A.tif")
    head = requests.head(href, timeout=10)
    size = int(head.headers["Content-Length"])
    assert head.headers["x-ms-blob-type"] == "BlockBlob"
    part = requests.get(href, headers={"Range": "bytes=0-99"}, timeout=10)
    assert part.status_code == 206 and len(part.content) == 100 and part.content[:4] in (b"II*\x00", b"II+\x00")
    assert part.headers["Content-Range"] == f"bytes 0-99/{size}"
    multi = requests.get(href, headers={"Range": "bytes=0-9,20-29"}, timeout=10)
    assert multi.status_code == 206 and multi.headers["Content-Type"].startswith("multipart/byteranges")
    assert standin.stats.file_bytes >= 100
    with rasterio.open(_file(standin, iid, "B8A")) as src:
        assert src.shape == (TILE_PX, TILE_PX) and src.nodata == -9999
        v = src.read(1, window=((100, 101), (200, 201)))[0, 0]
    assert decode(v) == {"band": 3, "date": 1, "tile": 1, "pos": (200 // 16 + 100 // 16) % 25}
    thumb = requests.get(_one(standin.url, iid)["assets"]["thumbnail"]["href"], timeout=10)
    assert thumb.headers["Content-Type"] == "image/jpeg" and thumb.content[:3] == b"\xff\xd8\xff"
    img = Image.open(BytesIO(thumb.content))
    assert img.format == "JPEG" and np.asarray(img).shape == (183, 183, 3)


# ------------------------------------------------------------------------------------------- NASA's files

def test_cogs_are_laid_out_like_nasas(stac_standin: StandIn) -> None:
    """deflate + predictor 2, 256-px blocks, overviews with 128-px blocks, a CRS without an EPSG code,
    scale_factor on (most) bands, fills -9999 / 255."""
    iid = item_id(DATES[5], TILES[0])
    with rasterio.open(_file(stac_standin, iid, "B02")) as src:
        assert src.dtypes[0] == "int16" and src.nodata == -9999
        assert src.compression.value == "DEFLATE" and src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "2"
        assert src.block_shapes == [(256, 256)] and src.overviews(1) == [2, 4, 8]
        assert src.crs.to_epsg() is None  # written like NASA's: UTM on the WGS 84 ellipsoid, no EPSG code
        assert "UTM Zone 14, Northern Hemisphere" in src.crs.to_wkt()
        assert src.tags(1)["scale_factor"] == "0.0001" and src.scales == (0.0001,)
    with rasterio.open(_file(stac_standin, iid, "B02"), OVERVIEW_LEVEL=0) as ovr:
        assert ovr.block_shapes == [(128, 128)] and ovr.shape == (TILE_PX // 2, TILE_PX // 2)
    with rasterio.open(_file(stac_standin, iid, "Fmask")) as fm:
        assert fm.dtypes[0] == "uint8" and fm.nodata == 255 and fm.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "2"
    with rasterio.open(_file(stac_standin, item_id(DATES[6], TILES[0]), "B04")) as unscaled:
        assert "scale_factor" not in unscaled.tags(1)  # some real granules lack it


def test_southern_tile_uses_the_northern_zone_with_negative_northings(standin: StandIn) -> None:
    iid = item_id(SOUTH_DATES[0], SOUTH_TILE)
    item = _one(standin.url, iid)
    assert item["properties"]["proj:epsg"] == 32656  # NASA's items: always 326xx
    t = item["properties"]["proj:transform"]
    assert t[5] < 0 and t[5] - 30 * item["properties"]["proj:shape"][0] < -3_700_000
    lon, lat = shape(item["geometry"]).centroid.coords[0]
    assert 150.8 < lon < 151.1 and -33.9 < lat < -33.5
    with rasterio.open(_file(standin, iid, "B02")) as src:
        assert src.bounds.top < 0 and src.crs.to_epsg() is None and "Northern Hemisphere" in src.crs.to_wkt()


def test_sindh_tile_has_a_large_flood(stac_standin: StandIn) -> None:
    iid = item_id(SINDH_DATES[1], SINDH_TILE)
    with rasterio.open(_file(stac_standin, iid, "Fmask")) as fm_src:
        fm = fm_src.read(1)
        assert fm_src.crs.to_wkt().startswith('PROJCS["UTM Zone 42, Northern Hemisphere"')
    water = (fm & 32) != 0
    assert 0.25 < water.mean() < 0.75
    with rasterio.open(_file(stac_standin, iid, "B05")) as nir_src:  # L30: B05 is NIR
        nir = nir_src.read(1)
    assert nir[water].max() <= 301 and nir[~water].min() >= 4000  # dark water in NIR


# ------------------------------------------------------------------------------------------- item shapes

def test_planetary_computer_items_are_nasas_items(standin: StandIn) -> None:
    s30 = _one(standin.url, item_id(DATES[1], TILES[1]))
    l30 = _one(standin.url, item_id(DATES[2], TILES[1]))
    p = s30["properties"]
    assert p["datetime"] == p["start_datetime"] == "2022-03-22T17:19:00.000000Z" and p["end_datetime"] > p["datetime"]
    assert p["platform"] == "sentinel-2a" and p["instruments"] == ["msi"]
    assert l30["properties"]["platform"] == "landsat-9" and l30["properties"]["instruments"] == ["oli", "tirs"]
    assert p["proj:epsg"] == 32615 and p["proj:shape"] == [TILE_PX, TILE_PX]
    assert p["proj:transform"][:6] == [30.0, 0.0, 240000.0, 0.0, -30.0, 4609920.0]
    assert {"view:sun_elevation", "view:sun_azimuth", "view:azimuth", "sci:doi", "eo:cloud_cover"} <= set(p)
    assert not [k for k in p if k.startswith("mgrs:")] and s30["geometry"]["type"] == "MultiPolygon"
    assert set(s30["assets"]) == {"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
                                  "B11", "B12", "Fmask", "SZA", "SAA", "VZA", "VAA", "thumbnail"}
    assert set(l30["assets"]) == {"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B09", "B10", "B11", "Fmask",
                                  "SZA", "SAA", "VZA", "VAA", "thumbnail"}
    assert s30["assets"]["thumbnail"]["type"] == "image/jpeg" and "raster:bands" not in s30["assets"]["B02"]
    page = _search(standin.url, bbox=OMAHA_BOX).json()
    assert "numberMatched" not in page and "context" not in page  # Planetary Computer does not count


def test_planetary_computer_record_starts_in_2020(standin: StandIn) -> None:
    for cid in ("hls2-l30", "hls2-s30"):
        col = requests.get(f"{standin.url}/collections/{cid}", timeout=10).json()
        assert col["extent"]["temporal"]["interval"] == [["2020-01-01T00:00:00Z", None]]
    old = _search(standin.url, bbox=OMAHA_BOX, datetime="2013-01-01T00:00:00Z/2019-12-31T23:59:59Z").json()
    assert old["features"] == []  # ... while CMR has 2019 here
    cmr_old = _search(standin.cmr_url, bbox=OMAHA_BOX, datetime="2013-01-01T00:00:00Z/2019-12-31T23:59:59Z")
    assert [f["id"] for f in cmr_old.json()["features"]] == ["HLS.S30.T15TTG.2019189T171900.v2.0",
                                                             "HLS.S30.T14TQL.2019189T171900.v2.0"]


def test_cmr_items_and_collections(standin: StandIn) -> None:
    cols = {c["id"]: c for c in requests.get(f"{standin.cmr_url}/collections", timeout=10).json()["collections"]}
    assert cols["HLSL30_2.0"]["extent"]["temporal"]["interval"][0][0].startswith("2013-04-11")
    assert cols["HLSS30_2.0"]["extent"]["temporal"]["interval"][0][0].startswith("2015-11-28")
    conf = requests.get(f"{standin.cmr_url}/conformance", timeout=10).json()["conformsTo"]
    assert any(c.endswith("item-search#query") for c in conf) and not any("cql2" in c for c in conf)
    item = _one(standin.cmr_url, item_id(DATES[1], TILES[1]))
    assert item["collection"] == "HLSS30_2.0" and item["properties"]["datetime"] == "2022-03-22T17:19:00.000Z"
    assert set(item["properties"]) == {"datetime", "start_datetime", "end_datetime", "eo:cloud_cover",
                                       "storage:schemes"}
    assert {"B02", "B8A", "Fmask", "browse", "thumbnail"} <= set(item["assets"])
    assert item["assets"]["B02"]["href"].startswith(f"{standin.data_url}/lp-prot/")
    assert item["assets"]["browse"]["href"].endswith(".jpg")
    pc_item = _one(standin.url, item_id(DATES[1], TILES[1]))
    assert pc_item["properties"]["eo:cloud_cover"] == item["properties"]["eo:cloud_cover"]  # the same scene
    page = _search(standin.cmr_url, bbox=OMAHA_BOX, limit=2).json()
    assert page["numberReturned"] == 2 and page["numberMatched"] > 2


def test_cmr_rejects_clockwise_polygons(standin: StandIn) -> None:
    ring = [[-96.0, 41.2], [-95.9, 41.2], [-95.9, 41.3], [-96.0, 41.3], [-96.0, 41.2]]  # counter-clockwise
    ok = _search(standin.cmr_url, intersects={"type": "Polygon", "coordinates": [ring]})
    assert ok.status_code == 200 and ok.json()["features"]
    bad = _search(standin.cmr_url, intersects={"type": "Polygon", "coordinates": [ring[::-1]]})
    assert bad.status_code == 400
    assert bad.json() == {"errors": [("The polygon boundary points are listed in the wrong order. Points must be "
                                      "provided in counter-clockwise order.")]}
    pc = _search(standin.url, intersects={"type": "Polygon", "coordinates": [ring[::-1]]})
    assert pc.status_code == 200 and pc.json()["features"]  # Planetary Computer does not mind
    assert _search(standin.cmr_url, filter={"op": "<", "args": [{"property": "eo:cloud_cover"}, 5]}).status_code == 400


def test_cmr_flaky_answers_are_html_oops_pages(standin: StandIn) -> None:
    standin.fail_next(1, status=500, match="/stac/LPCLOUD/search")
    r = _search(standin.cmr_url, bbox=OMAHA_BOX)
    assert r.status_code == 500 and r.headers["Content-Type"].startswith("text/html") and "Oops!" in r.text
    assert _search(standin.cmr_url, bbox=OMAHA_BOX).status_code == 200
    standin.fail_next(1, status=500, match='"token": "next:')  # CMR's reported 500 on a next-page cursor
    first = _search(standin.cmr_url, bbox=OMAHA_BOX, limit=2).json()
    nxt = next(link for link in first["links"] if link["rel"] == "next")
    assert requests.post(nxt["href"], json=nxt["body"], timeout=10).status_code == 500
    assert requests.post(nxt["href"], json=nxt["body"], timeout=10).status_code == 200


# ------------------------------------------------------------------------------------------- PC signing

def test_sas_tokens_azure_errors_and_throttling(standin: StandIn) -> None:
    href = _one(standin.url, item_id(DATES[5], TILES[1]))["assets"]["B04"]["href"]
    assert "?" not in href  # items carry unsigned hrefs, like Planetary Computer's
    rng = {"Range": "bytes=0-15"}
    assert requests.get(href, headers=rng, timeout=10).status_code == 206  # tokens not required by default
    standin.require_tokens(True)
    anon = requests.get(href, headers=rng, timeout=10)
    assert anon.status_code == 409 and anon.headers["x-ms-error-code"] == "PublicAccessNotPermitted"
    body = requests.get(f"{standin.sas_url}/hls2euwest/hls2", timeout=10).json()
    assert set(body) == {"msft:expiry", "token"}
    fields = dict(kv.split("=", 1) for kv in body["token"].split("&"))
    assert {"st", "se", "sp", "sv", "sr", "sig"} <= set(fields) and fields["sr"] == "c" and fields["sp"] == "rl"
    signed = f"{href}?{body['token']}"
    assert requests.get(signed, headers=rng, timeout=10).status_code == 206
    standin.expire_tokens()
    denied = requests.get(signed, headers=rng, timeout=10)
    assert denied.status_code == 403 and denied.headers["x-ms-error-code"] == "AuthenticationFailed"
    assert denied.headers["Content-Type"] == "application/xml"
    assert "<Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request." in denied.text
    standin.set_token_lifetime(-60)  # pre-expired tokens, as has been reported
    stale = standin.sign(href)
    assert requests.get(stale, headers=rng, timeout=10).status_code == 403
    standin.set_token_lifetime(3600)
    other = f"{href}?{standin.token('otheraccount', 'hls2')['token']}"  # a token for another container
    assert requests.get(other, headers=rng, timeout=10).status_code == 403
    before = standin.token_requests
    standin.throttle_tokens(2, retry_after=7)
    for _ in range(2):
        r = requests.get(f"{standin.sas_url}/hls2euwest/hls2", timeout=10)
        assert r.status_code == 429 and r.headers["Retry-After"] == "7"
        assert "Rate limit is exceeded. Try again in 7 seconds." in r.text
    assert requests.get(f"{standin.sas_url}/hls2euwest/hls2", timeout=10).status_code == 200
    assert standin.token_requests - before == 3


def test_server_busy_bursts(standin: StandIn) -> None:
    href = _one(standin.url, item_id(DATES[5], TILES[1]))["assets"]["B04"]["href"]
    standin.busy_next(2, match=".B04.tif")
    for _ in range(2):
        r = requests.get(href, headers={"Range": "bytes=0-15"}, timeout=10)
        assert r.status_code == 503 and r.headers["x-ms-error-code"] == "ServerBusy"
        assert "<Code>ServerBusy</Code><Message>The server is busy." in r.text
    assert requests.get(href, headers={"Range": "bytes=0-15"}, timeout=10).status_code == 206


def test_corrupt_file_has_a_good_header_and_bad_tiles(standin: StandIn) -> None:
    iid = item_id(DATES[5], TILES[1])
    href = _one(standin.url, iid)["assets"]["B03"]["href"]
    name = f"{iid}.B03.tif"
    standin.corrupt_file(name)
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), rasterio.open("/vsicurl/" + href) as src:
        assert src.shape == (TILE_PX, TILE_PX)  # the header reads
        with pytest.raises(rasterio.errors.RasterioIOError):
            src.read(1, window=((0, 256), (0, 256)))
    standin.restore_file(name)
    standin.new_epoch()
    href = _one(standin.url, iid)["assets"]["B03"]["href"]
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), rasterio.open("/vsicurl/" + href) as src:
        assert decode(src.read(1, window=((0, 1), (0, 1)))[0, 0])["band"] == 1


def test_paging_quirks(standin: StandIn) -> None:
    def ids(limit: int) -> list[str]:
        return [it.id for it in Client.open(standin.url).search(bbox=OMAHA_BOX, limit=limit).items()]

    everything = ids(1000)
    assert len(everything) == len(set(everything)) == 2 * len(DATES)  # one page of up to 1000 holds all
    assert ids(4) == everything
    standin.set_paging(duplicates=True)
    dup = ids(4)
    assert len(dup) > len(everything) and sorted(set(dup)) == sorted(everything)
    standin.set_paging(no_next=True)
    assert ids(4) == everything[:4]  # no next link although more match
    assert ids(1000) == everything


def test_stall_holds_a_stac_request(standin: StandIn) -> None:
    standin.stall_next(1, 3.0, match="/search")
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{standin.url}/search", json={}, timeout=1)


# ------------------------------------------------------------------------------------------- Earthdata

def test_earthdata_bearer_token_and_login_redirect(standin: StandIn) -> None:
    href = _one(standin.cmr_url, item_id(DATES[1], TILES[1]))["assets"]["B02"]["href"]
    assert href.startswith(standin.data_url) and standin.data_host != "127.0.0.1"
    rng = {"Range": "bytes=0-15"}
    bearer = requests.get(href, headers={**rng, "Authorization": f"Bearer {standin.earthdata_token}"}, timeout=10)
    assert bearer.status_code == 206
    assert requests.get(href, headers={**rng, "Authorization": "Bearer nope"}, timeout=10).status_code == 401
    first = requests.get(href, headers=rng, allow_redirects=False, timeout=10)
    assert first.status_code == 302 and first.headers["Location"].startswith(f"{standin.login_url}/oauth/authorize?")
    assert requests.get(first.headers["Location"], allow_redirects=False, timeout=10).status_code == 401
    basic = base64.b64encode(f"{standin.earthdata_user}:{standin.earthdata_password}".encode()).decode()
    login = requests.get(first.headers["Location"], headers={"Authorization": f"Basic {basic}"},
                         allow_redirects=False, timeout=10)
    assert login.status_code == 302 and login.headers["Location"].startswith(f"{standin.data_url}/login?code=")
    session = requests.Session()
    back = session.get(login.headers["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302 and "urs_session" in session.cookies
    assert session.get(href, headers=rng, timeout=10).status_code == 206  # the cookie is enough now
    seen = {(r.host, r.authorization) for r in standin.host_requests()}
    assert ("data", "Bearer") in seen and ("login", "Basic") in seen and ("login", "Bearer") not in seen
    assert not [r for r in standin.host_requests("pc") if r.authorization]


def test_gdal_follows_the_earthdata_login_with_netrc_and_cookies(standin: StandIn, tmp_path: Path) -> None:
    href = _one(standin.cmr_url, item_id(DATES[1], TILES[1]))["assets"]["B02"]["href"]
    netrc = tmp_path / "netrc"
    netrc.write_text(standin.netrc_text())
    netrc.chmod(0o600)
    jar = tmp_path / "cookies"
    with rasterio.Env(GDAL_HTTP_NETRC_FILE=str(netrc), GDAL_HTTP_COOKIEFILE=str(jar), GDAL_HTTP_COOKIEJAR=str(jar),
                      GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), rasterio.open("/vsicurl/" + href) as src:
        assert decode(src.read(1, window=((0, 1), (0, 1)))[0, 0]) == {"band": 0, "date": 1, "tile": 1, "pos": 0}
    log = [(r.host, r.path.rsplit("/", 1)[-1], r.authorization, r.status) for r in standin.host_requests()]
    assert ("login", "authorize", "Basic", 302) in log  # basic auth went to the login host only
    assert not [row for row in log if row[0] == "data" and row[2]]
    assert "urs_session" in jar.read_text()


def test_all_tiles_are_searchable(standin: StandIn) -> None:
    for tile in ALL_TILES:
        lon, lat = shape(_one(standin.cmr_url, next(item_id(d, tile) for d in
                                                     ALL_DATES if not d.cmr_only
                                                     if tile.index in d.tiles))["geometry"]).centroid.coords[0]
        found = _search(standin.url, bbox=[lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01], limit=100).json()
        assert {f["id"].split(".")[2] for f in found["features"]} >= {f"T{tile.name}"}


def test_earthdata_data_host_can_redirect_to_presigned_s3(standin: StandIn) -> None:
    href = _one(standin.cmr_url, item_id(DATES[1], TILES[1]))["assets"]["B02"]["href"]
    standin.s3_redirect(True)
    rng = {"Range": "bytes=0-15"}
    auth = {"Authorization": f"Bearer {standin.earthdata_token}"}
    hop = requests.get(href, headers={**rng, **auth}, allow_redirects=False, timeout=10)
    assert hop.status_code == 307 and hop.headers["Location"].startswith(f"{standin.s3_url}/lp-prot/")
    assert "X-Amz-Signature=" in hop.headers["Location"]
    forwarded = requests.get(hop.headers["Location"], headers={**rng, **auth}, timeout=10)  # token sent on: refused
    assert forwarded.status_code == 400 and "<Code>InvalidArgument</Code>" in forwarded.text
    assert requests.get(hop.headers["Location"], headers=rng, timeout=10).status_code == 206
    assert requests.get(hop.headers["Location"].split("?")[0], headers=rng, timeout=10).status_code == 403
    s3_seen = [r.authorization for r in standin.host_requests("s3")]
    assert s3_seen == ["Bearer", "", ""]


def _band(standin: StandIn, iid: str, asset: str) -> np.ndarray:
    with rasterio.open(_file(standin, iid, asset)) as src:
        return src.read(1)


def test_sindh_flood_falls_through_october_and_one_date_is_clouded(standin: StandIn) -> None:
    """The series example's data: the flood's dark-NIR water shrinks date by date towards the lake."""
    later = [d for d in SINDH_DATES if d.when.strftime("%m-%d") >= "09-13"]
    assert len(later) == 6 and [d.extent for d in later] == sorted((d.extent for d in later), reverse=True)
    water = [int((_band(standin, item_id(d, SINDH_TILE), "B05" if d.sensor == "L30" else "B8A")
                  < 2 * WATER_DN[3]).sum()) for d in (SINDH_DATES[1], later[0], later[-1])]
    assert water[0] > water[1] > water[2] > 0.25 * water[0]
    clouded = [d for d in later if d.clouds and d.clouds[0].radius_km >= 8]
    assert len(clouded) == 1


def test_hermits_peak_burn_scar_and_san_francisco_bay(standin: StandIn) -> None:
    first = HERMITS_DATES[1]
    nir = _band(standin, item_id(first, HERMITS_TILE), "B8A")
    burnt = (nir >= BURN_DN[3]) & (nir <= BURN_DN[3] + 1)
    assert 0.05 < burnt.mean() < 0.5  # a scar over part of the tile, not the whole
    last = HERMITS_DATES[-1]
    nir_last = _band(standin, item_id(last, HERMITS_TILE), "B8A")
    assert ((nir_last >= BURN_DN[3]) & (nir_last <= BURN_DN[3] + 1)).sum() < burnt.sum()  # the rim greens
    fm = _band(standin, item_id(SF_DATES[1], SF_TILE), "Fmask")
    assert 0.1 < ((fm & 32) != 0).mean() < 0.6  # the bay east of the waterfront is water
    assert all(d.when.year == 2023 and 9 <= d.when.month <= 11 for d in SF_DATES)
