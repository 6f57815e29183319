"""Region and series runs: `geofm region` (chunked runs on Dask) and `geofm series` (a task over every clear date)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegionDefaults:
    """Settings of region runs (``geofm region``, ``geofm.region.run_region``)."""

    #: Chunk side in km; rounded to whole multiples of ``chunk_multiple_px`` pixels (at least one).
    chunk_km: float = 50.0
    #: Chunk origins and sides are multiples of this (the MAE's 224-px windows, two 112-px strides), so every
    #: chunk's windows are a subset of the single-process window grid.
    chunk_multiple_px: int = 224
    #: Runs of a chunk before it is marked failed. One: every request of a chunk already has its retry budget
    #: (GEOFM_HTTP_RETRIES, spent by GDAL per request), and running the chunk again would multiply it.
    chunk_attempts: int = 1
    #: Seconds to wait before the second try of a chunk (doubled for each further try).
    retry_delay_s: float = 2.0
    #: Cores per worker process when no worker count is given and there is no GPU.
    cores_per_worker: int = 2
    #: MB of fetched COG bytes a worker process keeps for its next chunks (neighbours share halo blocks).
    worker_block_cache_mb: int = 256
    #: Most chunks one run plans (all features of a batch together); ``--max-chunks`` raises it. The manifest
    #: (about 140 bytes a chunk) is rewritten after every chunk, and planning is linear in the chunks.
    max_chunks: int = 10_000
    #: Largest chunk side in km: a chunk's core + halo is read into one worker's memory.
    max_chunk_km: float = 100.0
    #: Seconds to reach an existing scheduler (--scheduler), connection and handshake together.
    scheduler_timeout_s: float = 20.0
    #: Output names inside the run folder.
    tiles_dir: str = "tiles"
    mosaic_name: str = "mosaic.tif"
    manifest_name: str = "manifest.json"
    item_name: str = "item.json"
    summary_name: str = "summary.csv"


REGION = RegionDefaults()



@dataclass(frozen=True)
class SeriesLimits:
    """Settings and caps of a series (``geofm series``, ``geofm.series.run_series``)."""

    #: Longest date range, days (a year, leap years included); longer ranges are refused.
    max_days: int = 366
    #: Default least clear share of the area for a date to be run (the mosaic's Fmask over the area).
    min_clear: float = 0.5
    #: Default largest scene cloud cover, %: every scene is considered (a tile's cloud cover says little about a
    #: small area's), so the clear share over the area decides and cloudy dates are listed with the reason.
    max_cloud: float = 100.0
    #: Most dates (timelapse frames) one series makes; more are refused before anything is read.
    max_frames: int = 120
    #: Dates read and run together (their windows share forward passes); bounds the memory of a series.
    group_dates: int = 8
    #: Longest side of a timelapse frame's map, px (smaller areas are enlarged to ``frame_min_px``).
    frame_max_px: int = 640
    frame_min_px: int = 360
    #: Seconds each timelapse frame shows.
    frame_seconds: float = 0.8
    #: First guess of one model window's seconds for the estimate before a run (CPU: ``bench/inference.py`` on a
    #: shared 2-core VM; GPU: the L4 estimate in the README), replaced by what the last series measured.
    window_seconds_cpu: float = 1.5
    window_seconds_gpu: float = 0.01
    #: Output names inside the series folder (the COGs are ``YYYY-MM-DD.tif``).
    manifest_name: str = "series.json"
    csv_name: str = "series.csv"
    chart_name: str = "series.png"
    gif_name: str = "timelapse.gif"
    change_name: str = "change.tif"
    item_name: str = "item.json"


SERIES = SeriesLimits()
