"""``python -m geofm``: the command line. Each sub-command lives in its own module."""

from __future__ import annotations

import argparse
import logging
import sys

from geofm.errors import GeofmError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    from geofm.cli import evaluate, run, search, weights

    parser = argparse.ArgumentParser(prog="geofm", description="Run Prithvi models on HLS imagery.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log what happens (-v: warnings such as retries and waits; -vv: details)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (run, evaluate, search, weights):
        module.add_parser(sub)
    return parser


def _configure_logging(verbose: int) -> None:
    """Errors reach the user as one ``geofm: error:`` line; the log (retries, waits, services' answers) is
    shown only when asked for with -v."""
    level = {0: logging.ERROR + 10, 1: logging.WARNING}.get(verbose, logging.INFO)
    logging.basicConfig(level=level, format="geofm: %(levelname)s: %(name)s: %(message)s", force=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return int(args.handler(args) or 0)
    except GeofmError as err:
        print(f"geofm: error: {err.user_message()}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("geofm: interrupted", file=sys.stderr)
        return 130
