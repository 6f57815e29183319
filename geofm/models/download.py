"""Weights on first use: with a network, the first run that needs a model downloads its published file.

``ensure_weights`` returns the local file when there is one. Otherwise, when automatic download is on
(``GEOFM_AUTO_DOWNLOAD``, default on) and the Hub answers (a quick TCP probe of ``HF_ENDPOINT``, so an
offline machine fails at once instead of after the Hub client's retries), it downloads the file into the
Hugging Face cache with ``huggingface_hub``, reporting bytes done and the size. A file lock per model
(in the cache's ``.locks`` folder) makes it once per machine: a second session or process that asks
meanwhile waits for the first download (told so, with the MB done) and then finds the file. The wait is
bounded: when the other download makes no progress for ``GEOFM_DOWNLOAD_WAIT_S`` seconds (a hung or
stopped process holding the lock) the waiter stops with a clear error. A file in the Hugging Face cache
whose size is not the published one (a killed copy, a full disk) is downloaded again when the Hub answers,
and refused in one line when it does not. Offline, the caller gets the usual :class:`WeightsNotFoundError`
with its hint.
"""

from __future__ import annotations

import logging
import time
import os
from pathlib import Path
from typing import Callable

from tqdm.std import tqdm
from filelock import FileLock, Timeout

from geofm.config import ModelSpec
from geofm.models.weights import resolve_config
from geofm.settings import settings
from geofm.errors import CheckpointError, ServiceError, WeightsNotFoundError
from geofm.models.factory import as_spec
from geofm.models.hub import endpoint, hf_offline, hub_reachable
from geofm.models.hub import forget_probe as forget_probe  # its old home: callers may still import it here
from geofm.models.locate import _hf_cache_dir, candidate_files
from geofm.models.weights import _in_folders, download_weights, find_in_hf_cache, resolve_weights, verify_size
from geofm.progress import Progress, null_progress

log = logging.getLogger(__name__)

#: on_bytes(done, total): bytes downloaded so far and the file size (None when the server does not say).
ByteProgress = Callable[[int, "int | None"], None]
#: on_wait(text): what a waiting run is waiting for ("Waiting for another download of ...").
WaitStatus = Callable[[str], None]
#: Seconds between two looks at a lock held by another process (and two status messages).
LOCK_POLL_S = 2.0


def auto_download_enabled() -> bool:
    """False when the operator turned first-use downloads off (``GEOFM_AUTO_DOWNLOAD=0``) or HF is offline."""
    if not settings().auto_download:
        return False
    return not hf_offline()


def can_download() -> bool:
    """Automatic download is on and the Hub answers."""
    return auto_download_enabled() and hub_reachable()


def _hub_cache() -> Path:
    return Path(_hf_cache_dir())


def lock_path(spec: ModelSpec) -> Path:
    """The file lock that makes one download per machine of ``spec``'s file."""
    return _hub_cache() / ".locks" / "geofm" / f"{spec.name}.lock"


def byte_progress_class(on_bytes: ByteProgress) -> type:
    """A tqdm class for ``hf_hub_download(tqdm_class=...)`` that reports bytes to ``on_bytes`` (draws nothing)."""

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


def partial_bytes(spec: ModelSpec) -> int:
    """Bytes of the spec's downloads in progress in the HF cache (``blobs/*.incomplete``): a download that
    is alive makes this grow."""
    total = 0
    for repo, _ in candidate_files(spec):
        blobs = _hub_cache() / ("models--" + repo.replace("/", "--")) / "blobs"
        try:
            total += sum(p.stat().st_size for p in blobs.glob("*.incomplete"))
        except OSError:
            continue
    return total


def _acquire(lock: object, spec: ModelSpec, on_wait: WaitStatus | None, wait_s: float) -> None:
    """Take ``lock`` (a FileLock), waiting while its holder's download makes progress, at most ``wait_s``
    seconds without any; ServiceError then."""

    started = time.monotonic()
    last_size, last_change = partial_bytes(spec), started
    while True:
        try:
            lock.acquire(timeout=min(LOCK_POLL_S, wait_s))  # type: ignore[attr-defined]
            return
        except Timeout:
            pass
        now = time.monotonic()
        size = partial_bytes(spec)
        if size != last_size:
            last_size, last_change = size, now
        if now - last_change >= wait_s:
            log.warning("the download lock %s of %s has been held for %.0f s by another process whose download "
                        "made no progress for %.0f s (GEOFM_DOWNLOAD_WAIT_S=%g): giving up", lock_path(spec),
                        spec.name, now - started, now - last_change, wait_s)
            raise ServiceError(f"Another download of the {spec.title} weights has made no progress for "
                               f"{now - last_change:.0f} s; it seems stuck, so this run stops here.",
                               hint="Try again later; the log names the process lock to clear if it stays stuck.")
        if on_wait is not None:
            on_wait(f"Waiting for another download of the {spec.title} weights to finish "
                    f"({mb(size)} MB so far, {now - started:.0f} s)")


def fetch_weights(spec: ModelSpec | str, on_bytes: ByteProgress | None = None, *,
                  lock_timeout_s: float | None = None, on_wait: WaitStatus | None = None) -> Path:
    """Download ``spec``'s file into the HF cache once per machine (file lock) and return its path.

    A cached file of the wrong size is downloaded again. ``lock_timeout_s``: how long to wait for another
    process's download that makes no progress (default ``GEOFM_DOWNLOAD_WAIT_S``); ``on_wait`` hears what
    the wait is for.
    """

    spec = as_spec(spec)
    lock = lock_path(spec)
    lock.parent.mkdir(parents=True, exist_ok=True)
    file_lock = FileLock(str(lock))
    _acquire(file_lock, spec, on_wait, settings().download_wait_s if lock_timeout_s is None else lock_timeout_s)
    try:
        force = False
        cached = find_in_hf_cache(spec)  # another session or process finished it while we waited
        if cached is not None:
            try:
                verify_size(spec, cached)
                if not spec.config_file:  # a TerraTorch fine-tune's published config comes with the download
                    return cached
            except CheckpointError as err:
                log.warning("%s: downloading it again", err)
                force = True
        log.info("downloading %s from %s/%s", spec.filename, endpoint(), spec.hf_repo)
        tqdm_class = byte_progress_class(on_bytes) if on_bytes is not None else None
        return download_weights(spec, tqdm_class=tqdm_class, endpoint=os.environ.get("HF_ENDPOINT") or None,
                                force=force)
    finally:
        file_lock.release()


def ensure_weights(spec: ModelSpec | str, weights_dir: str | Path | None = None,
                   on_bytes: ByteProgress | None = None, on_wait: WaitStatus | None = None) -> Path:
    """The spec's weights file, downloaded on first use when possible; else today's WeightsNotFoundError.

    A file in the HF cache that is not the published size is downloaded again when possible, else refused
    (CheckpointError, one line); files in a weights folder are the operator's and are taken as they are.
    """
    spec = as_spec(spec)
    try:
        path = resolve_weights(spec, weights_dir)
        if spec.config_file:  # a TerraTorch fine-tune needs its published config too
            resolve_config(spec, path)
    except WeightsNotFoundError:
        if not can_download():
            raise
        return fetch_weights(spec, on_bytes, on_wait=on_wait)
    if _in_folders(path, weights_dir):
        return path
    try:
        verify_size(spec, path)
    except CheckpointError:
        if not can_download():
            raise
        return fetch_weights(spec, on_bytes, on_wait=on_wait)  # downloads it again
    return path


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
    return ensure_weights(spec, weights_dir, download_reporter(spec, progress),
                          on_wait=lambda text: progress("weights", text, None))
