"""``geofm region flood|crops|reconstruct``: a region of any size, chunked and run on Dask."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from geofm.config import DEFAULTS, ENV_PRECISION, ENV_STAC_URL, ENV_WEIGHTS_DIR, PRECISIONS, REGION, TASKS
from geofm.errors import InputError

#: Exit status when the run finished but some chunks (or features) failed.
EXIT_PARTIAL = 1

EPILOG = f"""\
outputs (in DIR):
  tiles/          one COG per chunk, on the region's UTM grid (the zone's grid for regions across zones)
  mosaic.tif      COG of the whole region in the UTM zone of its centre (other zones' tiles reprojected,
                  nearest neighbour), built only from complete chunks
  manifest.json   chunks, scenes per chunk, status, errors and sha256 checksums (what --resume checks)
  item.json       a STAC Item describing the result
  --geojson with a FeatureCollection of several features: one such folder per feature and summary.csv.

cluster: without --scheduler a local Dask cluster of --workers processes (default: one per GPU, else one per
  two cores); with --scheduler tcp://HOST:8786 the chunks run on that cluster (workers must see DIR and the
  weights folder at the same paths).
weights: --weights-dir or ${ENV_WEIGHTS_DIR}, then the Hugging Face cache.  STAC: --stac-url or ${ENV_STAC_URL}.
examples:
  geofm region flood --bbox -96.6 41.2 -95.5 41.7 --start 2022-03-01 --end 2022-04-30 --out flood-region
  geofm region crops --geojson counties.geojson --start 2022-04-01 --end 2022-09-30 --out crops --workers 4
  geofm region flood --bbox ... --start ... --end ... --out DIR --scheduler tcp://10.0.0.5:8786 --resume
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("region", help="run a task over a region of any size, chunked on Dask",
                       description="Run flood mapping, crop classification or MAE reconstruction over a large "
                                   "region (or one result per feature), chunk by chunk on a Dask cluster.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=TASKS, help="what to run")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--bbox", nargs=4, type=float, metavar=("W", "S", "E", "N"), help="region in degrees")
    src.add_argument("--geojson", type=Path, metavar="FILE",
                     help="a Polygon/Feature (one region) or a FeatureCollection (one result per feature)")
    p.add_argument("--start", required=True, help="first date (YYYY-MM-DD)")
    p.add_argument("--end", required=True, help="last date (YYYY-MM-DD)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: one per GPU, else one per two cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on this existing Dask scheduler instead")
    p.add_argument("--chunk-km", type=float, default=REGION.chunk_km, metavar="K",
                   help=f"chunk side in km, rounded to whole 224-px units (default {REGION.chunk_km:g})")
    p.add_argument("--max-cloud", type=float, default=DEFAULTS.max_cloud, metavar="P",
                   help=f"largest scene cloud cover in %% (default {DEFAULTS.max_cloud:g})")
    p.add_argument("--stac-url", metavar="URL", help=f"STAC API (default ${ENV_STAC_URL} or Planetary Computer)")
    p.add_argument("--weights-dir", type=Path, metavar="DIR",
                   help=f"folder with the weight files (also ${ENV_WEIGHTS_DIR})")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="auto = each worker's GPU when there is one, else CPU")
    p.add_argument("--max-chunks", type=int, default=REGION.max_chunks, metavar="N",
                   help=f"refuse a region that needs more chunks than this (default {REGION.max_chunks:,}); "
                        "checked before anything is written")
    p.add_argument("--precision", default=None, metavar="{" + ",".join(PRECISIONS) + "}",
                   help=f"model precision, as for geofm run (default ${ENV_PRECISION} or auto: bf16 on GPUs with "
                        "compute capability >= 8.0, fp16 on older GPUs, fp32 on CPU); a --resume must use the same")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in DIR: skip chunks whose tiles match the manifest's checksums")
    p.set_defaults(handler=region_command)


class _Bar:
    """A progress bar over chunks on stderr (redrawn on a terminal, one line per update otherwise)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()

    def __call__(self, stage: str, message: str, fraction: float | None = None) -> None:
        if fraction is None or stage != "region":
            print(f"geofm: {message}", file=sys.stderr, flush=True)
            return
        width = 30
        filled = round(width * min(1.0, max(0.0, fraction)))
        line = f"geofm: [{'#' * filled}{'.' * (width - filled)}] {message}"
        if self.tty:
            print(f"\r{line}", end="\n" if fraction >= 1.0 else "", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def region_command(args: argparse.Namespace) -> int:
    """Handler of ``geofm region``: run, then print where the results are and which chunks failed."""
    from geofm.region import BatchResult, run_region  # lazy: torch

    if args.geojson is not None and not args.geojson.is_file():
        raise InputError(f"The GeoJSON file {args.geojson} does not exist.")
    region = tuple(args.bbox) if args.bbox else args.geojson
    result = run_region(args.task, region, args.start, args.end, args.out, workers=args.workers,
                        scheduler=args.scheduler, chunk_km=args.chunk_km, max_cloud=args.max_cloud,
                        stac_url=args.stac_url, weights_dir=args.weights_dir, device=args.device,
                        resume=args.resume, max_chunks=args.max_chunks, precision=args.precision,
                        progress=_Bar())
    results = result.results if isinstance(result, BatchResult) else [result]
    for r in results:
        for chunk_id, reason in r.failed:
            print(f"geofm: {r.id}: chunk {chunk_id} failed: {reason}", file=sys.stderr)
        if r.error:
            print(f"geofm: {r.id}: {r.error}", file=sys.stderr)
        where = r.mosaic if r.mosaic else "no mosaic (no chunk completed)"
        print(f"{r.id}: {r.status}; {r.chunks_done} of {r.chunks_total} chunks, {r.area_km2:.1f} km2, "
              f"{len(r.scenes)} scenes; {where}")
    if isinstance(result, BatchResult):
        print(f"summary: {result.summary}")
    return 0 if result.ok else EXIT_PARTIAL
