"""read_aoi against the stand-in's COGs over HTTP: values after reprojection and mosaicking, cloud and fill
masks, bytes served, retries, errors, re-signing, cache."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pyproj import Transformer

from geofm.data import AOI, Scene, get_scenes, read_aoi
from geofm.data.cache import StackCache
from geofm.data.grid import Grid
from geofm.data.reader import fill_clear_fractions, frame_order
from geofm.data.signing import strip_query
from geofm.data.stac import RESIGNERS
from geofm.errors import AuthError, ServiceError
from tests.standin import StandIn
from tests.standin.layout import DATES, OMAHA, TILE_PX, TILES, Tile, decode, dn, item_id


def scene(standin: StandIn, date_index: int, tile_index: int) -> Scene:
    return get_scenes([item_id(DATES[date_index], TILES[tile_index])], stac_url=standin.url)[0]


def source_pixels(grid: Grid, tile: Tile) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every grid pixel: the tile's (col, row) under its centre, whether it is inside the tile, and whether
    it is 'safe' (centre not within 0.2 px of a source pixel edge, so nearest neighbour is unambiguous)."""
    rows, cols = np.mgrid[0:grid.height, 0:grid.width]
    x = grid.transform.c + (cols + 0.5) * grid.resolution
    y = grid.transform.f - (rows + 0.5) * grid.resolution
    tx, ty = Transformer.from_crs(grid.crs.to_wkt(), tile.epsg, always_xy=True).transform(x, y)
    fc, fr = (tx - tile.left) / 30.0, (tile.top - ty) / 30.0
    sc, sr = np.floor(fc).astype(int), np.floor(fr).astype(int)
    inside = (sc >= 0) & (sc < TILE_PX) & (sr >= 0) & (sr < TILE_PX)
    safe = (np.abs(fc - sc - 0.5) < 0.3) & (np.abs(fr - sr - 0.5) < 0.3)
    return sc, sr, inside, safe


def test_values_after_reprojection_from_the_neighbouring_zone(standin: StandIn) -> None:
    aoi = AOI.from_bbox(-96.00, 41.30, -95.965, 41.34)  # centre in zone 15, data from tile 14TQL (zone 14)
    s = scene(standin, 1, 0)
    stack = read_aoi([[s]], aoi, use_cache=False)
    grid = Grid.for_aoi(aoi)
    assert stack.crs.to_epsg() == 32615 and stack.transform == grid.transform
    assert stack.data.shape == (1, 6, grid.height, grid.width) and stack.data.dtype == np.int16
    assert stack.scene_ids == [s.id] and stack.times == [s.datetime]
    sc, sr, inside, safe = source_pixels(grid, TILES[0])
    check = inside & safe
    assert check.sum() > 0.3 * check.size
    for b in range(6):
        assert np.array_equal(stack.data[0, b][check], dn(b, 1, 0, sc, sr)[check])
    # nearest neighbour everywhere: every value decodes to this band/date/tile
    assert {decode(v)["tile"] for v in stack.data[0, 3].ravel()} == {0}
    assert stack.valid[0][inside & grid.area_mask(aoi)].all()


