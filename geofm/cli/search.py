"""``geofm search``: list HLS scenes (L30 + S30) over an area and dates, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from geofm.config import DEFAULTS, ENV_STAC_URL
from geofm.errors import InputError

EPILOG = f"""\
examples:
  geofm search --bbox 67.60 26.30 67.80 26.50 --start 2022-08-25 --end 2022-09-12
  geofm search --bbox -96.56 41.40 -96.48 41.45 --start 2022-04-01 --end 2022-09-30 --max-cloud 10 --json
STAC endpoint: --stac-url, else ${ENV_STAC_URL}, else Microsoft Planetary Computer.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="list HLS scenes over an area and dates",
                       description="Search HLS v2 L30 and S30 scenes through STAC.", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    area = p.add_mutually_exclusive_group(required=True)
    area.add_argument("--bbox", nargs=4, type=float, metavar=("W", "S", "E", "N"),
                      help="area in degrees (WGS84 longitude/latitude)")
    area.add_argument("--geojson", type=Path, metavar="FILE", help="area as a GeoJSON Polygon or Feature file")
    p.add_argument("--start", required=True, help="first date, YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last date, YYYY-MM-DD")
    p.add_argument("--max-cloud", type=float, default=DEFAULTS.max_cloud,
                   help=f"largest scene cloud cover in %% (default {DEFAULTS.max_cloud:g})")
    p.add_argument("--limit", type=int, default=200, help="at most this many scenes (default 200)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--stac-url", help=f"STAC API (default ${ENV_STAC_URL} or Planetary Computer)")
    p.set_defaults(handler=run_search)


def _aoi(args: argparse.Namespace):  # -> AOI
    from geofm.data import AOI  # lazy: rasterio

    if args.bbox:
        return AOI.from_bbox(*args.bbox)
    from geofm.data.aoi import read_geojson_file  # lazy: rasterio

    return AOI.from_geojson(read_geojson_file(args.geojson))  # size and nesting checked before parsing


def format_table(scenes: list) -> str:
    """A fixed-width table: id, date and time (UTC), sensor, tile, cloud %."""
    rows = [("ID", "DATE (UTC)", "SENSOR", "TILE", "CLOUD %")]
    rows += [(s.id, s.datetime.strftime("%Y-%m-%d %H:%M"), s.sensor, s.tile, f"{s.cloud_cover:.1f}") for s in scenes]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    return "\n".join(lines)


def run_search(args: argparse.Namespace) -> int:
    from geofm.data import search_hls  # lazy: rasterio

    if args.limit < 1:
        raise InputError("--limit must be at least 1.")
    scenes = search_hls(_aoi(args), args.start, args.end, max_cloud=args.max_cloud, stac_url=args.stac_url,
                        limit=args.limit)
    if args.json:
        json.dump([s.to_dict() for s in scenes], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(format_table(scenes))
        print(f"{len(scenes)} scene{'s' if len(scenes) != 1 else ''}")
    return 0
