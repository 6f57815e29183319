"""The HLS stand-in: real HTTP services on loopback that behave like Planetary Computer and NASA CMR-STAC
(see server.py, layout.py, generate.py).

    with StandIn.start(folder) as s:    # generates the files once (seconds), serves on free ports
        s.url                            # Planetary Computer mode: STAC API + SAS token API + blob host
        s.cmr_url                        # CMR mode: {s.url}/stac/LPCLOUD, COGs on the Earthdata data host
        s.stats.file_bytes               # bytes of image files served so far
        s.fail_next(2, status=503, match="B04")   # fault injection

Planetary Computer mode: asset hrefs are Azure blobs in path style, ``{s.url}/hls2euwest/hls2/e{epoch}/S30/...``.
By default they read without a token (``require_tokens(False)``); with ``require_tokens(True)`` a read needs a
SAS token from ``{s.url}/api/sas/v1/token/hls2euwest/hls2`` appended as the query (like
``planetary_computer.sign``): none -> 409 PublicAccessNotPermitted, unknown or expired -> 403
AuthenticationFailed (Azure's XML body and ``x-ms-error-code`` header).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import requests

from tests.standin.generate import generate
from tests.standin.server import (
    ACCOUNT,
    CMR_ROOT,
    CONTAINER,
    Fault,
    HostRequest,
    StandInHTTPServer,
    StandInState,
    Stats,
    corrupt_copy,
)

DATA_HOST_IP, LOGIN_HOST_IP, S3_HOST_IP = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def _serve(host: str, port: int, state: StandInState, role: str) -> tuple[StandInHTTPServer, threading.Thread]:
    server = StandInHTTPServer((host, port), state, role)
    thread = threading.Thread(target=server.serve_forever, name=f"stac-standin-{role}", daemon=True)
    thread.start()
    return server, thread


def _other_loopback(ip: str, state: StandInState, role: str) -> tuple[StandInHTTPServer, threading.Thread]:
    """Serve on another loopback address (another host name for clients); 127.0.0.1 where that fails."""
    try:
        return _serve(ip, 0, state, role)
    except OSError:
        return _serve("127.0.0.1", 0, state, role)


class StandIn:
    """A running stand-in and the handles tests use to drive and observe it."""

    def __init__(self, folder: Path, servers: list[tuple[StandInHTTPServer, threading.Thread]]) -> None:
        self.folder = folder
        self._servers = servers
        self.server, self.thread = servers[0]

    @classmethod
    def start(cls, folder: str | Path, port: int = 0, host: str = "127.0.0.1") -> StandIn:
        folder = Path(folder)
        catalog = json.loads(generate(folder).read_text())
        state = StandInState(folder, catalog)
        main = _serve(host, port, state, "pc")
        data = _other_loopback(DATA_HOST_IP, state, "data")
        login = _other_loopback(LOGIN_HOST_IP, state, "login")
        s3 = _other_loopback(S3_HOST_IP, state, "s3")
        state.base_url = f"http://{host}:{main[0].server_address[1]}"
        state.data_url = "http://{}:{}".format(*data[0].server_address[:2])
        state.login_url = "http://{}:{}".format(*login[0].server_address[:2])
        state.s3_url = "http://{}:{}".format(*s3[0].server_address[:2])
        return cls(folder, [main, data, login, s3])

    # ------------------------------------------------------------------ observe
    @property
    def state(self) -> StandInState:
        return self.server.state

    @property
    def url(self) -> str:
        """Planetary Computer mode's STAC API root (also the token API and the blob host)."""
        return self.state.base_url

    @property
    def cmr_url(self) -> str:
        """CMR mode's STAC API root, like https://cmr.earthdata.nasa.gov/stac/LPCLOUD."""
        return self.state.base_url + CMR_ROOT

    @property
    def blob_url(self) -> str:
        """The blob container's root, like https://hls2euwest.blob.core.windows.net/hls2 (path style)."""
        return f"{self.state.base_url}/{ACCOUNT}/{CONTAINER}"

    @property
    def sas_url(self) -> str:
        """Planetary Computer's token API root; tokens are at {sas_url}/{account}/{container}."""
        return f"{self.state.base_url}/api/sas/v1/token"

    @property
    def data_url(self) -> str:
        """The Earthdata data host (like https://data.lpdaac.earthdatacloud.nasa.gov)."""
        return self.state.data_url

    @property
    def login_url(self) -> str:
        """The Earthdata login host (like https://urs.earthdata.nasa.gov)."""
        return self.state.login_url

    @property
    def s3_url(self) -> str:
        """The object store the data host redirects to with ``s3_redirect(True)`` (not an Earthdata host)."""
        return self.state.s3_url

    @property
    def data_host(self) -> str:
        return self.state.data_url.split("//", 1)[1].split(":")[0]

    @property
    def login_host(self) -> str:
        return self.state.login_url.split("//", 1)[1].split(":")[0]

    @property
    def earthdata_token(self) -> str:
        return self.state.earthdata_token

    @property
    def earthdata_user(self) -> str:
        return self.state.earthdata_user

    @property
    def earthdata_password(self) -> str:
        return self.state.earthdata_password

    def netrc_text(self) -> str:
        """A ~/.netrc entry for the login host (what curl/GDAL send as basic auth there)."""
        return f"machine {self.login_host} login {self.earthdata_user} password {self.earthdata_password}\n"

    @property
    def stats(self) -> Stats:
        return self.state.stats

    @property
    def items(self) -> list[dict[str, Any]]:
        """Planetary Computer mode's items (hrefs still hold the {pc} template)."""
        return self.state.pc_items

    @property
    def cmr_items(self) -> list[dict[str, Any]]:
        return self.state.cmr_items

    def host_requests(self, host: str | None = None) -> list[HostRequest]:
        """Requests as each host saw them: host is "pc" (main), "data" (Earthdata data), "login" (URS) or "s3"."""
        with self.state.lock:
            return [r for r in self.state.stats.hosts if host is None or r.host == host]

    def reset_stats(self) -> None:
        with self.state.lock:
            self.state.stats = Stats()

    def file_size(self, name: str) -> int:
        return (self.folder / "files" / name).stat().st_size

    # ------------------------------------------------------------------ drive: generic faults
    def fail_next(self, count: int, *, status: int = 503, match: str = "") -> None:
        """Answer the next ``count`` requests whose path (with query; POST: and body, e.g. ``"next:"`` for a
        next-page request) contains ``match`` with HTTP ``status``
        (a JSON body on the STAC API, Azure's XML on blobs, an HTML "Oops!" page on the CMR root and the
        Earthdata hosts)."""
        with self.state.lock:
            self.state.faults.append(Fault(count, match, status))

    def stall_next(self, count: int, seconds: float, *, match: str = "") -> None:
        """Accept the next ``count`` matching requests, answer nothing for ``seconds``, then drop the
        connection (STAC, token API and file requests alike)."""
        with self.state.lock:
            self.state.faults.append(Fault(count, match, 0, seconds))

    def busy_next(self, count: int, match: str = "") -> None:
        """The next ``count`` matching requests get Azure's 503 ServerBusy (XML body, x-ms-error-code)."""
        with self.state.lock:
            self.state.faults.append(Fault(count, match, 503, kind="busy"))

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()
            self.state.throttle_count = 0
            self.state.corrupt_once.clear()

    def set_latency(self, seconds: float) -> None:
        self.state.latency_s = seconds

    def set_bandwidth(self, mbit_per_s: float) -> None:
        """Limit each connection's image-file bytes to ``mbit_per_s`` (0 = unlimited)."""
        self.state.bandwidth_bps = mbit_per_s * 1e6 / 8

    def set_conformance(self, mode: str) -> None:
        """both | query | filter | none: which cloud-cover filters the PC-mode API claims to support."""
        self.state.conformance = mode

    def single_collection_only(self, on: bool = True) -> None:
        """Searches naming several collections return nothing (a quirk seen on Planetary Computer)."""
        self.state.single_collection_only = on

    def set_paging(self, *, no_next: bool = False, duplicates: bool = False) -> None:
        """Paging quirks: ``no_next`` = pages come without a ``next`` link even when more items match;
        ``duplicates`` = each page after the first starts with the last two items of the previous page."""
        self.state.no_next = no_next
        self.state.duplicates = duplicates

    def new_epoch(self) -> None:
        """Serve asset hrefs under a new path, so GDAL's in-process HTTP cache holds none of them."""
        self.state.epoch += 1

    # ------------------------------------------------------------------ drive: Planetary Computer signing
    def require_tokens(self, on: bool = True) -> None:
        """Blob reads need a valid, unexpired SAS token (409 without one, 403 with a bad or expired one)."""
        self.state.require_token = on

    def set_token_lifetime(self, seconds: float) -> None:
        """Lifetime of tokens issued from now on (``msft:expiry`` and the check); negative = pre-expired."""
        self.state.token_lifetime_s = seconds

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (blob reads with it get 403 AuthenticationFailed)."""
        with self.state.lock:
            self.state.tokens.clear()

    expire_token = expire_tokens  # the old name

    def throttle_tokens(self, count: int, retry_after: int = 1) -> None:
        """The next ``count`` token requests get 429 "Rate limit is exceeded. Try again in N seconds." with
        ``Retry-After: N``."""
        with self.state.lock:
            self.state.throttle_count = count
            self.state.throttle_retry_after = retry_after

    @property
    def token_requests(self) -> int:
        return self.state.stats.token_requests

    def token(self, account: str = ACCOUNT, container: str = CONTAINER) -> dict[str, str]:
        """A token from the token API, over HTTP (counted), as planetary_computer would get it."""
        r = requests.get(f"{self.sas_url}/{account}/{container}", timeout=10)
        r.raise_for_status()
        return r.json()

    def sign(self, href: str) -> str:
        """``href`` with a fresh SAS token as its query (what planetary_computer.sign does for real blobs)."""
        return f"{href.split('?', 1)[0]}?{self.token()['token']}"

    # ------------------------------------------------------------------ drive: Earthdata
    def s3_redirect(self, on: bool = True) -> None:
        """Authorized data-host requests get a 307 to a presigned URL on the S3 host (LP DAAC's answer outside
        its cloud region); the S3 host refuses a request that also carries an Authorization header (HTTP 400
        InvalidArgument, "Only one auth mechanism allowed"), so a client must not forward the bearer token."""
        self.state.s3_redirect = on

    # ------------------------------------------------------------------ drive: corrupt data
    def corrupt_file(self, name: str, kind: str = "garbage") -> None:
        """Serve ``name`` (a served file name like HLS...v2.0.B04.tif, or the disk name) with intact header
        and tile index but damaged tile bytes (``corrupt_copy``'s kinds), until ``restore_file``/``restore_all``."""
        disk = self.state.aliases.get(name, name)
        bad = corrupt_copy(self.folder / "files" / disk, kind)
        with self.state.lock:
            self.state.corrupt[name] = bad

    def corrupt_next(self, count: int, match: str = "") -> None:
        """The next ``count`` COG requests whose file name contains ``match`` are served corrupt."""
        with self.state.lock:
            self.state.corrupt_once.append([count, match])

    def restore_file(self, name: str) -> None:
        with self.state.lock:
            self.state.corrupt.pop(name, None)

    def restore_all(self) -> None:
        with self.state.lock:
            self.state.corrupt.clear()
            self.state.corrupt_once.clear()

    def reset(self) -> None:
        """Back to the defaults (what the per-test fixture does)."""
        self.clear_faults()
        self.restore_all()
        self.set_latency(0.0)
        self.set_bandwidth(0.0)
        self.set_conformance("both")
        self.require_tokens(False)
        self.set_token_lifetime(45 * 60.0)
        self.single_collection_only(False)
        self.set_paging()
        self.s3_redirect(False)
        self.new_epoch()
        self.reset_stats()

    def close(self) -> None:
        for server, thread in self._servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