def test_mosaic_of_two_tiles_in_different_utm_zones(standin: StandIn) -> None:
    aoi = AOI.from_bbox(-96.12, 41.30, -95.91, 41.36)  # wider than the tiles' overlap: needs both
    frame = [scene(standin, 5, 0), scene(standin, 5, 1)]  # 2022-07-08 S30, both clear
    fill_clear_fractions(frame, aoi)
    first, second = frame_order(frame)
    assert 0.2 < second.clear_fraction < first.clear_fraction < 1.0  # each tile covers only part of the area
    stack = read_aoi([frame], aoi, use_cache=False)
    grid = Grid.for_aoi(aoi)
    area = grid.area_mask(aoi)
    exp = np.full(grid.shape, -9999)
    exp_tile = np.full(grid.shape, -1)
    safe_all = np.ones(grid.shape, bool)
    for sc_ in (second, first):  # later assignment wins: the clearer scene goes first in the mosaic
        t = TILES[0] if sc_.tile == "14TQL" else TILES[1]
        sc, sr, inside, safe = source_pixels(grid, t)
        exp = np.where(inside, dn(4, 5, t.index, sc, sr), exp)
        exp_tile = np.where(inside, t.index, exp_tile)
        safe_all &= safe | ~inside
    check = safe_all & area
    assert (exp_tile[check] == 0).sum() > 100 and (exp_tile[check] == 1).sum() > 100  # both tiles contribute
    assert np.array_equal(stack.data[0, 4][check], exp[check])
    assert stack.valid[0][area].mean() > 0.999  # the two tiles together cover the whole area
    assert stack.scene_ids == [f"{first.id}+{second.id}"]


def test_cloud_mask_where_clouds_were_painted(standin: StandIn) -> None:
    aoi = AOI.from_bbox(-96.00, 41.215, -95.88, 41.305)  # around Omaha; a 5 km cloud sits on it on 2022-04-07
    s = scene(standin, 2, 1)
    stack = read_aoi([[s]], aoi, use_cache=False)
    grid = Grid.for_aoi(aoi)
    tile = TILES[1]
    rows, cols = np.mgrid[0:grid.height, 0:grid.width]
    x = grid.transform.c + (cols + 0.5) * 30.0
    y = grid.transform.f - (rows + 0.5) * 30.0
    tx, ty = Transformer.from_crs(grid.crs.to_wkt(), tile.epsg, always_xy=True).transform(x, y)
    cx, cy = Transformer.from_crs(4326, tile.epsg, always_xy=True).transform(*OMAHA)
    d = np.hypot(tx - cx, ty - cy)
    ds = np.hypot(tx - cx - 2000.0, ty - cy + 2000.0)
    not_clear = (d < 6500.0) | (ds < 3000.0)  # cloud 5 km + 1.5 km adjacency; shadow 0.6 * 5 km to the SE
    margin = (np.abs(d - 6500.0) > 60) & (np.abs(ds - 3000.0) > 60) & grid.area_mask(aoi)
    assert not_clear[margin].sum() > 1000 and (~not_clear[margin]).sum() > 1000
    assert np.array_equal(stack.valid[0][margin], ~not_clear[margin])
    assert (stack.data[0][:, ~stack.valid[0] & margin] != -9999).all()  # cloudy pixels keep their values
    assert s.clear_fraction is None
    fill_clear_fractions([s], aoi)
    area = grid.area_mask(aoi)
    assert s.clear_fraction == pytest.approx((~not_clear & area).sum() / area.sum(), abs=0.01)


def test_fill_values_are_not_valid(standin: StandIn) -> None:
    aoi = AOI.from_bbox(-96.61, 41.40, -96.53, 41.45)  # 2022-05-12 on 14TQL has no data in its 150 west columns
    s = scene(standin, 3, 0)
    stack = read_aoi([[s]], aoi, use_cache=False)
    grid = Grid.for_aoi(aoi)
    sc, sr, inside, safe = source_pixels(grid, TILES[0])
    fill = (sc < 150) & inside & safe
    data = (sc >= 150) & inside & safe & grid.area_mask(aoi)
    assert fill.sum() > 100 and data.sum() > 100
    assert (stack.data[0][:, fill] == -9999).all() and not stack.valid[0][fill].any()
    assert stack.valid[0][data].all()
    fill_clear_fractions([s], aoi)
    assert 0.05 < s.clear_fraction < 0.95


