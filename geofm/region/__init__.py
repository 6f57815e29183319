"""Regions larger than one machine: chunked, resumable runs on Dask (``geofm region``).

A region is cut into chunks on its UTM grid (per zone when it spans zones); each chunk reads its core plus
the halo its windows need, runs on a Dask worker and is written as one COG under ``tiles/``; the manifest
records chunks, scenes, status and checksums; the mosaic and a STAC Item describe the whole.
"""

from geofm.region.driver import BatchResult, RegionResult, parse_regions, run_region

__all__ = ["BatchResult", "RegionResult", "parse_regions", "run_region"]
