"""``python -m geofm``: the command line. Each sub-command lives in its own module."""

from __future__ import annotations

import argparse
import sys

from geofm.errors import GeofmError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    from geofm.cli import region, run, search, weights

    parser = argparse.ArgumentParser(prog="geofm", description="Run Prithvi models on HLS imagery.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (run, search, weights, region):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except GeofmError as err:
        print(f"geofm: error: {err.user_message()}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("geofm: interrupted", file=sys.stderr)
        return 130
