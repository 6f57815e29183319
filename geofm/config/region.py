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

