"""search_hls / get_scenes against the stand-in STAC API over real HTTP."""

from __future__ import annotations

import socket

import pytest

from geofm.config import MODEL_BANDS
from geofm.data import AOI, get_scenes, search_hls
from geofm.data.stac import open_endpoint, resign_planetary_computer
from geofm.errors import AuthError, InputError, NoScenesError, ServiceError
from tests.standin import StandIn
from tests.standin.layout import DATES, TILES, item_id

OMAHA_BOX = (-96.05, 41.22, -95.93, 41.30)  # across lon -96: both tiles
EAST_BOX = (-95.80, 41.30, -95.70, 41.36)  # only tile 15TTG


def _ids(scenes: list) -> list[str]:
    return [s.id for s in scenes]


def test_search_results_fields_and_order(standin: StandIn) -> None:
    scenes = search_hls(AOI.from_bbox(*OMAHA_BOX), "2022-03-01", "2022-09-30", stac_url=standin.url)
    # newest first; same time: least cloudy first. Excluded: the two dates over 30 % cloud.
    expected = []
    for d in sorted(DATES, key=lambda d: d.when, reverse=True):
        tiles = [t for t in TILES]
        rows = [(it["properties"]["eo:cloud_cover"], it["id"]) for it in standin.items
                if it["id"] in {item_id(d, t) for t in tiles}]
        expected += [i for c, i in sorted(rows) if c <= 30]
    assert _ids(scenes) == expected
    assert len(scenes) == 14
    s30 = next(s for s in scenes if s.id == "HLS.S30.T15TTG.2022081T171900.v2.0")
    assert (s30.sensor, s30.tile, s30.collection, s30.cloud_cover, s30.epsg) == ("S30", "15TTG", "hls2-s30", 0.0,
                                                                                  32615)
    assert s30.datetime.isoformat() == "2022-03-22T17:19:00+00:00"
    # the files' pixel grid, from the projection extension (9 numbers in PC's items: the first 6 kept)
    tile = next(t for t in TILES if t.name == "15TTG")
    assert s30.transform == (30.0, 0.0, tile.left, 0.0, -30.0, tile.top) and s30.shape == (tile.size, tile.size)
    assert sorted(s30.assets) == sorted([*MODEL_BANDS, "Fmask"])
    # S30's NIR narrow is B8A (not the red-edge B05), SWIR are B11/B12
    assert [s30.assets[b].rsplit(".", 2)[-2] for b in MODEL_BANDS] == ["B02", "B03", "B04", "B8A", "B11", "B12"]
    l30 = next(s for s in scenes if s.sensor == "L30")
    assert [l30.assets[b].rsplit(".", 2)[-2] for b in MODEL_BANDS] == ["B02", "B03", "B04", "B05", "B06", "B07"]
    assert s30.thumbnail and s30.thumbnail.split("?")[0].endswith(f"{s30.id}.jpg")
    assert s30.signer == "planetary-computer"  # the stand-in's PC mode: path-style blob hrefs, signed
    assert s30.to_dict()["datetime"] == "2022-03-22T17:19:00+00:00"


def test_area_dates_and_cloud_limit(standin: StandIn) -> None:
    east = search_hls(AOI.from_bbox(*EAST_BOX), "2022-03-01", "2022-04-30", max_cloud=100, stac_url=standin.url)
    assert _ids(east) == ["HLS.L30.T15TTG.2022097T171500.v2.0", "HLS.S30.T15TTG.2022081T171900.v2.0",
                          "HLS.L30.T15TTG.2022073T171500.v2.0"]
    clear = search_hls(AOI.from_bbox(*EAST_BOX), "2022-03-01", "2022-04-30", max_cloud=10, stac_url=standin.url)
    assert _ids(clear) == ["HLS.S30.T15TTG.2022081T171900.v2.0"]
    poly = {"type": "Polygon", "coordinates": [[[-95.8, 41.3], [-95.7, 41.3], [-95.75, 41.36], [-95.8, 41.3]]]}
    assert _ids(search_hls(AOI.from_geojson(poly), "2022-03-01", "2022-04-30", max_cloud=100,
                           stac_url=standin.url)) == _ids(east)


