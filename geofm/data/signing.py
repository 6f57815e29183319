"""Planetary Computer SAS signing, with time limits we control.

Asset hrefs on Azure blob storage (``https://{account}.blob.core.windows.net/{container}/…``, or the
path-style ``http://127.0.0.1:PORT/{account}/{container}/…`` of a local storage emulator) only read with a
SAS token from Planetary Computer's token API (``{sas_url}/{account}/{container}``). Tokens are fetched
once per container with geofm's time limit, kept until a minute before they expire, and a 429
"Rate limit is exceeded" is waited out as the server asks, within a bounded total. pystac-client 0.9 hands
the search modifier the raw page **dict**; :func:`sign_in_place` signs that form as well as pystac objects.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse, urlunparse

import requests

from geofm.config import AZURE_BLOB_DOMAIN, THROTTLE_BUDGET_S
from geofm.data.net import http_policy, redact, retry_after_s
from geofm.errors import IMAGES_BUSY, IMAGES_DOWN, AuthError, ServiceError

log = logging.getLogger(__name__)

#: Re-sign a token this many seconds before it expires.
TOKEN_MARGIN_S = 60.0


@dataclass(frozen=True)
class BlobContainer:
    account: str
    container: str


@dataclass(frozen=True)
class SasToken:
    token: str
    expiry: datetime
    fetched: float = 0.0  # time.monotonic() when it arrived

    @property
    def sig(self) -> str:
        return parse_qs(self.token).get("sig", [""])[0]

    def ttl(self) -> float:
        return (self.expiry - datetime.now(timezone.utc)).total_seconds()


def _is_local_host(host: str) -> bool:
    if host in ("localhost",) or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def blob_container(href: str) -> BlobContainer | None:
    """The storage account and container an href lives in, or None when it is not a blob href."""
    try:
        parsed = urlparse(href)
    except ValueError:
        return None
    host = (parsed.hostname or "").lower()
    parts = [p for p in parsed.path.split("/") if p]
    if host.endswith(AZURE_BLOB_DOMAIN) and parts:
        return BlobContainer(host.split(".", 1)[0], parts[0])
    if _is_local_host(host) and len(parts) >= 3:  # storage emulator: /{account}/{container}/{blob}
        return BlobContainer(parts[0], parts[1])
    return None


def strip_query(href: str) -> str:
    """The href without its query string (an old SAS token)."""
    p = urlparse(href)
    return urlunparse(p._replace(query=""))


_TOKENS: dict[BlobContainer, SasToken] = {}
_FETCHING: dict[BlobContainer, threading.Lock] = {}
_LOCK = threading.Lock()


def clear_tokens() -> None:
    """Forget every cached token (tests; a process that wants fresh tokens)."""
    with _LOCK:
        _TOKENS.clear()


def _sas_settings() -> tuple[str, str | None]:
    from planetary_computer.settings import Settings  # lazy: planetary_computer

    settings = Settings.get()
    return settings.sas_url.rstrip("/"), settings.subscription_key


def _parse_expiry(text: str) -> datetime:
    when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


#: A token younger than this is reused even when it looks expired (a pre-expired token is not fetched again for
#: every href of a page; the read's 403 asks for a fresh one).
TOKEN_REUSE_S = 10.0


def sas_token(where: BlobContainer, *, fresh: bool = False, refused_sig: str = "") -> str:
    """A SAS token for the container: cached, else fetched with geofm's time limit and throttling rules.

    ``fresh``: the token with signature ``refused_sig`` was refused; a cached token other than that one and
    still valid is used, else a new one is fetched (so a 403 on many files costs one token request).
    """
    with _LOCK:
        gate = _FETCHING.setdefault(where, threading.Lock())
    with gate:  # one fetch per container at a time: many reads refused at once cost one token request
        with _LOCK:
            cached = _TOKENS.get(where)
        if cached is not None:
            good = cached.ttl() >= TOKEN_MARGIN_S
            if not fresh and (good or time.monotonic() - cached.fetched < TOKEN_REUSE_S):
                return cached.token
            if fresh and good and cached.sig != refused_sig:
                return cached.token
        token = _fetch_token(where)
        if token.ttl() < TOKEN_MARGIN_S:  # pre-expired or nearly so (reported on Planetary Computer)
            log.warning("Planetary Computer issued a token for %s/%s that expires in %.0f s",
                        where.account, where.container, token.ttl())
        with _LOCK:
            _TOKENS[where] = token
        return token.token


def _fetch_token(where: BlobContainer) -> SasToken:
    sas_url, key = _sas_settings()
    url = f"{sas_url}/{where.account}/{where.container}"
    policy = http_policy()
    headers = {"Ocp-Apim-Subscription-Key": key} if key else None
    waited, failures = 0.0, 0
    while True:
        try:
            resp = requests.get(url, headers=headers, timeout=policy.timeout_s)
        except requests.RequestException as err:
            failures += 1
            if failures > policy.retries:
                log.warning("token service %s unreachable: %s", url, redact(str(err)))
                raise ServiceError("Cannot reach Planetary Computer's data-token service "
                                   f"({_short_reason(err, policy.timeout_s)}).",
                                   hint="Check the network connection and try again.", plain=IMAGES_DOWN) from None
            time.sleep(policy.backoff_s * 2 ** (failures - 1))
            continue
        if resp.status_code == 200:
            body = resp.json()
            return SasToken(str(body["token"]), _parse_expiry(body["msft:expiry"]), time.monotonic())
        if resp.status_code in (429, 503):
            wait = retry_after_s(dict(resp.headers), resp.text)
            wait = policy.backoff_s * 2 ** failures if wait is None else wait
            failures += 1
            if waited + wait > THROTTLE_BUDGET_S or failures > max(policy.retries, 1) + 3:
                log.warning("token service %s throttled us (HTTP %s, wait %.0f s)", url, resp.status_code, wait)
                raise ServiceError("Planetary Computer is busy right now (it is limiting requests).",
                                   hint=f"Try again in about {max(1, round(wait))} seconds.",
                                   plain=IMAGES_BUSY) from None
            log.info("token service throttled (HTTP %s): waiting %.1f s as asked", resp.status_code, wait)
            time.sleep(wait)
            waited += wait
            continue
        if resp.status_code in (401, 403):
            raise AuthError(f"Planetary Computer refused a data token (HTTP {resp.status_code}).",
                            hint="Try again later.")
        failures += 1
        if resp.status_code < 500 or failures > policy.retries:
            raise ServiceError(f"Planetary Computer's data-token service failed (HTTP {resp.status_code}).",
                               hint="Try again in a minute.", plain=IMAGES_DOWN)
        time.sleep(policy.backoff_s * 2 ** (failures - 1))


def _short_reason(err: Exception, timeout_s: float) -> str:
    text = str(err).lower()
    if "timed out" in text or "timeout" in text:
        return f"no answer within {timeout_s:g} s"
    if "refused" in text:
        return "connection refused"
    return "network error"


def sign_href(href: str, *, fresh: bool = False) -> str:
    """``href`` with a current SAS token (old token dropped); unchanged when it is not a blob href."""
    where = blob_container(href)
    if where is None:
        return href
    old_sig = parse_qs(urlparse(href).query).get("sig", [""])[0]
    return f"{strip_query(href)}?{sas_token(where, fresh=fresh, refused_sig=old_sig)}"


def token_expired(href: str, margin_s: float = TOKEN_MARGIN_S) -> bool:
    """True when a signed href's token (its ``se`` expiry) has passed or will within ``margin_s``."""
    q = parse_qs(urlparse(href).query)
    if "se" not in q:
        return blob_container(href) is not None  # a blob href without a token needs one
    try:
        return (_parse_expiry(q["se"][0]) - datetime.now(timezone.utc)).total_seconds() < margin_s
    except ValueError:
        return True


def fresh_href(href: str | None) -> str | None:
    """A signed href whose token is still good: re-signed when it has expired (e.g. thumbnails shown later)."""
    if not href or blob_container(href) is None or not token_expired(href):
        return href
    return sign_href(href, fresh=True)


def _sign_asset_dicts(assets: Any) -> None:
    if isinstance(assets, dict):
        for asset in assets.values():
            if isinstance(asset, dict) and isinstance(asset.get("href"), str):
                asset["href"] = sign_href(asset["href"])


def sign_in_place(obj: Any) -> None:
    """pystac-client modifier: sign asset hrefs in a raw page dict, an item dict, or pystac objects."""
    if isinstance(obj, dict):
        for feature in obj.get("features") or []:
            if isinstance(feature, dict):
                _sign_asset_dicts(feature.get("assets"))
        _sign_asset_dicts(obj.get("assets"))
        return
    items = getattr(obj, "items", None)
    if isinstance(items, list):  # pystac ItemCollection
        for item in items:
            sign_in_place(item)
        return
    assets = getattr(obj, "assets", None)
    if isinstance(assets, dict):  # pystac Item / Collection
        for asset in assets.values():
            asset.href = sign_href(asset.href)