def test_bytes_served_are_a_small_fraction_of_the_files(standin: StandIn) -> None:
    aoi = AOI.from_bbox(-95.72, 41.44, -95.68, 41.47)  # about 3 x 3 km inside 15TTG
    s = scene(standin, 5, 1)
    standin.reset_stats()
    read_aoi([[s]], aoi, use_cache=False)
    files = [strip_query(h).rsplit("/", 1)[-1] for h in s.assets.values()]
    total = sum(standin.file_size(f) for f in files)
    assert standin.stats.file_bytes < 0.08 * total, (standin.stats.file_bytes, total)
    assert {r[0] for r in standin.stats.ranges} == set(files)  # every band was read with range requests


def test_coarser_grid_reads_an_overview(standin: StandIn) -> None:
    aoi = AOI.from_bbox(-95.80, 41.30, -95.60, 41.45)  # 17 x 17 km
    s = scene(standin, 7, 1)
    standin.reset_stats()
    fine = read_aoi([[s]], aoi, use_cache=False)
    fine_bytes = standin.stats.file_bytes
    standin.new_epoch()
    s2 = scene(standin, 7, 1)
    standin.reset_stats()
    coarse = read_aoi([[s2]], aoi, use_cache=False, resolution=120)
    assert coarse.transform.a == 120 and abs(coarse.shape[0] * 4 - fine.shape[0]) <= 4
    assert standin.stats.file_bytes < fine_bytes / 2  # header + overview blocks only
    assert {decode(v)["band"] for v in coarse.data[0, 2][coarse.valid[0]]} == {2}


def test_retries_on_503_and_time_outs(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOFM_HTTP_TIMEOUT", "1")
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "2")
    aoi = AOI.from_bbox(-95.72, 41.44, -95.68, 41.47)
    s = scene(standin, 5, 1)
    standin.fail_next(2, status=503, match=".B04.tif")
    standin.stall_next(1, 2.5, match=".B8A.tif")
    t0 = time.perf_counter()
    stack = read_aoi([[s]], aoi, use_cache=False)
    assert time.perf_counter() - t0 >= 1.0  # waited out one time-out
    assert standin.stats.faults_served == 3
    assert {decode(v)["band"] for v in stack.data[0, 2].ravel()} == {2}
    assert {decode(v)["band"] for v in stack.data[0, 3].ravel()} == {3}


def test_persistent_failures_give_up_with_a_clear_message(standin: StandIn,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOFM_HTTP_TIMEOUT", "1")
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "1")
    aoi = AOI.from_bbox(-95.72, 41.44, -95.68, 41.47)
    s = scene(standin, 5, 1)
    standin.fail_next(1000, status=500, match=".B03.tif")
    with pytest.raises(ServiceError, match=r"Reading HLS\.S30\.T15TTG\.2022189T171900\.v2\.0\.B03\.tif failed after "
                                           r"2 tries \(HTTP 500\)"):
        read_aoi([[s]], aoi, use_cache=False)
    assert standin.stats.faults_served == 2  # one budget per request: GDAL's retry, no re-open on top
    standin.clear_faults()
    standin.stall_next(1000, 1.5, match=".B11.tif")
    with pytest.raises(ServiceError, match=r"B11\.tif failed after 2 tries \(timed out after 1 s\)"):
        read_aoi([[scene(standin, 7, 1)]], aoi, use_cache=False)


@pytest.mark.parametrize("status, error, needle", [
    (404, ServiceError, r"The image HLS\.S30\.T15TTG\.2022189T171900\.v2\.0\.B12\.tif was not found \(HTTP 404\)"),
    (401, AuthError, r"B12\.tif needs a login \(HTTP 401\)"),
    (403, AuthError, r"B12\.tif was refused \(HTTP 403\): the signed link has expired"),
])
def test_http_errors(standin: StandIn, status: int, error: type, needle: str) -> None:
    s = scene(standin, 5, 1)
    standin.fail_next(1000, status=status, match=".B12.tif")
    with pytest.raises(error, match=needle):
        read_aoi([[s]], AOI.from_bbox(-95.72, 41.44, -95.68, 41.47), use_cache=False)


