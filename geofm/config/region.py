"""Region runs (geofm region): chunked runs on Dask."""

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
    #: Tries per chunk for transient faults (image host errors, time-outs) before the chunk is marked failed.
    chunk_attempts: int = 3
    #: Seconds to wait before the second try of a chunk (doubled for each further try).
    retry_delay_s: float = 2.0
    #: Cores per worker process when no worker count is given and there is no GPU.
    cores_per_worker: int = 2
    #: MB of fetched COG bytes a worker process keeps for its next chunks (neighbours share halo blocks).
    worker_block_cache_mb: int = 256
    #: Output names inside the run folder.
    tiles_dir: str = "tiles"
    mosaic_name: str = "mosaic.tif"
    manifest_name: str = "manifest.json"
    item_name: str = "item.json"
    summary_name: str = "summary.csv"


REGION = RegionDefaults()

