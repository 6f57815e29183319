"""Time limits, retries and GDAL HTTP settings shared by the STAC client and the COG reader."""

from __future__ import annotations

import ctypes
import datetime as dt
import glob
import netrc
import os
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

from urllib.parse import urlparse

import rasterio

from geofm.config import EARTHDATA_HOSTS
from geofm.settings import settings

EARTHDATA_LOGIN_HOST = "urs.earthdata.nasa.gov"


@dataclass(frozen=True)
class HttpPolicy:
    """How long one request may take and how often a transient failure is retried."""

    timeout_s: float = 30.0
    retries: int = 3
    backoff_s: float = 0.5  # first wait; doubles each retry

    def delays(self) -> list[float]:
        return [self.backoff_s * (2 ** k) for k in range(self.retries)]


def http_policy() -> HttpPolicy:
    """The policy from the settings (GEOFM_HTTP_TIMEOUT, GEOFM_HTTP_RETRIES)."""
    s = settings()
    return HttpPolicy(timeout_s=max(s.http_timeout_s, 0.1), retries=s.http_retries,
                      backoff_s=min(0.5, s.http_timeout_s / 4))


#: Set by :func:`keep_fetched_blocks`: bytes of the process's /vsicurl/ cache in "keep blocks" mode.
_KEEP_BLOCKS: list[int] = []


def keep_fetched_blocks(cache_mb: int | None) -> None:
    """In this process, keep every fetched COG byte range for later reads (a region worker's next chunks).

    GDAL's parallel multi-range reads (its default, fastest for one read) bypass the /vsicurl/ cache, so a
    second read of the same blocks fetches them again. In this mode the ranges of a read are fetched one
    after another through the cache, in 4 KB units (little over-read), and a cache of ``cache_mb`` keeps
    them: a chunk then reuses the halo blocks its neighbour on the same worker fetched. Call it before the
    process's first read (GDAL sizes its cache once). ``None`` or 0 goes back to parallel reads.
    """
    _KEEP_BLOCKS[:] = [int(cache_mb) * 1024 * 1024] if cache_mb else []


def fetched_blocks_kept() -> bool:
    """Whether this process's COG reads go through GDAL's /vsicurl/ cache (``keep_fetched_blocks``)."""
    return bool(_KEEP_BLOCKS)