@pytest.mark.parametrize("mode", ["query", "filter", "none"])
def test_cloud_filter_as_query_extension_cql2_or_client_side(standin: StandIn, mode: str) -> None:
    standin.set_conformance(mode)
    got = search_hls(AOI.from_bbox(*EAST_BOX), "2022-03-01", "2022-09-30", max_cloud=10, stac_url=standin.url)
    assert [s.cloud_cover <= 10 for s in got] == [True] * len(got) and len(got) == 5


def test_paging_follows_next_links(standin: StandIn) -> None:
    all_ = search_hls(AOI.from_bbox(*OMAHA_BOX), "2022-03-01", "2022-09-30", max_cloud=100, stac_url=standin.url)
    standin.reset_stats()
    few = search_hls(AOI.from_bbox(*OMAHA_BOX), "2022-03-01", "2022-09-30", max_cloud=100, stac_url=standin.url,
                     limit=5)
    assert len(all_) == 18 and len(few) == 5 and set(_ids(few)) <= set(_ids(all_))
    assert [s.datetime for s in few] == sorted((s.datetime for s in few), reverse=True)
    from pystac_client import Client

    client = Client.open(standin.url)
    get_ids = [it.id for it in client.search(collections=["hls2-l30", "hls2-s30"], bbox=list(OMAHA_BOX),
                                             datetime="2022-03-01/2022-09-30", limit=4, method="GET").items()]
    post_ids = [it.id for it in client.search(collections=["hls2-l30", "hls2-s30"], bbox=list(OMAHA_BOX),
                                              datetime="2022-03-01/2022-09-30", limit=4, method="POST").items()]
    assert len(get_ids) == len(post_ids) == 18 and sorted(get_ids) == sorted(_ids(all_))


def test_collections_one_at_a_time_when_combined_search_is_empty(standin: StandIn) -> None:
    standin.single_collection_only(True)
    got = search_hls(AOI.from_bbox(*EAST_BOX), "2022-03-01", "2022-04-30", max_cloud=100, stac_url=standin.url)
    assert len(got) == 3 and {s.sensor for s in got} == {"L30", "S30"}


def test_flavour_detected_from_collections(standin: StandIn) -> None:
    _, endpoint = open_endpoint(standin.url)
    assert endpoint.flavour == "planetary-computer" and endpoint.sign
    assert endpoint.collections == {"L30": "hls2-l30", "S30": "hls2-s30"}


def test_no_scenes_suggests_wider_dates(standin: StandIn) -> None:
    with pytest.raises(NoScenesError) as e:
        search_hls(AOI.from_bbox(*EAST_BOX), "2021-06-01", "2021-06-30", stac_url=standin.url)
    assert "No HLS scenes" in str(e.value) and "wider date range" in e.value.user_message()
    with pytest.raises(NoScenesError):  # outside the stand-in's tiles
        search_hls(AOI.from_bbox(-100.1, 41.2, -100.0, 41.3), "2022-03-01", "2022-09-30", stac_url=standin.url)
    with pytest.raises(InputError, match="end date 2022-03-01 is before the start date 2022-04-01"):
        search_hls(AOI.from_bbox(*EAST_BOX), "2022-04-01", "2022-03-01", stac_url=standin.url)


def test_service_errors(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "1")
    monkeypatch.setenv("GEOFM_HTTP_TIMEOUT", "1")
    aoi = AOI.from_bbox(*EAST_BOX)
    standin.fail_next(100, status=500, match="/search")
    with pytest.raises(ServiceError, match=r"failed \(HTTP 500\) after 1 retries"):
        search_hls(aoi, "2022-03-01", "2022-04-30", stac_url=standin.url)
    assert standin.stats.faults_served == 2  # first try + one retry
    standin.clear_faults()
    standin.fail_next(1, status=503, match="/search")  # transient: the retry succeeds
    assert len(search_hls(aoi, "2022-03-01", "2022-04-30", stac_url=standin.url)) == 2
    standin.clear_faults()
    standin.fail_next(1, status=401, match="/")
    with pytest.raises(AuthError, match=r"needs a login \(HTTP 401\)"):
        search_hls(aoi, "2022-03-01", "2022-04-30", stac_url=standin.url)
    standin.fail_next(1, status=403, match="/")
    with pytest.raises(AuthError, match=r"refused access \(HTTP 403\)"):
        search_hls(aoi, "2022-03-01", "2022-04-30", stac_url=standin.url)
    standin.fail_next(1, status=400, match="/search")
    with pytest.raises(ServiceError, match=r"rejected the search \(HTTP 400\)"):
        search_hls(aoi, "2022-03-01", "2022-04-30", stac_url=standin.url)
    standin.stall_next(2, 2.5, match="/")
    with pytest.raises(ServiceError, match=r"Cannot reach the STAC service at .*: (no answer within 1 s|the "
                                           r"connection was dropped) \(2 tries\)"):
        search_hls(aoi, "2022-03-01", "2022-04-30", stac_url=standin.url)


