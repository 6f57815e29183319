"""``geofm series TASK``: one single-date class-map task over every clear date of a range."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from geofm.config import ENV_PRECISION, ENV_STAC_URL, ENV_WEIGHTS_DIR, PRECISIONS, SERIES, TASKS
from geofm.errors import InputError

EPILOG = f"""\
dates: every date with HLS scenes over the area (one mosaic of the day's tiles per date, as the app's
  Explore table) whose clear share of the area is at least --min-clear; at most {SERIES.max_days} days and
  {SERIES.max_frames} dates. Tasks: the single-date class maps (flood, burn-scars).
outputs (in DIR):
  YYYY-MM-DD.tif        class-map COG per date (as `geofm run`), provenance tags, YYYY-MM-DD.item.json
  series.csv            date, sensor, clear share, target area km2 and its share of the clear area, scene ids;
                        left-out dates with the reason
  series.png            the target area through time, clear share shown, gaps for left-out dates
  timelapse.gif         true colour with the layer, the date and area on each frame, the legend
  change.tif            recurrence: band 1 dates each pixel was the target class, band 2 dates it was clear
  item.json             a STAC Collection linking an Item per date
  series.json           the manifest --resume checks (sha256 of each date's COG)
examples:
  geofm series flood --bbox 67.60 26.30 67.80 26.50 --start 2022-08-20 --end 2022-10-31 --out sindh-series
  geofm series burn-scars --bbox -105.55 35.72 -105.45 35.80 --start 2022-09-01 --end 2022-11-30 --out hp
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("series", help="run a task on every clear date of a range: table, chart, timelapse",
                       description="Run flood or burn-scar mapping on every clear date over an area.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=list(TASKS), help="what to run (flood, burn-scars)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--bbox", nargs=4, type=float, metavar=("W", "S", "E", "N"), help="area in degrees")
    src.add_argument("--geojson", type=Path, metavar="FILE", help="area as a GeoJSON Polygon / Feature")
    p.add_argument("--start", required=True, help="first date (YYYY-MM-DD)")
    p.add_argument("--end", required=True, help="last date (YYYY-MM-DD)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--max-cloud", type=float, default=SERIES.max_cloud, metavar="P",
                   help=f"largest scene cloud cover in %% (default {SERIES.max_cloud:g}: every scene; the clear "
                        "share over the area decides, see --min-clear)")
    p.add_argument("--min-clear", type=float, default=100 * SERIES.min_clear, metavar="P",
                   help=f"least clear share of the area for a date to run, %% (default {100 * SERIES.min_clear:g})")
    p.add_argument("--model", default=None, metavar="M", help="registry model (default: the task's)")
    p.add_argument("--weights-dir", type=Path, help=f"folder with the weight files (also ${ENV_WEIGHTS_DIR})")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="auto = CUDA GPU when there is one, else CPU")
    p.add_argument("--batch-size", type=int, default=None, help="windows per forward pass (default: by device)")
    p.add_argument("--precision", default=None, metavar="{" + ",".join(PRECISIONS) + "}",
                   help=f"model precision (default ${ENV_PRECISION} or auto)")
    p.add_argument("--stac-url", metavar="URL", help=f"STAC API (default ${ENV_STAC_URL} or Planetary Computer)")
    p.add_argument("--resume", action="store_true",
                   help="continue the series in DIR: skip dates whose COG matches the manifest's checksum")
    p.set_defaults(handler=series_command)


def _area(args: argparse.Namespace):  # noqa: ANN202
    from geofm.data.aoi import AOI  # lazy: rasterio

    if args.bbox:
        return AOI.from_bbox(*args.bbox, max_km=float("inf"))
    try:
        raw = json.loads(Path(args.geojson).read_text())
    except FileNotFoundError:
        raise InputError(f"The GeoJSON file {args.geojson} does not exist.") from None
    except (OSError, ValueError) as err:
        raise InputError(f"{args.geojson} is not readable GeoJSON ({type(err).__name__}).") from None
    return AOI.from_geojson(raw, max_km=float("inf"))


def _note(stage: str, message: str, fraction: float | None = None) -> None:
    if fraction is None:
        print(f"geofm: {message}", file=sys.stderr, flush=True)
    elif sys.stderr.isatty():
        print(f"\rgeofm: {message}", end="\n" if fraction >= 1.0 else "", file=sys.stderr, flush=True)


def series_command(args: argparse.Namespace) -> int:
    """Handler of ``geofm series``: check, run, print one line per date and where the products are."""
    from geofm.series import run_series  # lazy: torch

    if args.batch_size is not None and args.batch_size < 1:
        raise InputError("--batch-size must be at least 1.")
    if args.precision is not None:
        from geofm.inference.precision import check_precision  # lazy: torch

        args.precision = check_precision(args.precision)
    if not 0 <= args.min_clear <= 100:
        raise InputError(f"--min-clear must be between 0 and 100 (%); got {args.min_clear:g}.")
    from geofm.series.dates import check_series_range, check_series_task  # lazy: torch

    check_series_task(args.task)  # before the area: a task that has no series is the first thing to say
    check_series_range(args.start, args.end)
    result = run_series(args.task, _area(args), args.start, args.end, args.out, max_cloud=args.max_cloud,
                        min_clear=args.min_clear / 100.0, model=args.model, device=args.device,
                        precision=args.precision, batch_size=args.batch_size, stac_url=args.stac_url,
                        weights_dir=args.weights_dir, resume=args.resume, progress=_note)
    for row in result.rows:
        if row.status == "kept":
            print(f"{row.date} {row.sensor}: {row.target} {row.area_km2:.2f} km2 ({row.percent_of_clear:.1f}% of "
                  f"{row.clear_km2:.2f} km2 clear), {row.clear_percent:.0f}% clear")
        else:
            print(f"{row.date} {row.sensor}: left out, {row.reason}")
    kept = len(result.kept)
    print(f"wrote {args.out}: {kept} dates ({len(result.run_dates)} run, {len(result.resumed_dates)} already "
          f"complete), {len(result.rows) - kept} left out; model {result.model_seconds:.1f} s, total "
          f"{result.seconds:.1f} s on {result.device}")
    return 0
