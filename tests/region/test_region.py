"""`geofm region` on a Dask LocalCluster over the stand-in: pixel-exact equality with `geofm run`, a batch of
features, a region across two UTM zones, resume after a killed worker / run, and a chunk that keeps failing.

Dates and places come from tests/standin/layout.py so they follow the stand-in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geofm.cli import main
from geofm.config import REGION
from geofm.inference.sliding import window_starts
from geofm.region import run_region
from geofm.region.chunks import _sliding_extent, chunk_pixels
from tests.standin.layout import DATES, FREMONT, TILES, item_id

#: A date without clouds on either tile (so per-chunk and whole-area choices agree), and a 224-px chunk.
CLEAR = next(d for d in DATES if not d.clouds and not d.fill_columns)
DAY = CLEAR.when.date().isoformat()
CHUNK_KM = 224 * 30 / 1000
# ~7.5 x 12 km near Fremont, inside tile 14TQL only: 2 x 2 chunks of 224 px, edge windows snapped.
LON, LAT = FREMONT
FREMONT_BOX = (LON - 0.05, LAT - 0.054, LON + 0.04, LAT + 0.054)
#: The runs' device: the CPU (CI); ``GEOFM_TEST_DEVICE=cuda`` runs the same tests on a GPU (bench/gpu_check.sh).
DEVICE = os.environ.get("GEOFM_TEST_DEVICE", "cpu")
# Across lon -96 (UTM 14 | 15), inside both stand-in tiles' overlap in latitude.
ACROSS_ZONES = (-96.03, 41.36, -95.96, 41.40)


def _read(path: Path) -> tuple[np.ndarray, object, object]:
    with rasterio.open(path) as src:
        return src.read(), src.transform, src.crs


# ------------------------------------------------------------------------------------------ geometry (fast)

@pytest.mark.parametrize("size", [224, 300, 400, 449, 1000, 1234])
def test_chunk_halos_give_every_core_pixel_exactly_its_single_process_windows(size):
    """For every chunk and every core pixel, the windows placed inside the chunk's read extent are exactly the
    global windows covering that pixel (snapped edge window included)."""
    starts = window_starts(size)
    for c0 in range(0, size, 224):
        c1 = min(c0 + 224, size)
        a, b = _sliding_extent(c0, c1, size, 224, 112)
        local = [a + s for s in window_starts(b - a)]
        for p in range(c0, c1):
            want = [s for s in starts if s <= p < s + 224]
            got = [s for s in local if s <= p < s + 224]
            assert got == want, (size, c0, p)


def test_chunk_size_rounds_to_whole_224_px_units():
    assert chunk_pixels(6.72) == 224 and chunk_pixels(0.1) == 224 and chunk_pixels(50) == 1568
    assert REGION.chunk_multiple_px == 224


# ------------------------------------------------------------------------------------------ end to end

@pytest.mark.slow
def test_region_equals_single_process_run_pixel_for_pixel(standin, tiny_models, tmp_path, capsys):
    single = tmp_path / "single.tif"
    code = main(["run", "flood", "--bbox", *map(str, FREMONT_BOX), "--start", DAY, "--end", DAY, "--out",
                 str(single), "--weights-dir", str(tiny_models), "--device", DEVICE])
    assert code == 0, capsys.readouterr().err
    out = tmp_path / "region"
    res = run_region("flood", FREMONT_BOX, DAY, DAY, out, workers=2, processes=False, chunk_km=CHUNK_KM,
                     weights_dir=tiny_models, device=DEVICE)
    assert res.ok and res.chunks_total == 4 and res.chunks_done == 4
    want, t_want, crs_want = _read(single)
    got, t_got, crs_got = _read(res.mosaic)
    assert crs_got == crs_want and t_got == t_want and got.shape == want.shape
    assert want.shape[1] > 224 and want.shape[2] > 224  # really 2 x 2 chunks
    assert (got == want).all()
    assert set(np.unique(want)) - {255} and (want != 255).mean() > 0.9
    assert {0, 1} <= set(np.unique(want))  # both classes: the equality is not of one constant map
    # every tile is the single run's pixels on its own window of the grid
    manifest = json.loads((out / REGION.manifest_name).read_text())
    for rec in manifest["chunks"]:
        r0, r1, c0, c1 = rec["core"]
        tile, t_tile, _ = _read(out / rec["file"])
        assert (tile[0] == want[0, r0:r1, c0:c1]).all()
        assert (t_tile.c, t_tile.f) == (t_want.c + 30 * c0, t_want.f - 30 * r0)
        assert rec["status"] == "done" and len(rec["sha256"]) == 64
        assert rec["scenes"] == [[item_id(CLEAR, TILES[0])]]
        assert rec["device"].split(":")[0] == DEVICE  # where the chunk ran
    assert manifest["mosaic"]["file"] == REGION.mosaic_name
    item = json.loads((out / REGION.item_name).read_text())
    import pystac

    pystac.Item.from_dict(item)
    # every output names the checkpoint that made it, as `geofm run`'s do
    from geofm.models.weights import file_sha256

    sha = file_sha256(tiny_models / "sen1floods11_Prithvi_100M.pth")
    with rasterio.open(single) as src:
        assert src.tags()["CHECKPOINT_SHA256"] == sha
    assert manifest["checkpoint_sha256"] == sha and item["properties"]["geofm:checkpoint_sha256"] == sha
    for path in [res.mosaic, *(out / rec["file"] for rec in manifest["chunks"])]:
        with rasterio.open(path) as src:
            assert src.tags()["CHECKPOINT_SHA256"] == sha, path
    assert {rec["checkpoint_sha256"] for rec in manifest["chunks"]} == {sha}
    assert item["assets"]["mosaic"]["href"] == f"./{REGION.mosaic_name}"
    with rasterio.open(res.mosaic) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"


def _feature(fid: str, w: float, s: float, e: float, n: float) -> dict:
    return {"type": "Feature", "id": fid, "properties": {},
            "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}}


@pytest.mark.slow
def test_batch_with_a_chunk_that_keeps_failing_then_resume(standin, published_weights_dir, tmp_path, capsys,
                                                          monkeypatch):
    """A FeatureCollection of three small features on 2 worker processes: the one whose tile's image host keeps
    answering 503 fails (listed with its reason, exit status 1, summary row), the others complete; --resume
    after the host recovers runs only the failed chunk."""
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "0")
    east = TILES[1].name
    fc = {"type": "FeatureCollection", "features": [
        _feature("fremont-a", LON - 0.03, LAT - 0.02, LON, LAT),
        _feature("fremont-b", LON + 0.01, LAT + 0.01, LON + 0.04, LAT + 0.03),
        _feature("omaha-east", -95.62, 41.40, -95.59, 41.42),  # tile 15TTG only
    ]}
    gj = tmp_path / "towns.geojson"
    gj.write_text(json.dumps(fc))
    out = tmp_path / "batch"
    argv = ["region", "flood", "--geojson", str(gj), "--start", DAY, "--end", DAY, "--out", str(out),
            "--workers", "2", "--weights-dir", str(published_weights_dir), "--device", DEVICE]
    standin.fail_next(100000, status=503, match=f"T{east}")
    code = main(argv)
    stdout, stderr = capsys.readouterr()
    assert code == 1, stderr
    assert "geofm: omaha-east: chunk" in stderr and "failed" in stderr and "503" in stderr
    assert "Dask dashboard: http" in stderr
    rows = (out / REGION.summary_name).read_text().splitlines()
    assert rows[0].startswith("id,area_km2,scenes,No water km2,Water / flood km2,chunks,chunks_done,status")
    by_id = {r.split(",")[0]: r for r in rows[1:]}
    assert set(by_id) == {"fremont-a", "fremont-b", "omaha-east"}
    assert by_id["fremont-a"].endswith(",complete") and by_id["fremont-b"].endswith(",complete")
    assert "partial: 1 of 1 chunks failed" in by_id["omaha-east"]
    for fid in ("fremont-a", "fremont-b"):
        cells = by_id[fid].split(",")
        area, water, dry = float(cells[1]), float(cells[3]), float(cells[4])
        assert f"T{TILES[0].name}" in cells[2] and 0 < water + dry <= area * 1.2
        assert (out / fid / REGION.mosaic_name).is_file() and (out / fid / REGION.item_name).is_file()
    failed = json.loads((out / "omaha-east" / REGION.manifest_name).read_text())["chunks"]
    assert [c["status"] for c in failed] == ["failed"] and failed[0]["attempts"] == REGION.chunk_attempts == 1
    assert not (out / "omaha-east" / REGION.mosaic_name).exists()
    kept = {fid: json.loads((out / fid / REGION.manifest_name).read_text())["chunks"]
            for fid in ("fremont-a", "fremont-b")}

    assert main(argv) == 2  # the folder holds a run: --resume or another folder
    assert "add --resume" in capsys.readouterr().err
    standin.clear_faults()
    standin.reset_stats()
    code = main([*argv, "--resume"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "omaha-east: complete; 1 of 1 chunks" in stdout
    assert "2 of 3 chunks already complete" in stderr
    assert all(f"T{east}" in name for _, name, *_ in standin.stats.requests_log if "HLS." in name)
    for fid, chunks in kept.items():  # untouched: same files, same checksums, same worker records
        assert json.loads((out / fid / REGION.manifest_name).read_text())["chunks"] == chunks
    assert "omaha-east,"in (out / REGION.summary_name).read_text()
    assert (out / "omaha-east" / REGION.mosaic_name).is_file()


@pytest.mark.slow
def test_region_across_two_utm_zones_on_an_existing_scheduler(standin, tiny_models, tmp_path):
    from distributed import LocalCluster

    out = tmp_path / "zones"
    notes = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        res = run_region("flood", ACROSS_ZONES, DAY, DAY, out, scheduler=cluster.scheduler_address,
                         chunk_km=CHUNK_KM, weights_dir=tiny_models, device=DEVICE,
                         progress=lambda stage, msg, frac=None: notes.append(msg))
    assert any(m.startswith("Dask dashboard: http") for m in notes)
    assert res.ok and res.chunks_total == 2
    manifest = json.loads((out / REGION.manifest_name).read_text())
    assert [z["epsg"] for z in manifest["zones"]] == [TILES[0].epsg, TILES[1].epsg]
    tiles = {rec["epsg"]: out / rec["file"] for rec in manifest["chunks"]}
    assert set(tiles) == {TILES[0].epsg, TILES[1].epsg}
    for epsg, path in tiles.items():
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == epsg and (src.read(1) != 255).mean() > 0.5
    mosaic, t, crs = _read(res.mosaic)
    assert crs.to_epsg() == TILES[1].epsg == manifest["mosaic"]["epsg"]  # the zone of the region's centre
    # the zone-15 tile is copied exactly; the zone-14 tile fills the west part (reprojected)
    tile15, t15, _ = _read(tiles[TILES[1].epsg])
    c0, r0 = round((t15.c - t.c) / 30), round((t.f - t15.f) / 30)
    window = mosaic[0, r0:r0 + tile15.shape[1], c0:c0 + tile15.shape[2]]
    assert (window[tile15[0] != 255] == tile15[0][tile15[0] != 255]).all()
    west = mosaic[0, :, : max(1, c0 - 2)]
    assert west.size and (west != 255).mean() > 0.8
    assert (mosaic != 255).mean() > 0.85


@pytest.mark.slow
def test_resume_after_a_worker_and_then_the_whole_run_are_killed(standin, published_weights_dir, tmp_path):
    """SIGKILL one worker mid-run (its chunk is rescheduled), then the whole run; the manifest names exactly the
    complete tiles, no mosaic is left half-written, and --resume computes only the missing chunks."""
    standin.set_latency(0.15)  # reads take a few seconds: time to kill in the middle
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "geofm", "region", "flood", "--bbox", *map(str, FREMONT_BOX), "--start", DAY,
           "--end", DAY, "--out", str(out), "--workers", "2", "--chunk-km", str(CHUNK_KM),
           "--weights-dir", str(published_weights_dir), "--device", DEVICE]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    manifest = out / REGION.manifest_name

    def done_records() -> list[dict]:
        try:
            return [c for c in json.loads(manifest.read_text())["chunks"] if c["status"] == "done"]
        except (OSError, ValueError, KeyError):
            return []

    def wait_for(n: int) -> list[dict]:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            recs = done_records()
            if len(recs) >= n:
                return recs
            time.sleep(0.1)
        raise AssertionError(f"run ended or stalled before {n} chunks: {proc.poll()}")

    try:
        first = wait_for(1)
        os.kill(first[0]["pid"], signal.SIGKILL)  # a worker dies holding its next chunk
        wait_for(2)
        os.killpg(proc.pid, signal.SIGKILL)  # the whole run dies
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = done_records()
    assert 2 <= len(before) < 4
    assert not (out / REGION.mosaic_name).exists()
    from geofm.region.job import sha256_of

    for rec in before:
        assert sha256_of(out / rec["file"]) == rec["sha256"]
    standin.set_latency(0.0)
    res = run_region("flood", FREMONT_BOX, DAY, DAY, out, workers=2, processes=False, chunk_km=CHUNK_KM,
                     weights_dir=published_weights_dir, device=DEVICE, resume=True)
    assert res.ok and res.chunks_done == 4
    after = {c["id"]: c for c in json.loads(manifest.read_text())["chunks"]}
    for rec in before:  # kept, not recomputed
        assert after[rec["id"]] == rec
    assert {os.path.basename(p) for p in os.listdir(out / REGION.tiles_dir)} == {f"{i}.tif" for i in after}
    with rasterio.open(res.mosaic) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and (src.read(1) != 255).mean() > 0.9
    # the resumed region equals an uninterrupted one pixel for pixel (worker processes, as the first run had)
    whole = run_region("flood", FREMONT_BOX, DAY, DAY, tmp_path / "whole", workers=1, chunk_km=CHUNK_KM,
                       weights_dir=published_weights_dir, device=DEVICE)
    assert whole.ok
    for rec in after.values():
        got, t_got, _ = _read(out / rec["file"])
        want, t_want, _ = _read(whole.folder / rec["file"])
        assert t_got == t_want and (got == want).all(), (rec["id"], float((got != want).mean()))
    assert (_read(res.mosaic)[0] == _read(whole.mosaic)[0]).all()


@pytest.mark.slow
def test_reconstruction_region_equals_single_process_run(standin, tiny_models, tmp_path, capsys):
    """MAE windows do not overlap; the edge chunks read the rows the bottom/right reflection mirrors and each
    window gets the masking noise of its single-process index."""
    single = tmp_path / "single.tif"
    assert main(["run", "reconstruct", "--bbox", *map(str, FREMONT_BOX), "--start", DAY, "--end", DAY, "--out",
                 str(single), "--weights-dir", str(tiny_models), "--device", DEVICE]) == 0
    capsys.readouterr()
    res = run_region("reconstruct", FREMONT_BOX, DAY, DAY, tmp_path / "region", workers=2, processes=False,
                     chunk_km=CHUNK_KM, weights_dir=tiny_models, device=DEVICE)
    assert res.ok and res.chunks_total == 4
    want, t_want, _ = _read(single)
    got, t_got, _ = _read(res.mosaic)
    assert t_got == t_want and got.shape == want.shape and got.dtype == np.int16
    assert (got == want).all()


def test_bad_region_arguments_are_one_clear_error(tmp_path, capsys):
    base = ["region", "flood", "--start", DAY, "--end", DAY, "--out", str(tmp_path / "o")]
    assert main([*base, "--bbox", "-96", "41", "-95.9", "41.1", "--workers", "0"]) == 2
    assert capsys.readouterr().err.startswith("geofm: error: --workers must be at least 1")
    assert main([*base, "--geojson", str(tmp_path / "missing.geojson")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*base, "--bbox", "-96", "41", "-95.9", "41.1", "--chunk-km", "0"]) == 2
    assert "--chunk-km must be a positive" in capsys.readouterr().err
    assert main([*base, "--bbox", "-95.9", "41", "-96", "41.1"]) == 2
    assert "West (-95.9) is east of East (-96)" in capsys.readouterr().err
    assert main([*base, "--bbox", "-96", "41", "-95.9", "41.1", "--workers", "2", "--scheduler", "tcp://x:1"]) == 2
    assert "not both" in capsys.readouterr().err


def test_geojson_polygon_is_a_region_and_a_feature_collection_of_several_is_a_batch(tmp_path):
    from geofm.errors import InputError
    from geofm.region import parse_regions

    poly = _feature("x", LON - 0.01, LAT - 0.01, LON, LAT)
    regions, batch = parse_regions(poly["geometry"])
    assert not batch and [r[0] for r in regions] == ["region"]
    regions, batch = parse_regions({"type": "FeatureCollection", "features": [poly]})
    assert not batch and len(regions) == 1
    path = tmp_path / "many.geojson"
    feats = [_feature("a/b", LON, LAT, LON + 0.01, LAT + 0.01), _feature("a/b", LON, LAT, LON + 0.02, LAT + 0.01),
             {**_feature("", LON, LAT, LON + 0.01, LAT + 0.02), "id": None}]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    regions, batch = parse_regions(path)
    assert batch and [r[0] for r in regions] == ["a-b", "a-b-2", "feature-3"]
    assert regions[1][1].area_km2 > regions[0][1].area_km2 > 0
    big = _feature("state", -104.0, 40.0, -95.3, 43.0)  # ~700 km wide: no size cap for regions
    assert parse_regions(big)[0][0][1].size_km[0] > 600
    with pytest.raises(InputError, match="Feature bad"):
        parse_regions({"type": "FeatureCollection", "features": [poly, {**_feature("bad", 0, 0, 1, 1),
                                                                         "geometry": {"type": "Point"}}]})


# ------------------------------------------------------------------------------------------ reading (fast)

def _chunk_reads(standin, keep: bool) -> list[int]:
    """Bytes fetched for each of two side-by-side chunks (core + halo), then for the first chunk again."""
    from geofm.config import MODELS
    from geofm.data import AOI
    from geofm.data.net import keep_fetched_blocks
    from geofm.data.reader import read_grid
    from geofm.data.stac import search_hls
    from geofm.region.chunks import make_chunks, read_span, zone_parts

    spec = MODELS["prithvi-eo-1.0-100m-sen1floods11"]
    standin.new_epoch()  # new links: nothing of them in GDAL's memory yet
    aoi = AOI.from_bbox(*FREMONT_BOX)
    scenes = search_hls(aoi, DAY, DAY, max_cloud=100)
    part = zone_parts(aoi)[0]
    chunks = make_chunks(part, 224)
    keep_fetched_blocks(64 if keep else None)
    try:
        fetched = []
        for chunk in (chunks[0], chunks[1], chunks[0]):
            grid = read_span(chunk.core, part.grid, spec).grid(part.grid)
            standin.reset_stats()
            read_grid([scenes], grid, grid.area_mask(part.aoi))
            fetched.append(standin.stats.file_bytes)
        return fetched
    finally:
        keep_fetched_blocks(None)


def test_a_region_worker_fetches_the_blocks_its_chunks_share_once(standin):
    """Neighbouring chunks share the blocks of their halos. GDAL's default parallel range reads bypass its
    cache, so a second chunk fetches them again; a region worker keeps what it fetched (keep_fetched_blocks)."""
    default = _chunk_reads(standin, keep=False)
    kept = _chunk_reads(standin, keep=True)
    assert default[2] > 0.5 * default[0]  # GDAL's default: the same chunk read again is fetched again
    assert kept[2] == 0  # a worker's cache: nothing fetched twice
    assert kept[1] < 0.8 * default[1]  # the second chunk fetches only what the first did not
    assert sum(kept[:2]) < 0.85 * sum(default[:2]), (kept, default)


def test_chunks_run_in_contiguous_runs_one_per_worker():
    """Chunks in hand-out order are cut into one contiguous run per worker (a preference: ``allow_other_workers``)."""
    from geofm.region.assign import home_runs
    from geofm.region.driver import _worker_names

    class Client:
        def __init__(self, workers):
            self.workers = workers

        def scheduler_info(self):
            return {"workers": {w: {} for w in self.workers}}

    names = _worker_names(Client(["tcp://b:2", "tcp://a:1"]))
    assert names == ["tcp://a:1", "tcp://b:2"]
    assert home_runs(5, names) == [["tcp://a:1"]] * 3 + [["tcp://b:2"]] * 2
    assert home_runs(3, _worker_names(Client([]))) == [None, None, None]
    assert home_runs(0, ["tcp://a:1"]) == []


def _zone_grid(left: float, top: float, size: int):
    from affine import Affine
    from rasterio.crs import CRS

    from geofm.data.grid import Grid

    return Grid(CRS.from_epsg(32614), Affine(30.0, 0.0, left, 0.0, -30.0, top), size, size)


def _scene(tile: str, left: float, top: float, size: int = 3660, epsg: int = 32614):
    from datetime import datetime, timezone

    from geofm.data.scene import Scene

    return Scene(id=f"HLS.S30.T{tile}.2024172T165000.v2.0", datetime=datetime(2024, 6, 20, tzinfo=timezone.utc),
                 sensor="S30", tile=tile, cloud_cover=0.0, assets={}, thumbnail=None, collection="hls2-s30",
                 epsg=epsg, transform=(30.0, 0.0, left, 0.0, -30.0, top), shape=(size, size))


def test_file_block_lattices_are_placed_on_the_zone_grid():
    """A file's 256-px block lattice in zone-grid pixels: its offset from the items' proj:transform; files in
    another zone, of another pixel size or off the 30 m lattice are left out; a file seen twice counts once."""
    from geofm.region.assign import TileLattice, tile_lattices
    from geofm.region.chunks import Span

    zone = _zone_grid(709_980.0, 4_600_020.0, 1000)  # 100 px right of and 40 px below the file's corner
    scenes = [_scene("14TQL", 706_980.0, 4_601_220.0), _scene("14TQL", 706_980.0, 4_601_220.0),
              _scene("15TTG", 706_980.0, 4_601_220.0, epsg=32615), _scene("14TQM", 706_995.0, 4_601_220.0)]
    (lattice,) = tile_lattices(scenes, zone, 32614)
    assert lattice == TileLattice(row_off=40, col_off=100, height=3660, width=3660)
    # zone rows 0-215 are file rows 40-255: one block row; columns 0-156 are file columns 100-256: two
    assert lattice.blocks(Span(0, 216, 0, 156), 0) == {(0, 0, 0)}
    assert lattice.blocks(Span(0, 217, 0, 157), 7) == {(7, 0, 0), (7, 1, 0), (7, 0, 1), (7, 1, 1)}
    assert lattice.blocks(Span(3700, 3800, 0, 10), 0) == set()  # beyond the file
    assert tile_lattices([_scene("14TQL", 0, 0)], zone, 32614)[0].row_off == -153_334  # far away, still on it


@pytest.mark.parametrize("row_phase, col_phase, expect", [(100, 0, "cols"), (0, 100, "rows"), (0, 0, "rows")])
def test_workers_cut_where_the_halos_fetch_fewest_blocks_twice(row_phase, col_phase, expect):
    """2 x 2 chunks of 896 px, two workers: the cut between their runs duplicates the blocks that the 112-px halo
    band on either side of it touches. On the zone grid's own lattice (phase 0) the band 784-1008 lies inside
    block 768-1024: one block row or column; 100 px further (file pixels 884-1108) it straddles two. The order
    whose cut falls inside one block wins; on a tie, rows."""
    from geofm.region.assign import TileLattice, chunk_blocks, chunk_order, runs_cost
    from geofm.region.chunks import Span

    size = 1792
    cores = [Span(r, r + 896, c, c + 896) for r in (0, 896) for c in (0, 896)]
    reads = [Span(max(0, s.row0 - 112), min(size, s.row1 + 112), max(0, s.col0 - 112), min(size, s.col1 + 112))
             for s in cores]
    lattice = TileLattice(row_off=row_phase, col_off=col_phase, height=3660, width=3660)
    rows, cols = [0, 1, 2, 3], [0, 2, 1, 3]
    blocks = chunk_blocks(reads, [lattice])
    cost = {"rows": runs_cost(blocks, rows, 2), "cols": runs_cost(blocks, cols, 2)}
    order = chunk_order(cores, reads, 2, [lattice])
    assert order == (cols if expect == "cols" else rows), cost
    if row_phase != col_phase:
        assert cost[expect] < cost["rows" if expect == "cols" else "cols"], cost
        # the region covers 7 x 8 blocks (56); the cut reads again one line of 8 blocks, or two lines of 7
        assert sorted(cost.values()) == [56 + 8, 56 + 14], cost
    assert chunk_order(cores, reads, 1, [lattice]) == rows  # one worker: nothing is cut
    assert chunk_order(cores, reads, 2, []) == rows  # no pixel grid in the catalog (CMR): rows


# ------------------------------------------------------------------------------------------ adversarial inputs (fast)

def _tile_sha(path: Path) -> str:
    from geofm.region.job import sha256_of

    return sha256_of(path)


def test_resume_trusts_only_tiles_under_their_own_names_in_the_run_folder(tmp_path):
    """A manifest's `file` is the chunk's own tile name inside the run folder, nothing else: an absolute path,
    `../..` or another chunk's tile with a matching sha256 is not a complete chunk (it is run again), and a
    tile that is a link is not trusted either."""
    from geofm.region.manifest import Manifest

    run = tmp_path / "run"
    (run / "tiles").mkdir(parents=True)
    outside = tmp_path / "elsewhere.tif"
    outside.write_bytes(b"not ours")
    good = run / "tiles" / "32614_0000_0001.tif"
    good.write_bytes(b"ours")
    (run / "tiles" / "32614_0000_0002.tif").symlink_to(outside)
    recs = [{"id": "32614_0000_0000", "status": "done", "file": str(outside), "sha256": _tile_sha(outside)},
            {"id": "32614_0000_0003", "status": "done", "file": "../../elsewhere.tif", "sha256": _tile_sha(outside)},
            {"id": "32614_0000_0004", "status": "done", "file": "tiles/32614_0000_0001.tif", "sha256": _tile_sha(good)},
            {"id": "32614_0000_0002", "status": "done", "file": "tiles/32614_0000_0002.tif",
             "sha256": _tile_sha(outside)},
            {"id": "32614_0000_0001", "status": "done", "file": "tiles/32614_0000_0001.tif", "sha256": _tile_sha(good),
             "checkpoint_sha256": "a" * 64}]
    (run / "manifest.json").write_text(json.dumps({"version": 1, "params": {}, "chunks": recs}))
    m = Manifest.load(run / "manifest.json")
    assert [m.is_complete(r["id"]) for r in recs] == [False, False, False, False, True]
    assert {r["id"]: r["status"] for r in m.done()} == {"32614_0000_0001": "done", "32614_0000_0002": "done"}
    assert all("file" not in m.chunks[i] for i in ("32614_0000_0000", "32614_0000_0003", "32614_0000_0004"))
    assert not m.is_complete("32614_0000_0001", "b" * 64)  # made with another checkpoint: run again
    bad = {"version": 1, "params": {}, "chunks": [{"id": "../x", "status": "done"}]}
    (run / "manifest.json").write_text(json.dumps(bad))
    with pytest.raises(Exception, match="cannot be read"):
        Manifest.load(run / "manifest.json")


def _clear_error(capsys, argv: list[str]) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - t0
    err = capsys.readouterr().err
    return code, err, seconds


def test_regions_and_chunkings_beyond_the_cap_are_refused_before_anything_is_written(tmp_path, capsys):
    """The whole world (68,040 chunks planned before) and --chunk-km 0.001 over a 1000 km box are refused at
    once from arithmetic on the bounds, naming the way to raise the cap; nothing is written."""
    out = tmp_path / "o"
    base = ["region", "flood", "--start", DAY, "--end", DAY, "--out", str(out)]
    code, err, seconds = _clear_error(capsys, [*base, "--bbox", "-180", "-84", "180", "84"])
    assert code == 2 and seconds < 10, (err, seconds)
    assert err.startswith("geofm: error: The region needs up to ") and "--max-chunks" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    code, err, seconds = _clear_error(capsys, [*base, "--bbox", "-100", "30", "-90", "40", "--chunk-km", "0.001"])
    assert code == 2 and seconds < 10 and "chunks of 6.72 km" in err, (err, seconds)
    code, err, _ = _clear_error(capsys, [*base, "--bbox", "-96.3", "41.4", "-96.2", "41.5", "--chunk-km", "1e6"])
    assert code == 2 and "largest chunk" in err
    assert not out.exists()
    # the estimate is exact for a box in one zone and never below the plan; the cap can be raised
    from geofm.data import AOI
    from geofm.errors import InputError
    from geofm.region.chunks import chunk_pixels, estimate_chunks
    from geofm.region.driver import check_size

    assert estimate_chunks(FREMONT_BOX, 224) == 4
    world = [("w", AOI.from_bbox(-180, -84, 180, 84, max_km=1e9))]
    with pytest.raises(InputError, match="more than the limit of 10,000 chunks") as refused:
        check_size(world, chunk_pixels(50), 50, REGION.max_chunks)
    assert "--max-chunks" in refused.value.hint
    assert check_size(world, chunk_pixels(50), 50, 10**6) >= 68_040


def test_bad_arguments_end_in_one_clear_line_and_leave_nothing(tmp_path, capsys):
    """--scheduler not-an-address, --chunk-km inf/nan/0/-1, --out under a regular file and GeoJSON nested
    thousands of levels deep: each one line `geofm: error: …`, exit 2, nothing written."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    deep = tmp_path / "deep.geojson"
    deep.write_text('{"type": "Polygon", "coordinates": ' + "[" * 5000 + "]" * 5000 + "}")
    out = tmp_path / "o"
    bbox = ["--bbox", "-96.3", "41.4", "-96.2", "41.5"]
    base = ["region", "flood", "--start", DAY, "--end", DAY]
    cases = {
        "not a Dask scheduler address": [*base, *bbox, "--out", str(out), "--scheduler", "not-an-address"],
        "got inf": [*base, *bbox, "--out", str(out), "--chunk-km", "inf"],
        "got nan": [*base, *bbox, "--out", str(out), "--chunk-km", "nan"],
        "got -1": [*base, *bbox, "--out", str(out), "--chunk-km", "-1"],
        "which is a file": [*base, *bbox, "--out", str(afile / "sub" / "run")],
        "nested too deeply": [*base, "--geojson", str(deep), "--out", str(out)],
    }
    for expect, argv in cases.items():
        code, err, seconds = _clear_error(capsys, argv)
        assert code == 2 and err.startswith("geofm: error: ") and expect in err, (expect, err)
        assert err.count("\n") == 1 and seconds < 10, (expect, err, seconds)
    assert not out.exists() and afile.read_text() == "x"