def test_expired_token_is_resigned_once(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    standin.require_tokens(True)  # blob reads need a valid SAS token from the stand-in's token API
    s = scene(standin, 5, 1)
    assert "&sig=" in s.assets["B02"] and s.signer == "planetary-computer"
    aoi = AOI.from_bbox(-95.72, 41.44, -95.68, 41.47)
    standin.expire_tokens()  # every href now answers 403 AuthenticationFailed, like an expired SAS token
    with monkeypatch.context() as m:
        m.setitem(RESIGNERS, "planetary-computer", lambda href: href)  # a re-sign that does not help
        with pytest.raises(AuthError, match="HTTP 403"):
            read_aoi([[s]], aoi, use_cache=False)
    standin.new_epoch()
    s = scene(standin, 5, 1)
    standin.expire_tokens()
    before = standin.token_requests
    stack = read_aoi([[s]], aoi, use_cache=False)
    assert 1 <= standin.token_requests - before <= 7  # re-signed at most once per file (7 files)
    assert stack.valid[0][Grid.for_aoi(aoi).area_mask(aoi)].all()
    assert {decode(v)["band"] for v in stack.data[0, 5].ravel()} == {5}

def test_cache_makes_a_repeat_view_free(standin: StandIn) -> None:
    aoi = AOI.from_bbox(-95.80, 41.40, -95.74, 41.45)
    frames = [[scene(standin, 1, 1)], [scene(standin, 5, 1)]]
    messages: list[tuple[str, str, float | None]] = []
    first = read_aoi(frames, aoi, progress=lambda stage, msg, frac=None: messages.append((stage, msg, frac)))
    assert standin.stats.file_bytes > 0
    # progress: one message per band (6 bands + Fmask per scene) ending with the MB read so far
    band_msgs = [m for stage, m, _ in messages if stage == "read" and m.startswith("band ")]
    assert len(band_msgs) == 14 and band_msgs[-1].startswith("band 14 of 14")
    expected_mb = (first.data.nbytes + first.data.shape[0] * first.valid[0].size) / 1e6
    assert f"{expected_mb:.1f} MB of pixels so far" in band_msgs[-1]
    assert messages[-1][2] == pytest.approx(1.0)
    standin.reset_stats()
    t0 = time.perf_counter()
    again = read_aoi(frames, aoi)
    assert time.perf_counter() - t0 < 1.0
    assert standin.stats.file_bytes == 0 and standin.stats.file_requests == 0
    assert np.array_equal(first.data, again.data) and np.array_equal(first.valid, again.valid)
    assert again.crs == first.crs and again.transform == first.transform
    assert again.times == first.times and again.scene_ids == first.scene_ids
    read_aoi(frames, AOI.from_bbox(-95.80, 41.40, -95.74, 41.46))  # another area is another entry
    assert standin.stats.file_bytes > 0


def test_cache_evicts_least_recently_used(tmp_path) -> None:
    from affine import Affine
    from rasterio.crs import CRS

    from geofm.stack import HLSStack

    def stack(v: int) -> HLSStack:
        return HLSStack(np.full((1, 6, 64, 64), v, np.int16), np.ones((1, 64, 64), bool), CRS.from_epsg(32615),
                        Affine(30, 0, 0, 0, -30, 0), [None], [f"s{v}"])

    one = StackCache(tmp_path).dir
    cache = StackCache(tmp_path, max_bytes=10**9)
    cache.put("a", stack(1))
    size = cache.size_bytes()
    cache = StackCache(tmp_path, max_bytes=int(2.5 * size))
    cache.put("b", stack(2))
    time.sleep(0.01)
    assert cache.get("a") is not None  # touch a: b is now the oldest
    time.sleep(0.01)
    cache.put("c", stack(3))
    assert sorted(p.stem for p in one.glob("*.npz")) == ["a", "c"]
    assert cache.get("c").scene_ids == ["s3"] and cache.get("b") is None
