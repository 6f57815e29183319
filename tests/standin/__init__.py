"""The HLS stand-in: a real STAC API and COG host on 127.0.0.1 (see server.py, layout.py, generate.py).

    with StandIn.start(folder) as s:   # generates the files once (a few seconds), serves on a free port
        s.url                           # http://127.0.0.1:PORT
        s.stats.file_bytes              # bytes of image files served so far
        s.fail_next(2, status=503, match="B04")   # fault injection
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from tests.standin.generate import generate
from tests.standin.server import Fault, StandInHTTPServer, StandInState, Stats


class StandIn:
    """A running stand-in server and the handles tests use to drive and observe it."""

    def __init__(self, folder: Path, server: StandInHTTPServer, thread: threading.Thread) -> None:
        self.folder = folder
        self.server = server
        self.thread = thread

    @classmethod
    def start(cls, folder: str | Path, port: int = 0, host: str = "127.0.0.1") -> "StandIn":
        folder = Path(folder)
        catalog = json.loads(generate(folder).read_text())
        state = StandInState(folder, catalog)
        server = StandInHTTPServer((host, port), state)
        state.base_url = f"http://{host}:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, name="stac-standin", daemon=True)
        thread.start()
        return cls(folder, server, thread)

    # ------------------------------------------------------------------ observe
    @property
    def state(self) -> StandInState:
        return self.server.state

    @property
    def url(self) -> str:
        return self.state.base_url

    @property
    def stats(self) -> Stats:
        return self.state.stats

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.state.items

    def reset_stats(self) -> None:
        with self.state.lock:
            self.state.stats = Stats()

    def file_size(self, name: str) -> int:
        return (self.folder / "files" / name).stat().st_size

    # ------------------------------------------------------------------ drive
    def fail_next(self, count: int, *, status: int = 503, match: str = "") -> None:
        """Answer the next ``count`` requests whose path contains ``match`` with HTTP ``status``."""
        with self.state.lock:
            self.state.faults.append(Fault(count, match, status))

    def stall_next(self, count: int, seconds: float, *, match: str = "") -> None:
        """Hold the next ``count`` matching requests for ``seconds`` and then drop the connection."""
        with self.state.lock:
            self.state.faults.append(Fault(count, match, 0, seconds))

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def set_latency(self, seconds: float) -> None:
        self.state.latency_s = seconds

    def set_bandwidth(self, mbit_per_s: float) -> None:
        """Limit each connection's image-file bytes to ``mbit_per_s`` (0 = unlimited)."""
        self.state.bandwidth_bps = mbit_per_s * 1e6 / 8

    def set_conformance(self, mode: str) -> None:
        """both | query | filter | none: which cloud-cover filters the API claims to support."""
        self.state.conformance = mode

    def single_collection_only(self, on: bool = True) -> None:
        """Searches naming several collections return nothing (a quirk seen on Planetary Computer)."""
        self.state.single_collection_only = on

    def new_epoch(self) -> None:
        """Serve asset hrefs under a new path, so GDAL's in-process HTTP cache holds none of them."""
        self.state.epoch += 1

    def require_tokens(self, on: bool = True) -> None:
        """Asset hrefs carry ?token=...; requests with another token get HTTP 403 (like expired SAS)."""
        self.state.require_token = on

    def expire_token(self) -> None:
        import uuid

        with self.state.lock:
            self.state.token = uuid.uuid4().hex

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> "StandIn":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