def _silent_port() -> tuple[int, object]:
    """A live TCP port that accepts connections and never says a word (not Dask)."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []

    def serve() -> None:
        while True:
            try:
                held.append(srv.accept()[0])
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], srv


def test_a_live_port_that_is_not_dask_is_one_clear_error_within_the_time_limit(standin, tmp_path, capsys,
                                                                                 monkeypatch):
    """--scheduler at a port that accepts and never answers: connection + handshake together are bounded by
    the limit (20 s in the product, 3 s here; before: no answer after 90 s); the failed start leaves no manifest
    (nor folder), so a plain rerun is not blocked."""
    import dataclasses
    import threading

    from geofm.region import cluster

    assert REGION.scheduler_timeout_s == 20.0
    monkeypatch.setattr(cluster, "REGION", dataclasses.replace(REGION, scheduler_timeout_s=3.0))
    port, srv = _silent_port()
    out = tmp_path / "o"
    argv = ["region", "flood", "--bbox", *map(str, FREMONT_BOX), "--start", DAY, "--end", DAY, "--out", str(out),
            "--scheduler", f"tcp://127.0.0.1:{port}"]
    codes: list[int] = []
    try:
        t0 = time.perf_counter()
        worker = threading.Thread(target=lambda: codes.append(main(argv)), daemon=True)
        worker.start()
        worker.join(75)
        seconds = time.perf_counter() - t0
        err = capsys.readouterr().err
        assert not worker.is_alive(), f"the run still hangs after {seconds:.0f} s on a port that does not speak Dask"
        assert codes == [2] and 3.0 <= seconds < 3.0 + 10, (err, seconds)
        limit = "3"
        assert f"geofm: error: No Dask scheduler answered at tcp://127.0.0.1:{port} within {limit} s" in err, err
        assert "Traceback" not in err and not out.exists()
    finally:
        srv.close()


def test_a_failing_host_gets_one_retry_budget_per_request(standin, tiny_models, tmp_path, monkeypatch):
    """Every request has GEOFM_HTTP_RETRIES retries in all: GDAL's, not multiplied by a re-open of the read
    and runs of the chunk (before: 2 x 2 x 3 = 12 requests per file with one retry, 24 with three)."""
    monkeypatch.setenv("GEOFM_HTTP_RETRIES", "1")
    standin.fail_next(100000, status=500, match=f"T{TILES[1].name}")
    standin.reset_stats()
    res = run_region("flood", (-95.62, 41.40, -95.59, 41.42), DAY, DAY, tmp_path / "o", workers=1,
                     processes=False, chunk_km=CHUNK_KM, weights_dir=tiny_models, device=DEVICE)
    assert not res.ok and res.chunks_total == 1 and len(res.failed) == 1 and "HTTP 500" in res.failed[0][1]
    from collections import Counter

    per_file = Counter(standin.stats.fault_paths)
    assert per_file and max(per_file.values()) <= 2, per_file


@pytest.mark.slow
def test_region_command_is_quiet_by_default_and_its_outputs_follow_the_umask(standin, published_weights_dir,
                                                                               tmp_path, capsys):
    """Issue 19 (17, 18): no Dask INFO lines without -v (there were about 15), and the mosaic, manifest and STAC
    item get the user's usual file mode (they were 0600)."""
    out = tmp_path / "quiet"
    old = os.umask(0o022)
    try:
        code = main(["region", "flood", "--bbox", str(LON - 0.02), str(LAT - 0.01), str(LON + 0.01), str(LAT + 0.01),
                     "--start", DAY, "--end", DAY, "--out", str(out), "--workers", "1",
                     "--weights-dir", str(published_weights_dir), "--device", DEVICE])
    finally:
        os.umask(old)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "INFO" not in err and "distributed" not in err, err
    assert "chunk 1 of 1 done" in err and "Dask dashboard" in err  # what the user asked for stays
    for name in (REGION.mosaic_name, REGION.manifest_name, REGION.item_name):
        assert (out / name).stat().st_mode & 0o777 == 0o644, name



