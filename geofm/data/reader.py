"""Read only an area's pixels from HLS COGs over HTTP into one UTM grid, mosaicking same-day tiles.

Each band of each scene is opened through GDAL's /vsicurl/ and warped onto the output grid with a
WarpedVRT (nearest neighbour), so GDAL fetches just the COG blocks under the area (or an overview's
blocks when a coarser grid is asked for). Bands are read concurrently; every read has a time limit and
bounded retries with back-off; an HTTP 403 on a signed href re-signs it once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT

from geofm.config import (FMASK_FILL, FMASK_PASS_CONCURRENCY, HLS_FMASK_ASSET, HLS_NODATA, HLS_RESOLUTION_M,
                          MODEL_BANDS, THROTTLE_BUDGET_S)
from geofm.data.fmask import clear as clear_mask  # not via geofm.data: its __init__ imports this
from geofm.data.fmask import clear_fraction
from geofm.data.aoi import AOI
from geofm.data.cache import StackCache
from geofm.data.grid import Grid
from geofm.data.net import (forget_http_file, gdal_http_options, http_policy, http_status_in, is_earthdata_url,
                            is_timeout_message, redact)
from geofm.data.scene import Scene
from geofm.data.signing import strip_query
from geofm.data.stac import RESIGNERS
from geofm.data.tilecheck import check_tiles
from geofm.errors import IMAGES_BUSY, IMAGES_DOWN, AOIError, AuthError, ServiceError
from geofm.progress import Progress, null_progress
from geofm.stack import HLSStack

log = logging.getLogger(__name__)

#: Concurrent band reads (GDAL releases the GIL while it waits on the network).
MAX_WORKERS = 16
#: HTTP statuses GDAL retries by itself, GDAL_HTTP_MAX_RETRY times per request (as it does time-outs).
GDAL_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


def _gdal_path(href: str) -> str:
    return f"/vsicurl/{href}" if href.startswith(("http://", "https://")) else href


def overview_level(native_res: float, target_res: float, factors: list[int]) -> int | None:
    """The coarsest overview (index into ``factors``) still at least as fine as ``target_res``."""
    best = None
    for i, f in enumerate(factors):
        if native_res * f <= target_res * (1 + 1e-6):
            best = i
    return best


def native_resolution_m(src: rasterio.io.DatasetReader) -> float:
    """The source's pixel width in metres (degrees x 111.32 km on geographic grids such as ESA WorldCover's)."""
    a = abs(src.transform.a)
    return a * 111_320.0 if src.crs is not None and src.crs.is_geographic else a


def _warp_read(href: str, grid: Grid, nodata: float, earthdata: bool) -> np.ndarray:
    """One band on ``grid``: open the COG, pick an overview if the grid is coarser, warp and read."""
    path = _gdal_path(href)
    with rasterio.Env(**gdal_http_options(earthdata=earthdata)):
        with rasterio.open(path) as src:
            level = None
            native = native_resolution_m(src)
            if grid.resolution >= 2 * native:
                level = overview_level(native, grid.resolution, src.overviews(1))
            if level is None:
                arr = _warp(src, grid, nodata)
                check_tiles(src, path, grid)  # GDAL takes a deflate tile whose stream never ends
                return arr
        with rasterio.open(path, overview_level=level) as ovr:
            arr = _warp(ovr, grid, nodata)
            check_tiles(ovr, path, grid)
            return arr


def _warp(src: rasterio.io.DatasetReader, grid: Grid, nodata: float) -> np.ndarray:
    with WarpedVRT(src, crs=grid.crs, transform=grid.transform, width=grid.width, height=grid.height,
                   resampling=Resampling.nearest, src_nodata=nodata, nodata=nodata) as vrt:
        return vrt.read(1)


def _error_text(err: BaseException) -> str:
    """rasterio's message and GDAL's own (chained) one: "Read failed" alone does not say why."""
    parts = [str(err)]
    for e in (err.__cause__, err.__context__):
        if e is not None and str(e) not in parts:
            parts.append(str(e))
    return " | ".join(parts)


_DECODE_MARKERS = ("ireadblock failed", "tiffread", "decode", "decompress", "zipdecode", "lzwdecode",
                   "not a tiff", "not recognized as", "tiff directory", "unexpected end", "corrupt")


def is_decode_error(message: str) -> bool:
    """GDAL could fetch the bytes but not decode them: a damaged file, not a network fault."""
    low = message.lower()
    if "curl" in low or is_timeout_message(low) or http_status_in(message) is not None:
        return False
    return any(m in low for m in _DECODE_MARKERS)


def read_band(href: str, grid: Grid, *, nodata: float, signer: str | None = None,
              earthdata: bool | None = None) -> np.ndarray:
    """Read one COG onto ``grid``; raises ServiceError / AuthError with the reason (never a token).

    Transient faults (time-outs, dropped connections, 5xx) are retried with back-off after GDAL's own
    retries; a busy service (429, 503 ServerBusy) is waited out within a bounded total; permanent faults
    (4xx, a file whose tiles do not decode) fail at once. ``earthdata`` defaults to whether the href's host
    is an Earthdata host: only those get the Earthdata token.
    """
    policy = http_policy()
    if earthdata is None:
        earthdata = is_earthdata_url(href)
    delays = policy.delays()  # re-opens for faults GDAL does not retry itself (one budget per request)
    resigned = False
    attempt = 0
    waited = 0.0
    name = strip_query(href).rsplit("/", 1)[-1]
    while True:
        try:
            return _warp_read(href, grid, nodata, earthdata)
        except RasterioError as err:
            msg = _error_text(err)
            status = http_status_in(msg)
            forget_http_file(href)  # GDAL remembers failed opens; forget them before trying again
            if status == 401:
                raise AuthError(f"Reading {name} needs a login (HTTP 401).",
                                hint="For NASA Earthdata put your login in ~/.netrc or set EARTHDATA_TOKEN.",
                                status_code=401) from None
            if status in (403, 409):  # expired or refused token; 409: Azure's PublicAccessNotPermitted (none)
                if signer in RESIGNERS and not resigned:
                    href, resigned = RESIGNERS[signer](href), True
                    continue
                raise AuthError(f"Reading {name} was refused (HTTP {status}): the signed link has expired or access "
                                "is denied.", hint="Search again to get fresh links.", status_code=status) from None
            if status == 404:
                raise ServiceError(f"The image {name} was not found (HTTP 404).", status_code=404) from None
            if status in (429, 503):
                wait = min(max(policy.backoff_s, 1.0) * 2 ** attempt, THROTTLE_BUDGET_S - waited)
                if wait <= 0 or attempt >= max(policy.retries, 1) + 2:
                    log.warning("image host busy reading %s: %s", name, redact(msg.splitlines()[0][:300]))
                    raise ServiceError(f"The image host is busy (HTTP {status}) and did not serve {name}.",
                                       hint="Try again in a few minutes.", status_code=status,
                                       plain=IMAGES_BUSY) from None
                time.sleep(wait)
                waited += wait
                attempt += 1
                continue
            if status is not None and 400 <= status < 500:
                raise ServiceError(f"Reading {name} failed with HTTP {status}.", status_code=status) from None
            if is_decode_error(msg):
                log.warning("damaged image %s: %s", name, redact(msg[:300]))
                raise ServiceError(f"The image {name} is damaged: its pixels do not decode.",
                                   hint="Choose another scene or try again later.") from None
            # GDAL already retried 5xx answers and time-outs GEOFM_HTTP_RETRIES times (GDAL_HTTP_MAX_RETRY): that is
            # the request's whole budget, so the read is not opened again (which would multiply it).
            gdal_retried = policy.retries > 0 and (status in GDAL_RETRIED_STATUSES or is_timeout_message(msg))
            if attempt >= len(delays) or gdal_retried:
                why = (f"timed out after {policy.timeout_s:g} s" if is_timeout_message(msg)
                       else f"HTTP {status}" if status else redact(msg.splitlines()[0][:200]))
                tries = policy.retries + 1 if gdal_retried else attempt + 1
                raise ServiceError(f"Reading {name} failed after {tries} tries "
                                   f"({why}).", hint="The image host may be slow or down; try again later.",
                                   status_code=status, plain=IMAGES_DOWN) from None
            time.sleep(delays[attempt])
            attempt += 1


# ---------------------------------------------------------------------------------- Fmask memo

_FMASK_MEMO: "OrderedDict[tuple[str, str], np.ndarray]" = OrderedDict()
_FMASK_LOCK = threading.Lock()
_FMASK_MEMO_SIZE = 64


def read_fmask(scene: Scene, grid: Grid) -> np.ndarray:
    """The scene's Fmask on ``grid`` (uint8, 255 = no data); remembered in-process per scene and grid."""
    key = (strip_query(scene.assets[HLS_FMASK_ASSET]), grid.key())
    with _FMASK_LOCK:
        if key in _FMASK_MEMO:
            _FMASK_MEMO.move_to_end(key)
            return _FMASK_MEMO[key]
    arr = read_band(scene.assets[HLS_FMASK_ASSET], grid, nodata=FMASK_FILL,
                    signer=scene.signer).astype(np.uint8)
    with _FMASK_LOCK:
        _FMASK_MEMO[key] = arr
        while len(_FMASK_MEMO) > _FMASK_MEMO_SIZE:
            _FMASK_MEMO.popitem(last=False)
    return arr


