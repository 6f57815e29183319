"""Every ``GEOFM_*`` operator setting, read from the environment into one frozen object.

>>> from geofm.settings import settings
>>> settings().http_timeout_s
30.0

``settings()`` parses the environment once per distinct set of values (a change in the environment, as
tests make with ``monkeypatch.setenv``, is seen on the next call); ``reload()`` forgets what was read. A bad
value raises ``SettingsError`` with one line naming the variable, what it must be and what it was.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from geofm.errors import GeofmError

# --------------------------------------------------------------------------------------------
# The variables (every GEOFM_* name lives here; read them through settings(), never os.environ)
# --------------------------------------------------------------------------------------------

ENV_WEIGHTS_DIR = "GEOFM_WEIGHTS_DIR"
ENV_STAC_URL = "GEOFM_STAC_URL"
ENV_CACHE_DIR = "GEOFM_CACHE_DIR"
ENV_MAX_AOI_KM = "GEOFM_MAX_AOI_KM"
ENV_HTTP_TIMEOUT = "GEOFM_HTTP_TIMEOUT"  # seconds per STAC/COG request
ENV_HTTP_RETRIES = "GEOFM_HTTP_RETRIES"  # retries after the first try
ENV_CACHE_MAX_MB = "GEOFM_CACHE_MAX_MB"  # size cap of the stack cache
ENV_MAX_UPLOAD_MB = "GEOFM_MAX_UPLOAD_MB"  # largest uploaded file in MB
ENV_BASEMAP = "GEOFM_BASEMAP"  # osm or none
ENV_GEOCODER_URL = "GEOFM_GEOCODER_URL"  # Nominatim-compatible /search endpoint
ENV_APP_CACHE_RUNS = "GEOFM_APP_CACHE_RUNS"  # results the app keeps for all sessions
ENV_CMR_STAC_URL = "GEOFM_CMR_STAC_URL"  # NASA CMR-STAC endpoint used for dates before Planetary Computer's HLS
ENV_EARTHDATA_TOKEN = "EARTHDATA_TOKEN"  # bearer token for NASA Earthdata (CMR-STAC assets)
#: Extra host names (comma-separated) that count as Earthdata hosts (a mirror, a test stand-in).
ENV_EARTHDATA_HOSTS = "GEOFM_EARTHDATA_HOSTS"
ENV_PRECISION = "GEOFM_PRECISION"  # auto, bf16, fp16 or fp32: the app's model precision
ENV_QUEUE_MAX = "GEOFM_QUEUE_MAX"  # runs waiting for the model at most (beyond: "busy, about N minutes")
ENV_RUNS_PER_MINUTE = "GEOFM_RUNS_PER_MINUTE"  # model runs one browser session may start per minute
ENV_JOBS_PER_SESSION = "GEOFM_JOBS_PER_SESSION"  # queued or running runs one browser session may have
ENV_JOB_SECONDS = "GEOFM_JOB_SECONDS"  # first guess of one run's model time, for the wait estimate
ENV_PRELOAD = "GEOFM_PRELOAD"  # app start: load these task models in the background (comma list, "none", "all")
ENV_AUTO_DOWNLOAD = "GEOFM_AUTO_DOWNLOAD"  # "0" = never fetch weights on first use (default: fetch when online)
ENV_READS_AT_ONCE = "GEOFM_READS_AT_ONCE"  # admitted app runs searching and reading at the same time
#: Seconds to wait for another process's download of the same weights while it makes no progress (default 300).
ENV_DOWNLOAD_WAIT = "GEOFM_DOWNLOAD_WAIT_S"

# --------------------------------------------------------------------------------------------
# Defaults that are named elsewhere too (the rest are the Settings fields' defaults below)
# --------------------------------------------------------------------------------------------

PLANETARY_COMPUTER_STAC = "https://planetarycomputer.microsoft.com/api/stac/v1"
CMR_STAC_LPCLOUD = "https://cmr.earthdata.nasa.gov/stac/LPCLOUD"
NOMINATIM_URL = "https://nominatim.openstreetmap.org/search"
DEFAULT_MAX_AOI_KM: float = 50.0  # side of the largest square area, km
#: Precisions a run can ask for; ``auto`` picks one per device (see geofm.config.compute.PrecisionPolicy).
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp16", "fp32")

BASEMAPS = ("osm", "none")

#: Every variable read here, in the order of the fields below.
VARIABLES: tuple[str, ...] = (ENV_STAC_URL, ENV_WEIGHTS_DIR, ENV_CACHE_DIR, ENV_CACHE_MAX_MB, ENV_MAX_AOI_KM,
                              ENV_HTTP_TIMEOUT, ENV_HTTP_RETRIES, ENV_MAX_UPLOAD_MB, ENV_BASEMAP,
                              ENV_GEOCODER_URL, ENV_APP_CACHE_RUNS, ENV_EARTHDATA_TOKEN, ENV_CMR_STAC_URL,
                              ENV_EARTHDATA_HOSTS, ENV_QUEUE_MAX, ENV_RUNS_PER_MINUTE, ENV_JOBS_PER_SESSION,
                              ENV_JOB_SECONDS, ENV_PRELOAD, ENV_AUTO_DOWNLOAD, ENV_PRECISION, ENV_DOWNLOAD_WAIT,
                              ENV_READS_AT_ONCE)


class SettingsError(GeofmError, ValueError):
    """An operator setting (environment variable) has an unusable value."""


@dataclass(frozen=True)
class Settings:
    """The operator's settings; defaults apply where a variable is unset or empty."""

    stac_url: str = PLANETARY_COMPUTER_STAC  #: GEOFM_STAC_URL
    weights_dir: Path | None = None  #: GEOFM_WEIGHTS_DIR
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "geofm")  #: GEOFM_CACHE_DIR
    cache_max_mb: float = 2048.0  #: GEOFM_CACHE_MAX_MB (stack cache size cap)
    max_aoi_km: float = DEFAULT_MAX_AOI_KM  #: GEOFM_MAX_AOI_KM (side of the largest area)
    http_timeout_s: float = 30.0  #: GEOFM_HTTP_TIMEOUT (seconds per STAC / COG request)
    http_retries: int = 3  #: GEOFM_HTTP_RETRIES (retries after the first try)
    max_upload_mb: float = 200.0  #: GEOFM_MAX_UPLOAD_MB (largest uploaded file)
    basemap: Literal["osm", "none"] = "osm"  #: GEOFM_BASEMAP
    geocoder_url: str = NOMINATIM_URL  #: GEOFM_GEOCODER_URL (Nominatim-compatible /search)
    app_cache_runs: int = 16  #: GEOFM_APP_CACHE_RUNS (results the app keeps for all sessions)
    earthdata_token: str | None = field(default=None, repr=False)  #: EARTHDATA_TOKEN (never printed)
    cmr_stac_url: str = CMR_STAC_LPCLOUD  #: GEOFM_CMR_STAC_URL (NASA CMR-STAC, for dates before 2020)
    earthdata_hosts: tuple[str, ...] = ()  #: GEOFM_EARTHDATA_HOSTS (extra hosts that may get the Earthdata login)
    precision: str = "auto"  #: GEOFM_PRECISION (auto, bf16, fp16 or fp32: what the models run in)
    queue_max: int = 8  #: GEOFM_QUEUE_MAX (runs waiting for the model at most)
    runs_per_minute: int = 4  #: GEOFM_RUNS_PER_MINUTE (per browser session)
    jobs_per_session: int = 1  #: GEOFM_JOBS_PER_SESSION (queued or running at once)
    job_seconds: float = 45.0  #: GEOFM_JOB_SECONDS (first guess of one run's time, for the wait estimate)
    reads_at_once: int = 2  #: GEOFM_READS_AT_ONCE (app runs searching and reading at the same time)
    preload: str = ""  #: GEOFM_PRELOAD (models loaded at start: names, "all" or "none"; "" = the task models)
    auto_download: bool = True  #: GEOFM_AUTO_DOWNLOAD (fetch missing weights on first use)
    #: GEOFM_DOWNLOAD_WAIT_S (seconds to wait for another process's download of the same weights while it
    #: makes no progress; then a clear error instead of an endless wait)
    download_wait_s: float = 300.0


