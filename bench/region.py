"""Region benchmark: one Dask worker vs two over the stand-in, windows/s and bytes read vs the region's blocks.

    python bench/region.py [--chunk-km 13.44] [--read-chunk-km 26.88] [--device cpu|cuda]

1. Model-bound: flood (full-size Prithvi segmenter, random weights in the published layout) over a ~26 x 26 km
   region inside tile 14TQL, 2 x 2 chunks, on a LocalCluster of 1 and then 2 worker processes with one torch
   thread each (a worker stands for one GPU or machine). windows/s counts the windows the chunks ran (halo
   windows included) over the time from the first chunk submitted to the last one done (the cluster start and
   each worker's one-time model load are excluded and printed separately).
2. Bytes, against "the region's blocks" (the compressed COG blocks the region touches in each file a
   single-process run reads: 6 bands + Fmask of the date used, from the TIFF tables): the stand-in's
   image-file bytes of each timed run; of a read pass at ``--read-chunk-km`` over a ~50 km region on a
   LocalCluster of 1 and 2 workers set up as ``geofm region`` sets them up (worker plugin, each chunk's home
   worker, each worker's block cache) with the model left out, so chunks of a realistic size fit this
   machine's time; and the worst case of that pass, every chunk on another machine (cache cleared per chunk).

Prints one table and the ratios of this run. The machine's cores may be shared with other work; say so.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geofm.config import HLS_FMASK_ASSET, MODEL_BANDS, MODELS
from geofm.data import AOI, Grid
from geofm.data.signing import strip_query
from geofm.data.stac import search_hls
from tests.checkpoints import write_mmseg_checkpoint
from tests.standin import StandIn
from tests.standin.layout import DATES

CLEAR = next(d for d in DATES if not d.clouds and not d.fill_columns)
DAY = CLEAR.when.date().isoformat()
CENTRE = (-96.31, 41.47)  # inside tile 14TQL (UTM 14N) only


def _box(half_km: float) -> tuple[float, float, float, float]:
    import math

    lon, lat = CENTRE
    dlon = half_km / (111.32 * math.cos(math.radians(lat)))
    dlat = half_km / 110.57
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def _block_bytes_fn():
    spec = importlib.util.spec_from_file_location("bench_io", Path(__file__).with_name("io.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.area_block_bytes


def region_blocks(standin: StandIn, box: tuple[float, float, float, float]) -> int:
    """Compressed bytes of the blocks the region touches in the files a single-process run reads."""
    area_block_bytes = _block_bytes_fn()
    aoi = AOI.from_bbox(*box, max_km=1e9)
    grid = Grid.for_aoi(aoi)
    total = 0
    for scene in search_hls(aoi, DAY, DAY, max_cloud=100):
        for band in (*MODEL_BANDS, HLS_FMASK_ASSET):
            name = strip_query(scene.assets[band]).rsplit("/", 1)[-1]
            total += area_block_bytes(standin.folder / "files" / name, grid)
    return total


def timed_run(n: int, box, chunk_km: float, weights: Path, out: Path, device: str = "cpu") -> dict:
    from geofm.region import run_region

    marks: dict[str, float] = {}

    def note(stage: str, message: str, fraction: float | None = None) -> None:
        if stage == "region" and fraction is not None:
            marks.setdefault("first", time.perf_counter())
            marks["last"] = time.perf_counter()

    t0 = time.perf_counter()
    res = run_region("flood", box, DAY, DAY, out, workers=n, threads_per_worker=1, chunk_km=chunk_km,
                     weights_dir=weights, device=device, progress=note)
    total = time.perf_counter() - t0
    assert res.ok, res.failed
    chunk_s = marks["last"] - marks["first"]
    return {"windows": res.windows, "chunk_s": chunk_s, "total_s": total, "chunks": res.chunks_total}


def read_only_bytes(standin: StandIn, box, chunk_km: float) -> tuple[int, int]:
    """Bytes of choosing + reading every chunk (no model), each chunk with a cold /vsicurl/ cache."""
    from datetime import date

    from geofm.data.net import forget_http_file
    from geofm.region.chunks import chunk_pixels, make_chunks, read_span, zone_parts
    from geofm.region.job import ChunkJob, chunk_frames, read_frames

    spec = MODELS["prithvi-eo-1.0-100m-sen1floods11"]
    aoi = AOI.from_bbox(*box, max_km=1e9)
    scenes = search_hls(aoi, DAY, DAY, max_cloud=100)
    hrefs = [h for s in scenes for h in s.assets.values()]
    standin.reset_stats()
    n = 0
    for part in zone_parts(aoi):
        for chunk in make_chunks(part, chunk_pixels(chunk_km)):
            job = ChunkJob("flood", spec.name, chunk, part, scenes, date.fromisoformat(DAY), date.fromisoformat(DAY),
                           out_dir="")
            extent = read_span(chunk.core, part.grid, spec)
            grid = extent.grid(part.grid)
            read_frames(chunk_frames(job, extent), grid, grid.area_mask(part.aoi))
            for h in hrefs:
                forget_http_file(h)
            n += 1
    return standin.stats.file_bytes, n


def _read_chunk(job) -> int:
    """On a worker: choose the chunk's scenes and read its core + halo, as the region job does (no model)."""
    from geofm.region.chunks import read_span
    from geofm.region.job import chunk_frames, read_frames

    spec = MODELS[job.model]
    extent = read_span(job.chunk.core, job.part.grid, spec)
    grid = extent.grid(job.part.grid)
    read_frames(chunk_frames(job, extent), grid, grid.area_mask(job.part.aoi))
    return extent.height * extent.width


