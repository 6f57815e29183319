"""The Hugging Face Hub as geofm reaches it: the endpoint in use, offline mode, and the one reachability check."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
#: Seconds to wait for the Hub's host before saying there is no network (one TCP connection, no retries).
PROBE_TIMEOUT_S = 3.0
#: Seconds an answer of the check is remembered (the app asks on every page run).
PROBE_TTL_S = 60.0

_probe_cache: dict[str, tuple[float, str | None]] = {}
_probe_lock = threading.Lock()


def endpoint() -> str:
    """The Hub endpoint in use now (``HF_ENDPOINT`` read at call time, unlike huggingface_hub's import-time copy)."""
    return (os.environ.get("HF_ENDPOINT", "").strip() or DEFAULT_ENDPOINT).rstrip("/")


def hf_offline() -> bool:
    """True when Hugging Face's offline mode is on (``HF_HUB_OFFLINE``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_problem(url: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why the Hub's host (``url``, default: the endpoint in use) cannot be reached, or None when it can.

    One TCP connection with a short timeout, so a machine without a network is told within seconds instead of
    after the hub client's retries over every candidate file name; the answer is remembered for a minute.
    """
    url = url or endpoint()
    now = time.monotonic()
    with _probe_lock:
        cached = _probe_cache.get(url)
        if cached and now - cached[0] < PROBE_TTL_S:
            return cached[1]
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme != "http" else 80)
    problem: str | None = None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as err:
        log.info("Hugging Face endpoint %s is not reachable: %s", url, err)
        problem = f"{host} cannot be reached (no network?): {type(err).__name__}: {err}"
    with _probe_lock:
        _probe_cache[url] = (now, problem)
    return problem


def hub_reachable(url: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the Hub's host opens within ``timeout`` (remembered for a minute)."""
    return hub_problem(url, timeout) is None


def forget_probe() -> None:
    """Forget remembered reachability (tests, or after the network came back)."""
    with _probe_lock:
        _probe_cache.clear()
