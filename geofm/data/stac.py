"""Searching HLS v2 (L30 + S30) through a STAC API: Planetary Computer, NASA CMR-STAC or a compatible one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable
from urllib.parse import urlparse

import pystac
import requests
from pystac_client import Client
from pystac_client.conformance import ConformanceClasses
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from urllib3 import Retry

from geofm.config import (CMR_STAC_LPCLOUD, DEFAULT_SEARCH_DAYS, HLS_COVERAGE_START, STAC_COLLECTIONS,
                          STAC_PAGE_LIMIT, THROTTLE_BUDGET_S)
from geofm.data.aoi import AOI
from geofm.data.net import HttpPolicy, earthdata_credentials, http_policy, redact
from geofm.data.scene import Scene, sensor_of
from geofm.data.signing import sign_href, sign_in_place
from geofm.settings import settings
from geofm.errors import (
    CATALOGUE_BUSY,
    CATALOGUE_DOWN,
    AuthError,
    CoverageError,
    InputError,
    NoScenesError,
    ServiceError,
)

log = logging.getLogger(__name__)

PC_FLAVOUR = "planetary-computer"
CMR_FLAVOUR = "cmr"
SENSORS: tuple[str, ...] = ("L30", "S30")


@dataclass(frozen=True)
class Endpoint:
    """A STAC API and the HLS collection ids it uses."""

    url: str
    flavour: str  # "planetary-computer" | "cmr"
    collections: dict[str, str]  # sensor -> collection id
    sign: bool  # sign asset hrefs with planetary_computer (only for the real Planetary Computer)

    @property
    def signer(self) -> str | None:
        return PC_FLAVOUR if self.sign else None


def resolve_stac_url(stac_url: str | None = None) -> str:
    """The endpoint to use: the argument, else $GEOFM_STAC_URL, else Planetary Computer."""
    url = (stac_url or settings().stac_url).strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"The STAC URL {url!r} is not an http(s) URL.")
    return url.rstrip("/")


def flavour_from_url(url: str) -> str | None:
    host = urlparse(url).netloc.lower()
    if host.endswith("planetarycomputer.microsoft.com"):
        return PC_FLAVOUR
    if host.endswith("earthdata.nasa.gov"):
        return CMR_FLAVOUR
    return None


class _BoundedRetry(Retry):
    """urllib3 retries whose Retry-After waits are capped, so a throttled service cannot hold us forever."""

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, THROTTLE_BUDGET_S / max(1, self.total or 1))


def _retry(policy: HttpPolicy) -> Retry:
    return _BoundedRetry(total=policy.retries, connect=policy.retries, read=policy.retries,
                         status=policy.retries, backoff_factor=policy.backoff_s,
                         status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None,
                         raise_on_status=False, respect_retry_after_header=True)


def service_error(url: str, err: Exception, what: str = "search") -> ServiceError:
    """Translate a pystac-client/requests failure into a user-facing error (no tokens or signed URLs in it)."""
    status = getattr(err, "status_code", None)
    if status is None and isinstance(err, requests.HTTPError) and err.response is not None:
        status = err.response.status_code
    text = redact(str(err).strip())
    detail = text.splitlines()[0][:200] if text else type(err).__name__
    log.warning("STAC %s at %s failed: %s", what, url, detail)
    if status == 401:
        return AuthError(f"The STAC service at {url} needs a login (HTTP 401).",
                         hint="For NASA Earthdata put your login in ~/.netrc or set EARTHDATA_TOKEN.",
                         status_code=401)
    if status == 403:
        return AuthError(f"The STAC service at {url} refused access (HTTP 403).",
                         hint="Try again later.", status_code=403, plain=CATALOGUE_DOWN)
    if status in (429, 503):
        return ServiceError(f"The STAC service at {url} is busy (HTTP {status}) and asked us to wait.",
                            hint="Try again in a few minutes.", status_code=status, plain=CATALOGUE_BUSY)
    if status is not None and 400 <= status < 500:
        return ServiceError(f"The STAC service at {url} rejected the {what} (HTTP {status}): {detail}",
                            status_code=status)
    if status is not None and status >= 500:
        return ServiceError(f"The STAC service at {url} failed (HTTP {status}) after {http_policy().retries} "
                            "retries.", hint="The service may be down; try again later.", status_code=status,
                            plain=CATALOGUE_DOWN)
    return ServiceError(f"Cannot reach the STAC service at {url}: {_network_reason(str(err))}.",
                        hint="Check the network connection.", plain=CATALOGUE_DOWN)


def _network_reason(text: str) -> str:
    """A short reason for a failed connection, from requests'/urllib3's long message."""
    policy = http_policy()
    tries = f"{policy.retries + 1} {'try' if policy.retries == 0 else 'tries'}"
    low = text.lower()
    if "timed out" in low or "timeout" in low:
        return f"no answer within {policy.timeout_s:g} s ({tries})"
    if "refused" in low:
        return f"connection refused ({tries})"
    if "remotedisconnected" in low or "aborted" in low or "reset" in low:
        return f"the connection was dropped ({tries})"
    if "name or service not known" in low or "nodename nor servname" in low or "resolve" in low:
        return "the host name does not resolve"
    text = redact(text)
    return text.strip().splitlines()[0][:200] if text.strip() else "unknown network error"


def open_endpoint(stac_url: str | None = None) -> tuple[Client, Endpoint]:
    """Open the STAC API (every request with geofm's time limit and retries) and find its HLS collections."""
    url = resolve_stac_url(stac_url)
    policy = http_policy()
    flavour = flavour_from_url(url)
    stac_io = StacApiIO(timeout=policy.timeout_s, max_retries=_retry(policy))
    try:
        # Client.open resets the StacApiIO's timeout to its own argument: pass it here too.
        client = Client.open(url, stac_io=stac_io, timeout=policy.timeout_s)
    except (APIError, requests.RequestException, ValueError) as err:
        raise service_error(url, err, "connection") from None
    if flavour is None:
        flavour = _flavour_from_collections(client, url)
    sign = flavour == PC_FLAVOUR
    if sign:  # Planetary Computer (or a stand-in of it): asset hrefs need SAS tokens
        client.modifier = sign_in_place
    return client, Endpoint(url, flavour, dict(STAC_COLLECTIONS[flavour]), sign)


def _flavour_from_collections(client: Client, url: str) -> str:
    """Which collection naming (Planetary Computer or CMR) the endpoint serves."""
    for flavour, ids in STAC_COLLECTIONS.items():
        try:
            if client.get_collection(ids["L30"]) is not None:
                return flavour
        except APIError as err:
            if getattr(err, "status_code", None) not in (404, None):
                raise service_error(url, err, "collection lookup") from None
        except (requests.RequestException, ValueError, KeyError):
            continue
    known = ", ".join(f"{v['L30']}/{v['S30']}" for v in STAC_COLLECTIONS.values())
    raise ServiceError(f"The STAC service at {url} has no HLS v2 collections (looked for {known}).",
                       hint="Use Planetary Computer or NASA CMR-STAC (LPCLOUD).")


def _as_date(value: date | datetime | str, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InputError(f"The {name} date {value!r} is not a date like 2024-06-01.") from None


def date_range(start: date | str, end: date | str) -> tuple[date, date]:
    """Validated (start, end) dates, inclusive."""
    d0, d1 = _as_date(start, "start"), _as_date(end, "end")
    if d1 < d0:
        raise InputError(f"The end date {d1} is before the start date {d0}.")
    return d0, d1


def default_search_dates(today: date | None = None) -> tuple[date, date]:
    """The last DEFAULT_SEARCH_DAYS days up to today: a window that finds scenes anywhere."""
    end = today or date.today()
    return end - timedelta(days=DEFAULT_SEARCH_DAYS), end


def _datetime_arg(d0: date, d1: date) -> str:
    return f"{d0.isoformat()}T00:00:00Z/{d1.isoformat()}T23:59:59Z"


def coverage_start(flavour: str) -> date:
    """The first date the service holds HLS v2 for (any sensor)."""
    return min(date.fromisoformat(d) for d in HLS_COVERAGE_START[flavour].values())


def cmr_stac_url() -> str:
    """NASA CMR-STAC: $GEOFM_CMR_STAC_URL, else the public LPCLOUD endpoint."""
    return resolve_stac_url(settings().cmr_stac_url)


def route_for_dates(d0: date, stac_url: str | None = None) -> str | None:
    """The endpoint to search for a range starting on ``d0``: NASA CMR-STAC when the default service
    (Planetary Computer) does not reach back that far and an Earthdata login is configured.

    Raises CoverageError when it does not reach back and no login is configured. Returns the URL to use
    (None: the one asked for).
    """
    url = resolve_stac_url(stac_url)
    if flavour_from_url(url) == CMR_FLAVOUR or d0 >= coverage_start(PC_FLAVOUR):
        return None
    if flavour_from_url(url) != PC_FLAVOUR and not _is_planetary_computer_like(url):
        return None
    how = earthdata_credentials()
    if how:
        log.info("dates from %s are before Planetary Computer's HLS (from %s): searching NASA CMR-STAC "
                 "%s with the Earthdata login from %s", d0, coverage_start(PC_FLAVOUR), cmr_stac_url(), how)
        return cmr_stac_url()
    log.warning("dates from %s need NASA CMR-STAC (HLS from 2013): set EARTHDATA_TOKEN or a ~/.netrc entry for "
                "urs.earthdata.nasa.gov, or point --stac-url / GEOFM_STAC_URL at %s", d0, CMR_STAC_LPCLOUD)
    raise CoverageError(
        f"Planetary Computer's HLS archive starts on {coverage_start(PC_FLAVOUR):%Y-%m-%d}, so it has nothing "
        f"from {d0:%Y-%m-%d}.",
        hint="Pick dates from 2020 on, or search NASA's archive (2013 on), which needs a NASA Earthdata login "
             "(EARTHDATA_TOKEN or ~/.netrc).")


def _is_planetary_computer_like(url: str) -> bool:
    """An endpoint that is not known by its host but serves Planetary Computer's HLS collections."""
    try:
        return open_endpoint(url)[1].flavour == PC_FLAVOUR
    except ServiceError:
        return False


def _search_items(client: Client, endpoint: Endpoint, collections: list[str], limit: int,
                  **kw: Any) -> list[Any]:
    """Items of a search, unique by id: pages of up to ``limit`` items (one page in the usual case), stopping
    at ``limit`` items, at a page without a ``next`` link, or at a page that brings nothing new."""

    search = client.search(collections=collections, limit=min(limit, STAC_PAGE_LIMIT), **kw)
    items: dict[str, Any] = {}
    try:
        for page in search.pages_as_dicts():
            new = 0
            for feature in page.get("features") or []:
                fid = feature.get("id")
                if fid and fid not in items:
                    items[fid] = pystac.Item.from_dict(feature, preserve_dict=False)
                    new += 1
            if new == 0 or len(items) >= limit:
                break
    except (APIError, requests.RequestException, ValueError) as err:
        raise service_error(endpoint.url, err) from None
    return list(items.values())[:limit]


def _cloud_args(client: Client, max_cloud: float) -> dict[str, Any]:
    """eo:cloud_cover as the query extension, else CQL2 filter, else nothing (filtered afterwards)."""

    if client.conforms_to(ConformanceClasses.QUERY):
        return {"query": {"eo:cloud_cover": {"lte": max_cloud}}}
    if client.conforms_to(ConformanceClasses.FILTER):
        return {"filter": {"op": "<=", "args": [{"property": "eo:cloud_cover"}, max_cloud]},
                "filter_lang": "cql2-json"}
    return {}


def _to_scenes(items: Iterable[Any], endpoint: Endpoint) -> list[Scene]:
    """Scenes from items; an item that is not a usable HLS item is left out (logged), and when every item is,
    the first reason is raised."""
    by_collection = {v: k for k, v in endpoint.collections.items()}
    scenes: dict[str, Scene] = {}
    refused: list[ServiceError] = []
    for item in items:
        sensor = by_collection.get(item.collection_id or "") or sensor_of(item.id, item.collection_id or "")
        if sensor is None:
            continue
        try:
            scenes[item.id] = Scene.from_item(item, sensor, signer=endpoint.signer)
        except ServiceError as err:
            log.warning("left out item %s: %s", item.id, err)
            refused.append(err)
    if not scenes and refused:
        raise refused[0]
    return list(scenes.values())


def sort_scenes(scenes: list[Scene]) -> list[Scene]:
    """Newest first; same time: least cloudy first, then by id."""
    return sorted(scenes, key=lambda s: (-s.datetime.timestamp(), s.cloud_cover, s.id))


def search_hls(aoi: AOI, start: date | str, end: date | str, *, max_cloud: float = 30,
               stac_url: str | None = None, limit: int = 200) -> list[Scene]:
    """HLS L30 and S30 scenes over the area between the dates with at most ``max_cloud`` % cloud.

    Results are newest first. Dates before Planetary Computer's HLS (2020) go to NASA CMR-STAC when an
    Earthdata login is configured. Raises NoScenesError, CoverageError, ServiceError or AuthError.
    """
    if not 0 <= max_cloud <= 100:
        raise InputError(f"The maximum cloud cover {max_cloud:g} must be between 0 and 100 percent.")
    d0, d1 = date_range(start, end)
    stac_url = route_for_dates(d0, stac_url) or stac_url
    client, endpoint = open_endpoint(stac_url)
    # RFC 7946 rings (exterior counter-clockwise): CMR answers 400 to clockwise ones (Leaflet draws those).
    kw: dict[str, Any] = dict(intersects=aoi.to_geojson(), datetime=_datetime_arg(d0, d1),
                              **_cloud_args(client, max_cloud))
    collections = [endpoint.collections[s] for s in SENSORS]
    items = _search_items(client, endpoint, collections, limit, **kw)
    if not items:
        # Planetary Computer has been seen to return nothing for multi-collection searches: ask one at a time.
        items = [it for c in collections for it in _search_items(client, endpoint, [c], limit, **kw)]
    scenes = [s for s in _to_scenes(items, endpoint) if not s.cloud_cover > max_cloud]
    if not scenes:
        raise NoScenesError(
            f"No HLS scenes over the area {aoi} between {d0} and {d1} with at most {max_cloud:g}% cloud.",
            hint="Try a wider date range or allow more cloud.")
    return sort_scenes(scenes)[:limit]


def get_scenes(ids: list[str], *, stac_url: str | None = None) -> list[Scene]:
    """Look scenes up by id (any date or tile). Unknown ids raise InputError naming them."""
    ids = [i.strip() for i in ids if i and i.strip()]
    if not ids:
        raise InputError("No scene ids were given.")
    client, endpoint = open_endpoint(stac_url)
    wanted = {s: [i for i in ids if sensor_of(i, "") in (s, None)] for s in SENSORS}
    found: list[Any] = []
    for sensor, sids in wanted.items():
        if sids:
            found += _search_items(client, endpoint, [endpoint.collections[sensor]], len(sids), ids=sids)
    scenes = {s.id: s for s in _to_scenes(found, endpoint)}
    unknown = [i for i in ids if i not in scenes]
    if unknown:
        raise InputError(f"Unknown scene id{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}.",
                         hint="Copy ids from the scene list of a search.")
    return [scenes[i] for i in dict.fromkeys(ids)]


def resign_planetary_computer(href: str) -> str:
    """A freshly signed href: drop the old token, fetch a new one for its container, sign again."""
    return sign_href(href, fresh=True)


#: Re-signers by Scene.signer: called once when a COG answers HTTP 403.
RESIGNERS: dict[str, Callable[[str], str]] = {PC_FLAVOUR: resign_planetary_computer}
