"""The web server's start hook (``st.App``'s lifespan): what begins before the first visitor arrives."""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from geofm.serve.warmup import warmup

log = logging.getLogger(__name__)

#: How long the preload waits for the server's health check before it begins anyway (seconds).
HEALTH_WAIT_S = 5.0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as r:
            return r.status == 200
    except OSError:
        return False


def _health_url() -> str:
    """The server's own health check URL (address, port and base path from Streamlit's settings)."""
    from streamlit import config  # lazy: streamlit

    host = str(config.get_option("server.address") or "127.0.0.1")
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"http://{host}:{int(config.get_option('server.port'))}/{base + '/' if base else ''}_stcore/health"


def begin_preloads() -> None:
    """In a background thread: wait until the server answers its health check (so the imports do not slow its
    start), then import the map library and, after it, load the models whose weights are here."""

    def run() -> None:
        try:
            url = _health_url()
        except Exception:  # noqa: BLE001 - no Streamlit settings: begin at once
            url = ""
        deadline = time.monotonic() + HEALTH_WAIT_S
        while url and not _healthy(url) and time.monotonic() < deadline:
            time.sleep(0.05)
        from geofm.render.maps import preload  # lazy: folium

        preload(background=False)  # in this thread; a page run meanwhile starts no second import
        warmup().start()

    threading.Thread(target=run, name="geofm-startup", daemon=True).start()


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """At server start: begin the preloads (they run while the browser fetches the page), then serve."""
    begin_preloads()
    log.info("server starting: map library and model preload begin once it answers its health check")
    yield