def gdal_http_options(policy: HttpPolicy | None = None, *, earthdata: bool = False,
                      bearer_token: str | None = None) -> dict[str, str | int]:
    """GDAL settings for reading COGs over HTTP: no directory listings, merged ranges, retries, time-outs."""
    policy = policy or http_policy()
    opts: dict[str, str | int] = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.TIF,.tiff,.TIFF",
        "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        "GDAL_HTTP_MULTIPLEX": "YES",
        # HTTP/2 where TLS negotiates it; plain http:// stays HTTP/1.1 (no h2c upgrade dance).
        "GDAL_HTTP_VERSION": "2TLS",
        # /vsicurl/ keeps its own cache of fetched ranges; VSI_CACHE's 32 KB pages on top of it doubled the
        # header read of every file (measured: 32 KB vs 16 KB per COG), so it is off.
        "VSI_CACHE": "FALSE",
        "CPL_VSIL_CURL_CACHE_SIZE": str(64 * 1024 * 1024),
        "GDAL_CACHEMAX": 256,  # MB (rasterio wants an int here)
        "GDAL_HTTP_MAX_RETRY": str(policy.retries),
        "GDAL_HTTP_RETRY_DELAY": f"{policy.backoff_s:g}",
        "GDAL_HTTP_TIMEOUT": str(max(1, int(round(policy.timeout_s)))),
        "GDAL_HTTP_CONNECTTIMEOUT": str(max(1, int(round(min(policy.timeout_s, 10))))),
        "GDAL_HTTP_NETRC": "YES",  # Earthdata login from ~/.netrc (CMR-STAC assets)
    }
    if _KEEP_BLOCKS:  # a region worker: reads go through the cache, which keeps them (keep_fetched_blocks)
        opts.update({"GDAL_HTTP_MULTIRANGE": "SERIAL", "CPL_VSIL_CURL_CHUNK_SIZE": "4096",
                     "CPL_VSIL_CURL_CACHE_SIZE": str(_KEEP_BLOCKS[0])})
    if earthdata:  # NASA LP DAAC: bearer token or .netrc login, redirects keep their cookies
        token = bearer_token if bearer_token is not None else settings().earthdata_token
        if token:
            opts["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {token}"
        cookie = earthdata_cookie_jar()
        opts["GDAL_HTTP_COOKIEFILE"] = str(cookie)
        opts["GDAL_HTTP_COOKIEJAR"] = str(cookie)
    return opts


def earthdata_cookie_jar() -> Path:
    """The Earthdata session cookie file, private to the user (folder 0700, file 0600)."""
    folder = Path.home() / ".cache" / "geofm"
    folder.mkdir(parents=True, exist_ok=True)
    cookie = folder / "earthdata-cookies.txt"
    fd = os.open(cookie, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    os.close(fd)
    os.chmod(cookie, 0o600)  # also tightens a jar an older version left readable
    return cookie


def _host_matches(host: str, patterns: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    for p in patterns:
        p = p.strip().lower()
        if not p:
            continue
        if p.startswith(".") and (host.endswith(p) or host == p[1:]):
            return True
        if host == p:
            return True
    return False


def is_earthdata_url(url: str) -> bool:
    """True when ``url``'s host (parsed, not a substring of the URL) is a NASA Earthdata host, or one the
    operator added with GEOFM_EARTHDATA_HOSTS. Only such hosts may receive the Earthdata token."""
    try:
        host = urlparse(url).hostname or ""
    except ValueError:
        return False
    if not host:
        return False
    return _host_matches(host, EARTHDATA_HOSTS + settings().earthdata_hosts)


def earthdata_credentials() -> str | None:
    """How an Earthdata login is configured ("token" or "netrc"), or None."""
    if settings().earthdata_token:
        return "token"
    netrc_path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        if netrc.netrc(str(netrc_path)).authenticators(EARTHDATA_LOGIN_HOST):
            return "netrc"
    except (OSError, netrc.NetrcParseError):
        return None
    return None


_URL_QUERY = re.compile(r"(https?://[^\s?#'\"<>]+)\?[^\s'\"<>)]*", re.IGNORECASE)
_SECRETS = (
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    re.compile(r"\b(sig|se|st|sv|sp|sr|skoid|sktid|skt|ske|sks|skv|token|access_token|X-Amz-Signature|"
               r"X-Amz-Credential|X-Amz-Security-Token)=[^&\s'\"<>)]+", re.IGNORECASE),
)


def redact(text: str) -> str:
    """``text`` with query strings of URLs (SAS tokens, signed S3 links) and bearer tokens removed."""
    out = _URL_QUERY.sub(lambda m: m.group(1) + "?…", str(text))
    out = _SECRETS[0].sub(lambda m: m.group(1) + "…", out)
    return _SECRETS[1].sub(lambda m: m.group(1) + "=…", out)


def retry_after_s(headers: dict[str, str] | None, body: str = "") -> float | None:
    """Seconds the server asks us to wait: the Retry-After header (seconds or an HTTP date), else
    Planetary Computer's "Try again in N seconds" text."""
    value = None
    for k, v in (headers or {}).items():
        if k.lower() == "retry-after":
            value = str(v).strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
                return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())
            except (TypeError, ValueError):
                pass
    m = re.search(r"try again in (\d+(?:\.\d+)?) second", body or "", re.IGNORECASE)
    return float(m.group(1)) if m else None


_HTTP_CODE = re.compile(r"HTTP (?:response )?(?:code|status)[: ]+(\d{3})", re.IGNORECASE)


def http_status_in(message: str) -> int | None:
    """The HTTP status GDAL/curl mentions in an error message, if any."""
    m = _HTTP_CODE.search(message)
    return int(m.group(1)) if m else None


def is_timeout_message(message: str) -> bool:
    text = message.lower()
    return "timed out" in text or "timeout" in text


_gdal_lib: ctypes.CDLL | None | bool = None


def _gdal() -> ctypes.CDLL | None:
    global _gdal_lib
    if _gdal_lib is None:
        _gdal_lib = False
        base = Path(rasterio.__file__).resolve().parent.parent
        for cand in glob.glob(str(base / "rasterio.libs" / "libgdal*.so*")) + ["libgdal.so"]:
            try:
                _gdal_lib = ctypes.CDLL(cand)
                break
            except OSError:
                continue
    return _gdal_lib if isinstance(_gdal_lib, ctypes.CDLL) else None


def forget_http_file(url: str) -> None:
    """Drop GDAL's /vsicurl/ memory of ``url`` (a failed open is otherwise remembered for the process)."""
    lib = _gdal()
    if lib is None:
        return
    try:
        fn = lib.VSICurlPartialClearCache
    except AttributeError:
        return
    fn.argtypes = [ctypes.c_char_p]
    fn.restype = None
    fn(("/vsicurl/" + url).encode())
