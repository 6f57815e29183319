"""``python -m geofm``: the command line. Each sub-command lives in its own module."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from geofm.errors import GeofmError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    from geofm.cli import compare, evaluate, region, run, search, series, weights  # lazy: rasterio

    parser = argparse.ArgumentParser(prog="geofm", description="Run Prithvi models on HLS imagery.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log what happens (-v: warnings such as retries and waits; -vv: details)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (run, evaluate, compare, search, weights, region, series):
        module.add_parser(sub)
    return parser


def _configure_logging(verbose: int) -> None:
    """Errors reach the user as one ``geofm: error:`` line; the log (retries, waits, services' answers) is
    shown only when asked for with -v."""
    level = {0: logging.ERROR + 10, 1: logging.WARNING}.get(verbose, logging.INFO)
    logging.basicConfig(level=level, format="geofm: %(levelname)s: %(name)s: %(message)s", force=True)
    # Libraries that set their own loggers' levels (Dask's distributed logs at INFO by its config) still reach
    # this handler through propagation, whatever the root level: the handler itself keeps to the chosen level.
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C so temporary outputs are removed and nothing half-written stays."""


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_now_if_stuck(code: int) -> int:
    """After Ctrl-C or SIGTERM: reader threads blocked on a stalled server would keep the process alive at
    interpreter exit (thread pools are joined); outputs are already cleaned up, so leave at once."""
    stuck = [t for t in threading.enumerate() if t.name.startswith("geofm-read") and t.is_alive()]
    if stuck and threading.current_thread() is threading.main_thread():
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        with _sigterm_unwinds():
            return int(args.handler(args) or 0)
    except GeofmError as err:
        print(f"geofm: error: {err.user_message()}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("geofm: interrupted", file=sys.stderr)
        return _exit_now_if_stuck(130)
    except Terminated:
        print("geofm: terminated", file=sys.stderr)
        return _exit_now_if_stuck(143)
