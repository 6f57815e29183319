"""`geofm search` (placeholder: being written)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="(not yet available)")
    p.set_defaults(handler=lambda args: 1)
