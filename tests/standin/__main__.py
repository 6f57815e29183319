"""`python -m tests.standin [--port 0] [--dir DIR]`: start the stand-in and print its URL (Ctrl-C stops);
the CMR mode's URL and the Earthdata hosts and login go to stderr."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.standin import StandIn


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.standin", description=__doc__)
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "geofm-standin",
                   help="where the generated files live (reused when present)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    p.add_argument("--bandwidth-mbit", type=float, default=0.0,
                   help="per-connection limit for image files, Mbit/s (0 = unlimited)")
    args = p.parse_args(argv)
    standin = StandIn.start(args.dir, port=args.port)
    standin.set_latency(args.latency)
    standin.set_bandwidth(args.bandwidth_mbit)
    print(standin.url, flush=True)  # first line: the Planetary Computer mode's URL (tools read it)
    print(f"CMR mode: {standin.cmr_url}; Earthdata data host {standin.data_url}, login host {standin.login_url} "
          f"(user {standin.earthdata_user}, password {standin.earthdata_password}, "
          f"token {standin.earthdata_token})", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        standin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
