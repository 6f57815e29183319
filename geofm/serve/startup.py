"""The web server's start hook (``st.App``'s lifespan): what begins before the first visitor arrives."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

log = logging.getLogger(__name__)


def begin_preloads() -> None:
    """Import the map library, then load the models whose weights are here, in one background thread."""
    from geofm.render.maps import preload
    from geofm.serve.warmup import warmup

    preload(then=warmup().start)


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """At server start: begin the preloads (they run while the browser fetches the page), then serve."""
    begin_preloads()
    log.info("server started: map library and model preload begun in the background")
    yield