_READ_POOL: ThreadPoolExecutor | None = None
_READ_POOL_LOCK = threading.Lock()


def _read_pool() -> ThreadPoolExecutor:
    """One long-lived pool of reader threads for the process.

    A fresh thread pays GDAL's and PROJ's per-thread set-up on its first warped read (measured ~0.14 s for a
    14-file read); keeping the threads makes every read after the first one that much faster.
    """
    global _READ_POOL
    with _READ_POOL_LOCK:
        if _READ_POOL is None:
            _READ_POOL = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="geofm-read")
        return _READ_POOL


T = TypeVar("T")


def _read_all(work: Callable[[T], Any], items: list[T], take: Callable[[T, Any, int], None]) -> None:
    """``work`` on every item in the read pool; ``take(item, result, n_done)`` in the caller's thread as each ends.

    On the first failure the reads not yet started are dropped and the call waits for those under way (each ends
    within its own HTTP time limit) before the error goes up: nothing of a failed read runs on after it — no
    re-signing, token fetch or cache write for a caller that has already given up. An interrupt (Ctrl-C,
    SIGTERM) drops the reads not started and goes up at once; the command line then leaves without the rest.
    """
    stop = threading.Event()

    def guarded(item: T) -> Any:
        if stop.is_set():  # queued when the read failed: never started
            return None
        return work(item)

    futures: dict[Future, T] = {_read_pool().submit(guarded, item): item for item in items}
    try:
        for done, fut in enumerate(as_completed(futures), 1):
            take(futures[fut], fut.result(), done)
    except BaseException as err:
        stop.set()
        for f in futures:
            f.cancel()
        if isinstance(err, Exception):  # Ctrl-C and SIGTERM leave at once: a hung read must not hold them
            wait(futures)
        raise