@pytest.mark.slow
def test_a_region_in_bf16_equals_geofm_run_in_bf16_and_resumes_only_in_bf16(standin, published_weights_dir,
                                                                              tmp_path, capsys):
    """`geofm region --precision` as `geofm run --precision`: the region ran fp32 whatever was asked, so with bf16
    set it differed from the run it promises to equal. A resume with another precision is refused."""
    box = (FREMONT_BOX[0], FREMONT_BOX[1], FREMONT_BOX[0] + 0.04, FREMONT_BOX[1] + 0.04)  # one chunk
    single = tmp_path / "single.tif"
    code = main(["run", "flood", "--bbox", *map(str, box), "--start", DAY, "--end", DAY, "--out", str(single),
                 "--weights-dir", str(published_weights_dir), "--device", DEVICE, "--precision", "bf16"])
    assert code == 0, capsys.readouterr().err
    out = tmp_path / "region"
    code = main(["region", "flood", "--bbox", *map(str, box), "--start", DAY, "--end", DAY, "--out", str(out),
                 "--workers", "1", "--chunk-km", str(CHUNK_KM), "--weights-dir", str(published_weights_dir),
                 "--device", DEVICE, "--precision", "bf16"])
    assert code == 0, capsys.readouterr().err
    want, got = _read(single)[0], _read(out / REGION.mosaic_name)[0]
    assert got.shape == want.shape and (got == want).all()
    assert json.loads((out / REGION.manifest_name).read_text())["params"]["precision"] == "bf16"
    capsys.readouterr()
    code = main(["region", "flood", "--bbox", *map(str, box), "--start", DAY, "--end", DAY, "--out", str(out),
                 "--workers", "1", "--chunk-km", str(CHUNK_KM), "--weights-dir", str(published_weights_dir),
                 "--device", DEVICE, "--precision", "fp32", "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and "other settings (precision)" in err and "Traceback" not in err


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_chunk_runs_in_the_precision_geofm_run_uses(tiny_models, monkeypatch, precision):
    """A region's chunk follows GEOFM_PRECISION as `geofm run` does (it ran fp32 whatever the setting, so with
    bf16 set a region differed from the run it promises to equal)."""
    from affine import Affine
    from rasterio.crs import CRS

    from geofm.inference.model_cache import get_model
    from geofm.pipeline import run_segmentation
    from geofm.region.chunks import Span
    from geofm.region.infer import segment_core
    from geofm.stack import HLSStack
    from tests.geotiff_helpers import hls_like

    import torch

    monkeypatch.setenv("GEOFM_PRECISION", precision)
    # fp32: 2 x 2 overlapping windows; bf16 (slow on a CPU without bf16 units): 2 overlapping windows
    h, w = (300, 260) if precision == "fp32" else (224, 260)
    stack = HLSStack(hls_like(1, h, w, seed=3), np.ones((1, h, w), bool), CRS.from_epsg(32614),
                     Affine(30, 0, 700020, 0, -30, 4600020))
    model, spec = get_model("flood", weights_dir=tiny_models, device=torch.device("cpu"))
    whole = Span(0, h, 0, w)
    chunk, windows = segment_core(model, spec, stack, whole, whole, device=torch.device("cpu"), batch_size=None)
    run = run_segmentation("flood", stack, weights_dir=tiny_models, device="cpu")
    assert windows == (4 if precision == "fp32" else 2) and run.precision == precision
    assert (chunk == run.classes).all()
    other = run_segmentation("flood", stack, weights_dir=tiny_models, device="cpu",
                             precision="bf16" if precision == "fp32" else "fp32")
    assert (other.classes != run.classes).sum() > 0  # the precisions really give different maps here
