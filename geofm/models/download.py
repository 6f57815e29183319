"""Weights on first use: with a network, the first run that needs a model downloads its published file.

``ensure_weights`` returns the local file when there is one. Otherwise, when automatic download is on
(``GEOFM_AUTO_DOWNLOAD``, default on) and the Hub answers (a quick TCP probe of ``HF_ENDPOINT``, so an
offline machine fails at once instead of after the Hub client's retries), it downloads the file into the
Hugging Face cache with ``huggingface_hub``, reporting bytes done and the size. A file lock per model
(in the cache's ``.locks`` folder) makes it once per machine: a second session or process that asks
meanwhile waits for the first download and then finds the file. Offline, the caller gets the usual
:class:`WeightsNotFoundError` with its hint.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

from geofm.config import ModelSpec
from geofm.settings import settings
from geofm.errors import WeightsNotFoundError
from geofm.models.factory import as_spec
from geofm.models.weights import download_weights, find_in_hf_cache, resolve_weights
from geofm.progress import Progress, null_progress

log = logging.getLogger(__name__)

#: on_bytes(done, total): bytes downloaded so far and the file size (None when the server does not say).
ByteProgress = Callable[[int, "int | None"], None]

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT_S = 2.0
_PROBE_TTL_S = 60.0
_probe_cache: dict[str, tuple[float, bool]] = {}
_probe_lock = threading.Lock()


def endpoint() -> str:
    """The Hub endpoint in use now (``HF_ENDPOINT`` read at call time, unlike huggingface_hub's import-time copy)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def auto_download_enabled() -> bool:
    """False when the operator turned first-use downloads off (``GEOFM_AUTO_DOWNLOAD=0``) or HF is offline."""
    if not settings().auto_download:
        return False
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in ("1", "true", "yes", "on")


def hub_reachable(url: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the Hub's host opens within ``timeout`` (remembered for a minute)."""
    url = url or endpoint()
    now = time.monotonic()
    with _probe_lock:
        cached = _probe_cache.get(url)
        if cached and now - cached[0] < _PROBE_TTL_S:
            return cached[1]
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            ok = True
    except OSError as err:
        log.info("Hugging Face endpoint %s is not reachable: %s", url, err)
        ok = False
    with _probe_lock:
        _probe_cache[url] = (now, ok)
    return ok


def forget_probe() -> None:
    """Forget remembered reachability (tests, or after the network came back)."""
    with _probe_lock:
        _probe_cache.clear()


def can_download() -> bool:
    """Automatic download is on and the Hub answers."""
    return auto_download_enabled() and hub_reachable()


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE)


def lock_path(spec: ModelSpec) -> Path:
    """The file lock that makes one download per machine of ``spec``'s file."""
    return _hub_cache() / ".locks" / "geofm" / f"{spec.name}.lock"


def byte_progress_class(on_bytes: ByteProgress) -> type:
    """A tqdm class for ``hf_hub_download(tqdm_class=...)`` that reports bytes to ``on_bytes`` (draws nothing)."""
    from tqdm.std import tqdm

    class _Bytes(tqdm):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            kwargs["disable"] = True
            kwargs.pop("name", None)
            super().__init__(*args, **kwargs)
            self._done = int(kwargs.get("initial") or 0)
            self._size = kwargs.get("total")
            on_bytes(self._done, self._size)

        def update(self, n: float | None = 1) -> bool | None:
            self._done += int(n or 0)
            on_bytes(self._done, self._size)
            return super().update(n)

    return _Bytes


def fetch_weights(spec: ModelSpec | str, on_bytes: ByteProgress | None = None, *,
                  lock_timeout_s: float = 6 * 3600) -> Path:
    """Download ``spec``'s file into the HF cache once per machine (file lock) and return its path."""
    from filelock import FileLock

    spec = as_spec(spec)
    lock = lock_path(spec)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock), timeout=lock_timeout_s):
        cached = find_in_hf_cache(spec)  # another session or process finished it while we waited
        if cached and not spec.config_file:
            return cached
        log.info("downloading %s from %s/%s", spec.filename, endpoint(), spec.hf_repo)
        tqdm_class = byte_progress_class(on_bytes) if on_bytes is not None else None
        return download_weights(spec, tqdm_class=tqdm_class, endpoint=os.environ.get("HF_ENDPOINT") or None)


def ensure_weights(spec: ModelSpec | str, weights_dir: str | Path | None = None,
                   on_bytes: ByteProgress | None = None) -> Path:
    """The spec's weights file, downloaded on first use when possible; else today's WeightsNotFoundError."""
    spec = as_spec(spec)
    try:
        path = resolve_weights(spec, weights_dir)
        if spec.config_file:  # a TerraTorch fine-tune needs its published config too
            from geofm.models.weights import resolve_config

            resolve_config(spec, path)
        return path
    except WeightsNotFoundError:
        if not can_download():
            raise
    return fetch_weights(spec, on_bytes)


def mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:,.0f}"


def download_reporter(spec: ModelSpec, progress: Progress = null_progress, stage: str = "weights",
                      step: float = 0.01) -> ByteProgress:
    """An ``on_bytes`` that reports 'Downloading <model>: 120 of 1,200 MB' with its fraction, every 1 %."""
    last = [-1.0]

    def report(done: int, total: int | None) -> None:
        fraction = (done / total) if total else None
        if fraction is not None and fraction < 1.0 and fraction - last[0] < step:
            return
        last[0] = fraction if fraction is not None else last[0]
        progress(stage, f"Downloading the {spec.title} weights (once): {mb(done)} of {mb(total)} MB",
                 None if fraction is None else min(1.0, fraction))

    return report


def ensure_weights_reporting(spec: ModelSpec | str, weights_dir: str | Path | None = None,
                             progress: Progress = null_progress) -> Path:
    """``ensure_weights`` with the download's progress sent to a pipeline ``progress`` callback."""
    spec = as_spec(spec)
    return ensure_weights(spec, weights_dir, download_reporter(spec, progress))