def fill_clear_fractions(scenes: list[Scene], aoi: AOI, *, resolution: float = HLS_RESOLUTION_M,
                         progress: Progress = null_progress) -> None:
    """Set each scene's ``clear_fraction`` over the area from its Fmask (read concurrently)."""
    grid = Grid.for_aoi(aoi, resolution)
    area = grid.area_mask(aoi)
    if not area.any():  # a sliver between pixel centres: its clear share would read "0 %"
        raise AOIError(f"The area is too small: it holds no whole {resolution:g} m pixel.", hint="Draw a larger area.")
    todo = [s for s in scenes if s.clear_fraction is None]
    if not todo:
        return
    # progress is reported from this (the caller's) thread only: UI callbacks may not be thread-safe.
    # At most FMASK_PASS_CONCURRENCY masks at once: blob storage answers bursts over many scenes with 503s.
    gate = threading.BoundedSemaphore(FMASK_PASS_CONCURRENCY)

    def gated(scene: Scene) -> np.ndarray:
        with gate:
            return read_fmask(scene, grid)

    def take(scene: Scene, mask: np.ndarray, done: int) -> None:
        scene.clear_fraction = clear_fraction(mask, area)
        progress("read", f"cloud mask {done} of {len(todo)}", done / len(todo))

    _read_all(gated, todo, take)


# ---------------------------------------------------------------------------------- stacks

@dataclass
class _SceneRead:
    data: np.ndarray  # (6, H, W) int16
    fmask: np.ndarray  # (H, W) uint8


