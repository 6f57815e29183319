"""Searching HLS v2 (L30 + S30) through a STAC API: Planetary Computer, NASA CMR-STAC or a compatible one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Iterable
from urllib.parse import urlparse, urlunparse

import requests
import requests.adapters
from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from urllib3 import Retry

from geofm.config import ENV_STAC_URL, PLANETARY_COMPUTER_STAC, STAC_COLLECTIONS
from geofm.data.aoi import AOI
from geofm.data.net import HttpPolicy, http_policy
from geofm.data.scene import Scene, sensor_of
from geofm.errors import AuthError, InputError, NoScenesError, ServiceError

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
    url = (stac_url or os.environ.get(ENV_STAC_URL) or PLANETARY_COMPUTER_STAC).strip()
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


def _retry(policy: HttpPolicy) -> Retry:
    return Retry(total=policy.retries, connect=policy.retries, read=policy.retries, status=policy.retries,
                 backoff_factor=policy.backoff_s, status_forcelist=(429, 500, 502, 503, 504),
                 allowed_methods=None, raise_on_status=False, respect_retry_after_header=True)


def _pc_token(account: str, container: str, *, fresh: bool = False) -> None:
    """Put a SAS token for (account, container) in planetary_computer's cache, fetched with our time limit
    and retries (the library's own fetch has no time-out). Cached tokens are reused until a minute before
    they expire, exactly as the library does; ``fresh`` forces a new one (after an HTTP 403)."""
    from planetary_computer import sas
    from planetary_computer.settings import Settings

    settings = Settings.get()
    url = f"{settings.sas_url}/{account}/{container}"
    cached = sas.TOKEN_CACHE.get(url)
    if cached is not None and not fresh and cached.ttl() >= 60:
        return
    policy = http_policy()
    session = requests.Session()
    session.mount("https://", requests.adapters.HTTPAdapter(max_retries=_retry(policy)))
    session.mount("http://", requests.adapters.HTTPAdapter(max_retries=_retry(policy)))
    headers = {"Ocp-Apim-Subscription-Key": settings.subscription_key} if settings.subscription_key else None
    try:
        resp = session.get(url, headers=headers, timeout=policy.timeout_s)
    except requests.RequestException as err:
        raise ServiceError(f"Cannot reach Planetary Computer's token service: {_network_reason(str(err))}.",
                           hint="Check the network connection.") from None
    if resp.status_code in (401, 403):
        raise AuthError(f"Planetary Computer refused a data token (HTTP {resp.status_code}).",
                        hint="Set PC_SDK_SUBSCRIPTION_KEY to a valid key, or try again later.")
    if resp.status_code != 200:
        raise ServiceError(f"Planetary Computer's token service failed (HTTP {resp.status_code}).",
                           hint="Try again in a minute.")
    sas.TOKEN_CACHE[url] = sas.SASToken(**resp.json())


def _blob_container(href: str) -> tuple[str, str] | None:
    from planetary_computer import sas
    from planetary_computer.utils import parse_blob_url

    parsed = urlparse(href)
    if not parsed.netloc.endswith(sas.BLOB_STORAGE_DOMAIN):
        return None
    return parse_blob_url(parsed)


def _pc_modifier(obj: Any) -> None:
    """pystac-client modifier: sign Planetary Computer hrefs with planetary_computer.sign_inplace, after
    making sure the needed SAS tokens are cached (fetched with a time limit)."""
    import planetary_computer

    assets = getattr(obj, "assets", None)
    if isinstance(assets, dict):
        for pair in {_blob_container(a.href) for a in assets.values()} - {None}:
            _pc_token(*pair)
    try:
        planetary_computer.sign_inplace(obj)
    except requests.RequestException as err:
        raise ServiceError(f"Cannot sign Planetary Computer links ({str(err)[:200]}).",
                           hint="Check the network connection.") from None


def service_error(url: str, err: Exception, what: str = "search") -> ServiceError:
    """Translate a pystac-client/requests failure into a user-facing error."""
    status = getattr(err, "status_code", None)
    if status is None and isinstance(err, requests.HTTPError) and err.response is not None:
        status = err.response.status_code
    detail = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
    if status == 401:
        return AuthError(f"The STAC service at {url} needs a login (HTTP 401).",
                         hint="For NASA Earthdata put your login in ~/.netrc or set EARTHDATA_TOKEN.")
    if status == 403:
        return AuthError(f"The STAC service at {url} refused access (HTTP 403): the token has expired or the "
                         "key lacks rights.", hint="Try again (a fresh token is requested), or check your key.")
    if status is not None and 400 <= status < 500:
        return ServiceError(f"The STAC service at {url} rejected the {what} (HTTP {status}): {detail}")
    if status is not None and status >= 500:
        return ServiceError(f"The STAC service at {url} failed (HTTP {status}) after {http_policy().retries} "
                            "retries.", hint="The service may be down; try again later.")
    return ServiceError(f"Cannot reach the STAC service at {url}: {_network_reason(str(err))}.",
                        hint="Check the network connection, or set GEOFM_STAC_URL / --stac-url.")


def _network_reason(text: str) -> str:
    """A short reason for a failed connection, from requests'/urllib3's long message."""
    policy = http_policy()
    tries = f"{policy.retries + 1} tries"
    low = text.lower()
    if "timed out" in low or "timeout" in low:
        return f"no answer within {policy.timeout_s:g} s ({tries})"
    if "refused" in low:
        return f"connection refused ({tries})"
    if "remotedisconnected" in low or "aborted" in low or "reset" in low:
        return f"the connection was dropped ({tries})"
    if "name or service not known" in low or "nodename nor servname" in low or "resolve" in low:
        return "the host name does not resolve"
    return text.strip().splitlines()[0][:200] if text.strip() else "unknown network error"


def open_endpoint(stac_url: str | None = None) -> tuple[Client, Endpoint]:
    """Open the STAC API (with time limits and retries) and find its HLS collections."""
    url = resolve_stac_url(stac_url)
    policy = http_policy()
    flavour = flavour_from_url(url)
    sign = flavour == PC_FLAVOUR
    stac_io = StacApiIO(timeout=policy.timeout_s, max_retries=_retry(policy))
    try:
        client = Client.open(url, stac_io=stac_io, modifier=_pc_modifier if sign else None)
    except (APIError, requests.RequestException, ValueError) as err:
        raise service_error(url, err, "connection") from None
    if flavour is None:
        flavour = _flavour_from_collections(client, url)
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


def _datetime_arg(d0: date, d1: date) -> str:
    return f"{d0.isoformat()}T00:00:00Z/{d1.isoformat()}T23:59:59Z"


def _items(client: Client, endpoint: Endpoint, collections: list[str], **kw: Any) -> list[Any]:
    search = client.search(collections=collections, **kw)
    try:
        return list(search.items())
    except (APIError, requests.RequestException, ValueError) as err:
        raise service_error(endpoint.url, err) from None


def _cloud_args(client: Client, max_cloud: float) -> dict[str, Any]:
    """eo:cloud_cover as the query extension, else CQL2 filter, else nothing (filtered afterwards)."""
    from pystac_client.conformance import ConformanceClasses

    if client.conforms_to(ConformanceClasses.QUERY):
        return {"query": {"eo:cloud_cover": {"lte": max_cloud}}}
    if client.conforms_to(ConformanceClasses.FILTER):
        return {"filter": {"op": "<=", "args": [{"property": "eo:cloud_cover"}, max_cloud]},
                "filter_lang": "cql2-json"}
    return {}


def _to_scenes(items: Iterable[Any], endpoint: Endpoint) -> list[Scene]:
    by_collection = {v: k for k, v in endpoint.collections.items()}
    scenes: dict[str, Scene] = {}
    for item in items:
        sensor = by_collection.get(item.collection_id or "") or sensor_of(item.id, item.collection_id or "")
        if sensor is None:
            continue
        scenes[item.id] = Scene.from_item(item, sensor, signer=endpoint.signer)
    return list(scenes.values())


def sort_scenes(scenes: list[Scene]) -> list[Scene]:
    """Newest first; same time: least cloudy first, then by id."""
    return sorted(scenes, key=lambda s: (-s.datetime.timestamp(), s.cloud_cover, s.id))


def search_hls(aoi: AOI, start: date | str, end: date | str, *, max_cloud: float = 30,
               stac_url: str | None = None, limit: int = 200) -> list[Scene]:
    """HLS L30 and S30 scenes over the area between the dates with at most ``max_cloud`` % cloud.

    Results are newest first. Raises NoScenesError, ServiceError or AuthError with a clear message.
    """
    if not 0 <= max_cloud <= 100:
        raise InputError(f"The maximum cloud cover {max_cloud:g} must be between 0 and 100 percent.")
    d0, d1 = date_range(start, end)
    client, endpoint = open_endpoint(stac_url)
    kw: dict[str, Any] = dict(intersects=aoi.to_geojson(), datetime=_datetime_arg(d0, d1), max_items=limit,
                              limit=min(limit, 100), **_cloud_args(client, max_cloud))
    collections = [endpoint.collections[s] for s in SENSORS]
    items = _items(client, endpoint, collections, **kw)
    if not items:
        # Planetary Computer has been seen to return nothing for multi-collection searches: ask one at a time.
        items = [it for c in collections for it in _items(client, endpoint, [c], **kw)]
    scenes = [s for s in _to_scenes(items, endpoint) if not s.cloud_cover > max_cloud]
    if not scenes:
        raise NoScenesError(
            f"No HLS scenes over the area {aoi} between {d0} and {d1} with at most {max_cloud:g}% cloud "
            f"(searched {endpoint.url}).",
            hint="Try a wider date range or allow more cloud (--max-cloud).")
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
            found += _items(client, endpoint, [endpoint.collections[sensor]], ids=sids, max_items=len(sids))
    scenes = {s.id: s for s in _to_scenes(found, endpoint)}
    unknown = [i for i in ids if i not in scenes]
    if unknown:
        raise InputError(f"Unknown scene id{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                         f"(not found at {endpoint.url}).",
                         hint="Copy ids from `geofm search` or the app's scene list.")
    return [scenes[i] for i in dict.fromkeys(ids)]


def strip_query(href: str) -> str:
    """The href without its query string (an old SAS token)."""
    p = urlparse(href)
    return urlunparse(p._replace(query=""))


def resign_planetary_computer(href: str) -> str:
    """A freshly signed href: drop the old token, fetch a new one for its container, sign again."""
    from planetary_computer import sas

    bare = strip_query(href)
    pair = _blob_container(bare)
    if pair is not None:
        _pc_token(*pair, fresh=True)
    return sas.sign_url(bare)


#: Re-signers by Scene.signer: called once when a COG answers HTTP 403.
RESIGNERS: dict[str, Callable[[str], str]] = {PC_FLAVOUR: resign_planetary_computer}