def test_unreachable_endpoint_and_bad_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    with pytest.raises(ServiceError) as e:
        search_hls(AOI.from_bbox(*EAST_BOX), "2022-03-01", "2022-04-30", stac_url=f"http://127.0.0.1:{port}")
    assert f"Cannot reach the STAC service at http://127.0.0.1:{port}: connection refused" in str(e.value)
    assert "Check the network connection" in e.value.user_message()
    assert "GEOFM_STAC_URL" not in e.value.user_message()  # operator details go to the log
    with pytest.raises(InputError, match="not an http"):
        search_hls(AOI.from_bbox(*EAST_BOX), "2022-03-01", "2022-04-30", stac_url="ftp://x")


def test_get_scenes_by_id_any_date_and_unknown(standin: StandIn) -> None:
    ids = ["HLS.L30.T14TQL.2022263T171500.v2.0", "HLS.S30.T15TTG.2022081T171900.v2.0"]
    got = get_scenes(ids, stac_url=standin.url)
    assert [s.id for s in got] == ids and [s.sensor for s in got] == ["L30", "S30"]
    with pytest.raises(InputError, match=r"Unknown scene id HLS\.S30\.T15TTG\.2022999T000000\.v2\.0"):
        get_scenes([ids[0], "HLS.S30.T15TTG.2022999T000000.v2.0"], stac_url=standin.url)


def test_planetary_computer_resign_uses_a_fresh_token(stac_standin: StandIn) -> None:
    """Re-signing drops the old SAS token and the cached one; the token service here is the stand-in (the
    session fixture points PC_SDK_SAS_URL at it), never the real one."""
    from geofm.data import signing

    signing.clear_tokens()
    before = stac_standin.token_requests
    href = "https://hlsacct.blob.core.windows.net/hls2/L30/x.B02.tif"
    first = resign_planetary_computer(href + "?st=old&se=2000-01-01&sp=rl&sig=expired")
    assert first.startswith(href + "?st=") and "&sr=c&" in first and "sig=expired" not in first
    assert signing.BlobContainer("hlsacct", "hls2") in signing._TOKENS
    second = resign_planetary_computer(first)
    assert second.startswith(href + "?st=") and second != first
    assert stac_standin.token_requests - before == 2  # each re-sign fetched a token from the stand-in


def test_planetary_computer_signing_has_a_time_limit(stac_standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """Items are signed with tokens fetched by geofm (time limit, retries) from the stand-in's token service."""
    import pystac

    from geofm.data.signing import clear_tokens, sign_in_place

    clear_tokens()
    monkeypatch.setenv("GEOFM_HTTP_TIMEOUT", "1")
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "0")

    def item(container: str) -> pystac.Item:
        it = pystac.Item("x", None, None, __import__("datetime").datetime(2022, 3, 22), {})
        it.add_asset("B02", pystac.Asset(f"https://acct2.blob.core.windows.net/{container}/x.B02.tif"))
        return it

    signed = item("c1")
    sign_in_place(signed)
    assert signed.assets["B02"].href.startswith("https://acct2.blob.core.windows.net/c1/x.B02.tif?st=")
    stac_standin.stall_next(1, 2.5, match="/api/sas/v1/token/acct2/c2")
    with pytest.raises(ServiceError, match=r"token service \(no answer within 1 s\)"):
        sign_in_place(item("c2"))
    stac_standin.fail_next(1, status=403, match="/api/sas/v1/token/acct2/c3")
    with pytest.raises(AuthError, match=r"refused a data token \(HTTP 403\)") as e:
        sign_in_place(item("c3"))
    assert "PC_SDK_SUBSCRIPTION_KEY" not in e.value.user_message()  # no keys are issued any more