def _mosaic(reads: list[_SceneRead], area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Combine same-day scenes: clear pixels first (in the given order), then any pixel with data."""
    h, w = area.shape
    data = np.full((len(MODEL_BANDS), h, w), HLS_NODATA, dtype=np.int16)
    valid = np.zeros((h, w), dtype=bool)
    has_data = np.zeros((h, w), dtype=bool)
    for r in reads:
        r_data = np.all(r.data != HLS_NODATA, axis=0) & (r.fmask != FMASK_FILL)
        r_clear = r_data & clear_mask(r.fmask)
        take = r_clear & ~valid
        data[:, take] = r.data[:, take]
        valid |= take
        has_data |= take
    for r in reads:  # cloudy pixels still show what the sensor saw, marked not valid
        r_data = np.all(r.data != HLS_NODATA, axis=0) & (r.fmask != FMASK_FILL)
        take = r_data & ~has_data
        data[:, take] = r.data[:, take]
        has_data |= take
    return data, valid & area


def frame_order(frame: list[Scene]) -> list[Scene]:
    """Scenes of one frame, the clearest over the area first."""
    return sorted(frame, key=lambda s: (-(s.clear_fraction if s.clear_fraction is not None else -1),
                                        s.cloud_cover, s.id))


def read_grid(frames: list[list[Scene]], grid: Grid, area: np.ndarray, *,
              progress: Progress = null_progress) -> HLSStack:
    """Read each frame's scenes (in the given order) onto ``grid`` and mosaic them; ``area`` marks the pixels
    that count as valid. No cache: ``read_aoi`` adds it; region chunks call this on windows of a zone grid."""
    jobs: list[tuple[Scene, str]] = [(s, b) for f in frames for s in f for b in (*MODEL_BANDS, HLS_FMASK_ASSET)]
    total = len(jobs)
    progress("read", f"reading {total} bands from {sum(len(f) for f in frames)} scenes", 0.0)

    def one(job: tuple[Scene, str]) -> np.ndarray:
        scene, band = job
        if band == HLS_FMASK_ASSET:
            return read_fmask(scene, grid)
        return read_band(scene.assets[band], grid, nodata=HLS_NODATA, signer=scene.signer).astype(np.int16)

    results: dict[tuple[str, str], np.ndarray] = {}
    pixels_mb = [0.0]

    def take(job: tuple[Scene, str], arr: np.ndarray, done: int) -> None:
        results[(job[0].id, job[1])] = arr
        pixels_mb[0] += arr.nbytes / 1e6
        progress("read", f"band {done} of {total}, {pixels_mb[0]:.1f} MB of pixels so far", done / total)

    _read_all(one, jobs, take)
    data = np.empty((len(frames), len(MODEL_BANDS), grid.height, grid.width), dtype=np.int16)
    valid = np.empty((len(frames), grid.height, grid.width), dtype=bool)
    for t, frame in enumerate(frames):
        reads = [_SceneRead(np.stack([results[(s.id, b)] for b in MODEL_BANDS]), results[(s.id, HLS_FMASK_ASSET)])
                 for s in frame]
        data[t], valid[t] = _mosaic(reads, area)
    return HLSStack(data=data, valid=valid, crs=grid.crs, transform=grid.transform,
                    times=[f[0].datetime for f in frames], scene_ids=["+".join(s.id for s in f) for f in frames])


def read_aoi(frames: list[list[Scene]], aoi: AOI, *, progress: Progress = null_progress,
             resolution: float = HLS_RESOLUTION_M, use_cache: bool = True) -> HLSStack:
    """Read the area from each frame's scenes (one frame = one date, its tiles mosaicked) into one stack.

    Returns (T, 6, H, W) int16 DN (nodata -9999) on the area's UTM grid; ``valid`` is False for fill,
    cloud, cloud-adjacent and shadow pixels and outside the area's polygon. Repeat reads of the same
    scenes, area and grid come from the disk cache without network.
    """

    if not frames or any(not f for f in frames):
        raise ValueError("read_aoi needs at least one frame, each with at least one scene")
    grid = Grid.for_aoi(aoi, resolution)
    cache = StackCache() if use_cache else None
    key = StackCache.key_for([[s.id for s in f] for f in frames], aoi, grid) if cache else ""
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            progress("read", "read from cache", 1.0)
            return hit
    stack = read_grid([frame_order(f) for f in frames], grid, grid.area_mask(aoi), progress=progress)
    if cache is not None:
        cache.put(key, stack)
    return stack