T = TypeVar("T")


def _parse(env: dict[str, str], name: str, convert: Callable[[str], T], ok: Callable[[T], bool], what: str,
           default: T) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = convert(raw)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise SettingsError(f"{name} must be {what}, got {raw!r}.")
    return value


def _url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError(raw)
    return raw


def _hosts(raw: str) -> tuple[str, ...]:
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    if any("/" in h or " " in h for h in hosts):
        raise ValueError(raw)
    return hosts


def _precision(raw: str) -> str:
    value = raw.lower()
    if value not in PRECISIONS:
        raise ValueError(raw)
    return value


def _flag(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _basemap(raw: str) -> Literal["osm", "none"]:
    value = raw.lower()
    if value == "osm":
        return "osm"
    if value == "none":
        return "none"
    raise ValueError(raw)


def from_environment(env: dict[str, str] | None = None) -> Settings:
    """Parse ``env`` (default: ``os.environ``) into Settings; SettingsError on the first bad value."""
    env = dict(os.environ if env is None else env)
    d = Settings()
    positive = lambda v: math.isfinite(v) and v > 0  # noqa: E731  (inf and nan are not limits)
    return Settings(
        stac_url=_parse(env, ENV_STAC_URL, _url, bool, "an http(s) URL of a STAC API", d.stac_url),
        weights_dir=_parse(env, ENV_WEIGHTS_DIR, lambda s: Path(s).expanduser(), bool, "a folder", None),
        cache_dir=_parse(env, ENV_CACHE_DIR, lambda s: Path(s).expanduser(), bool, "a folder", d.cache_dir),
        cache_max_mb=_parse(env, ENV_CACHE_MAX_MB, float, lambda v: math.isfinite(v) and v >= 0, "a number of MB >= 0",
                            d.cache_max_mb),
        max_aoi_km=_parse(env, ENV_MAX_AOI_KM, float, positive, "a number of kilometres > 0", d.max_aoi_km),
        http_timeout_s=_parse(env, ENV_HTTP_TIMEOUT, float, positive, "a number of seconds > 0",
                              d.http_timeout_s),
        http_retries=_parse(env, ENV_HTTP_RETRIES, int, lambda v: v >= 0, "a whole number >= 0", d.http_retries),
        max_upload_mb=_parse(env, ENV_MAX_UPLOAD_MB, float, positive, "a number of MB > 0", d.max_upload_mb),
        basemap=_parse(env, ENV_BASEMAP, _basemap, bool, "osm or none", d.basemap),
        geocoder_url=_parse(env, ENV_GEOCODER_URL, _url, bool, "an http(s) URL", d.geocoder_url),
        app_cache_runs=_parse(env, ENV_APP_CACHE_RUNS, int, positive, "a whole number > 0", d.app_cache_runs),
        earthdata_token=env.get(ENV_EARTHDATA_TOKEN, "").strip() or None,
        cmr_stac_url=_parse(env, ENV_CMR_STAC_URL, _url, bool, "an http(s) URL of a STAC API", d.cmr_stac_url),
        earthdata_hosts=_parse(env, ENV_EARTHDATA_HOSTS, _hosts, bool, "host names separated by commas",
                               d.earthdata_hosts),
        precision=_parse(env, ENV_PRECISION, _precision, bool, "auto, bf16, fp16 or fp32", d.precision),
        queue_max=_parse(env, ENV_QUEUE_MAX, int, positive, "a whole number > 0", d.queue_max),
        runs_per_minute=_parse(env, ENV_RUNS_PER_MINUTE, int, positive, "a whole number > 0", d.runs_per_minute),
        jobs_per_session=_parse(env, ENV_JOBS_PER_SESSION, int, positive, "a whole number > 0",
                                d.jobs_per_session),
        job_seconds=_parse(env, ENV_JOB_SECONDS, float, lambda v: 0 < v < float("inf"), "a number of seconds > 0",
                           d.job_seconds),
        reads_at_once=_parse(env, ENV_READS_AT_ONCE, int, positive, "a whole number > 0", d.reads_at_once),
        preload=env.get(ENV_PRELOAD, "").strip().lower(),
        auto_download=_parse(env, ENV_AUTO_DOWNLOAD, _flag, lambda v: True, "1 or 0", d.auto_download),
        download_wait_s=_parse(env, ENV_DOWNLOAD_WAIT, float, positive, "a number of seconds > 0",
                               d.download_wait_s),
    )


_LOCK = threading.Lock()
_READ: dict[tuple[str | None, ...], Settings] = {}


def settings() -> Settings:
    """The settings of the current environment, parsed once per distinct set of values."""
    key = tuple(os.environ.get(name) for name in VARIABLES)
    with _LOCK:
        found = _READ.get(key)
        if found is None:
            found = _READ[key] = from_environment()
        return found


def reload() -> Settings:
    """Forget what was read and read the environment again."""
    with _LOCK:
        _READ.clear()
    return settings()