def dask_read_bytes(standin: StandIn, box, chunk_km: float, workers: int, weights: Path) -> tuple[int, int]:
    """Bytes of reading every chunk on a LocalCluster of ``workers`` processes, set up as ``geofm region`` sets
    them up (the worker plugin, each chunk's home worker, each worker's own block cache); only the model is
    left out, so larger chunks fit this machine's time."""
    from datetime import date

    from distributed import wait

    from geofm.region.assign import chunk_order, home_runs, tile_lattices
    from geofm.region.chunks import chunk_pixels, make_chunks, read_span, zone_parts
    from geofm.region.cluster import ModelPlugin, open_client
    from geofm.region.driver import _worker_names
    from geofm.region.job import ChunkJob

    spec = MODELS["prithvi-eo-1.0-100m-sen1floods11"]
    aoi = AOI.from_bbox(*box, max_km=1e9)
    scenes = search_hls(aoi, DAY, DAY, max_cloud=100)
    (part,) = zone_parts(aoi)
    chunks = make_chunks(part, chunk_pixels(chunk_km))
    jobs = [ChunkJob("flood", spec.name, chunk, part, scenes, date.fromisoformat(DAY), date.fromisoformat(DAY),
                     out_dir="") for chunk in chunks]
    plugin = ModelPlugin(spec.name, str(weights), "cpu", None)
    with open_client(workers=workers, scheduler=None, plugin=plugin) as client:
        standin.new_epoch()
        standin.reset_stats()
        names = _worker_names(client)
        cores = [c.core for c in chunks]
        order = chunk_order(cores, [read_span(c, part.grid, spec) for c in cores], len(names),
                            tile_lattices(scenes, part.grid, part.epsg))
        jobs = [jobs[i] for i in order]  # the hand-out order geofm region uses
        homes = home_runs(len(jobs), names)
        futures = [client.submit(_read_chunk, job, pure=False, priority=len(jobs) - i, workers=homes[i],
                                 allow_other_workers=True) for i, job in enumerate(jobs)]
        wait(futures)
        for fut in futures:
            fut.result()
        return standin.stats.file_bytes, len(jobs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunk-km", type=float, default=13.44, help="chunk side of the timed runs (448 px)")
    ap.add_argument("--read-chunk-km", type=float, default=26.88, help="chunk side of the read-only pass (896 px)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                    help="the timed runs' device (cuda: every worker on the one GPU)")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="geofm-bench-region-"))
    standin = StandIn.start(tmp / "standin")
    os.environ["GEOFM_STAC_URL"] = standin.url
    os.environ["GEOFM_CACHE_DIR"] = str(tmp / "cache")
    os.environ["PC_SDK_SAS_URL"] = f"{standin.url}/api/sas/v1/token"
    try:
        flood = MODELS["prithvi-eo-1.0-100m-sen1floods11"]
        (tmp / "w").mkdir()
        write_mmseg_checkpoint(tmp / "w" / flood.filename, flood.arch, 1, classes=(0, 1))
        speed_box = _box(12.5)  # ~25.9 km: 2 x 2 chunks of 448 px
        runs = {}
        for n in (1, 2):
            standin.new_epoch()
            standin.reset_stats()
            runs[n] = timed_run(n, speed_box, args.chunk_km, tmp / "w", tmp / f"out{n}", args.device)
            runs[n]["bytes"] = standin.stats.file_bytes
        blocks_small = region_blocks(standin, speed_box)
        read_box = _box(24.0)  # ~49.6 km: 2 x 2 chunks of 896 px
        dask_bytes = {n: dask_read_bytes(standin, read_box, args.read_chunk_km, n, tmp / "w")[0] for n in (1, 2)}
        standin.new_epoch()
        read_bytes, read_chunks = read_only_bytes(standin, read_box, args.read_chunk_km)
        blocks_big = region_blocks(standin, read_box)
        from geofm.data import load_task_stack

        standin.new_epoch()
        standin.reset_stats()
        os.environ["GEOFM_CACHE_DIR"] = str(tmp / "cache-single")
        load_task_stack("flood", AOI.from_bbox(*read_box, max_km=1e9), DAY, DAY, max_cloud=100)
        single_bytes = standin.stats.file_bytes
    finally:
        standin.close()
        shutil.rmtree(tmp, ignore_errors=True)  # the stand-in's files, weights and outputs (several GB)
    print(f"region bench over the stand-in (flood, {DAY}, {args.device.upper()}; cores: {os.cpu_count()}, "
          "shared with other work)")
    print(f"{'workers':>8} {'chunks':>6} {'windows':>7} {'chunk s':>8} {'windows/s':>9} {'total s':>8} {'MB read':>8}")
    for n, r in runs.items():
        print(f"{n:>8} {r['chunks']:>6} {r['windows']:>7} {r['chunk_s']:>8.1f} {r['windows'] / r['chunk_s']:>9.2f} "
              f"{r['total_s']:>8.1f} {r['bytes'] / 1e6:>8.2f}")
    speedup = (runs[2]["windows"] / runs[2]["chunk_s"]) / (runs[1]["windows"] / runs[1]["chunk_s"])
    print(f"speed-up with 2 workers: {speedup:.2f}x (target >= 1.7x)")
    print(f"bytes / region's blocks, timed runs ({args.chunk_km:g} km chunks): "
          f"{runs[1]['bytes'] / blocks_small:.2f}x (1 worker), {runs[2]['bytes'] / blocks_small:.2f}x (2 workers); "
          f"blocks {blocks_small / 1e6:.2f} MB")
    print(f"bytes / region's blocks, read pass on the cluster ({args.read_chunk_km:g} km chunks, {read_chunks} chunks, "
          f"no model): {dask_bytes[1] / blocks_big:.2f}x (1 worker), {dask_bytes[2] / blocks_big:.2f}x (2 workers) "
          f"(target <= 1.3x); blocks {blocks_big / 1e6:.2f} MB")
    print(f"  worst case, every chunk on another machine (cold cache per chunk): {read_bytes / blocks_big:.2f}x")
    print(f"  the same region read by one process (geofm run's reader): {single_bytes / blocks_big:.2f}x the blocks; "
          f"chunked / one process: {read_bytes / single_bytes:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
