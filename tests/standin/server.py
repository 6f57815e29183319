"""The stand-in's HTTP side: one state, served on up to three loopback hosts.

Main host (127.0.0.1), Planetary Computer mode: STAC API at ``/`` (search GET/POST, bbox, intersects, datetime,
ids, query extension, CQL2 filter, paging with PC's quirks), the SAS token API at ``/api/sas/v1/token/...`` and
Azure-blob-like COG hosting in path style (``/{account}/{container}/{blob}``, like the Azurite emulator) with
SAS checks and Azure's XML errors. CMR mode on the same host: a CMR-STAC-like API at ``/stac/LPCLOUD``.
Data host (127.0.0.2): LP DAAC's ``/lp-prot`` (Earthdata login: bearer token or session cookie, else a redirect
to the login host) and ``/lp-public``. Login host (127.0.0.3): ``/oauth/authorize`` with HTTP basic auth.
S3 host (127.0.0.4): presigned URLs the data host redirects to when ``s3_redirect`` is on.
Files support Range requests; bytes are counted; faults can be injected per path."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlparse

from shapely.geometry import box, shape

CORE = ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/collections",
        "https://api.stacspec.org/v1.0.0/item-search",
        "http://www.opengis.net/spec/ogcapi-features-1/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/conf/geojson"]
QUERY = ["https://api.stacspec.org/v1.0.0-rc.1/item-search#query"]
FILTER = ["https://api.stacspec.org/v1.0.0-rc.1/item-search#filter",
          "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json", "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
          "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2"]
COLLECTIONS = {"hls2-l30": "HLS v2.0 Landsat (stand-in)", "hls2-s30": "HLS v2.0 Sentinel-2 (stand-in)"}
#: Reference collections (Planetary Computer mode only): id -> (title, temporal extent start, end)
REFERENCE_COLLECTIONS = {
    "esa-worldcover": ("ESA WorldCover (stand-in)", "2020-01-01T00:00:00Z", "2021-12-31T23:59:59Z"),
    "jrc-gsw": ("JRC Global Surface Water (stand-in)", "1984-03-01T00:00:00Z", "2020-12-31T23:59:59Z"),
    "usda-cdl": ("USDA Cropland Data Layers (stand-in)", "2008-01-01T00:00:00Z", "2021-12-31T23:59:59Z"),
}
PC_START = "2020-01-01T00:00:00Z"  # Planetary Computer's HLS v2 record starts here
CMR_ROOT = "/stac/LPCLOUD"
CMR_COLLECTIONS = {"HLSL30_2.0": (("HLS Landsat Operational Land Imager Surface Reflectance and TOA Brightness "
                                   "Daily Global 30m v2.0"), "2013-04-11T00:00:00.000Z"),
                   "HLSS30_2.0": (("HLS Sentinel-2 Multi-spectral Instrument Surface Reflectance Daily Global 30m "
                                   "v2.0"), "2015-11-28T00:00:00.000Z")}
ACCOUNT, CONTAINER = "hls2euwest", "hls2"
PC_MAX_LIMIT = 1000
CW_POLYGON = ("The polygon boundary points are listed in the wrong order. Points must be provided in "
              "counter-clockwise order.")
OOPS_HTML = (b"<!DOCTYPE html><html><head><title>Oops!</title></head><body><h1>Oops!</h1><p>Something went "
             b"wrong. We have been alerted and are working to resolve the problem.</p></body></html>")
URS_REALM = ('Basic realm="Please enter your Earthdata Login credentials. If you do not have a Earthdata Login, '
             'create one at https://urs.earthdata.nasa.gov//users/new"')
SESSION_COOKIE = "urs_session"


@dataclass
class Fault:
    """Answer the next ``count`` requests whose path contains ``match`` with ``status`` (or stall, or busy)."""

    count: int
    match: str
    status: int = 503
    stall_s: float = 0.0
    kind: str = "plain"  # plain | busy (Azure's 503 ServerBusy XML)


@dataclass
class HostRequest:
    """One request as a host saw it (for checking where credentials went)."""

    host: str  # pc | data | login | s3
    method: str
    path: str  # without the query
    authorization: str  # the scheme of the Authorization header ("Bearer", "Basic") or ""
    cookie: bool
    status: int = 0


@dataclass
class Stats:
    file_bytes: int = 0  # body bytes of COG / image responses
    file_requests: int = 0
    stac_requests: int = 0
    faults_served: int = 0
    fault_paths: list[str] = field(default_factory=list)  # the path (query left out) of each fault served
    token_requests: int = 0  # requests to the SAS token API (throttled ones included)
    ranges: list[tuple[str, int, int]] = field(default_factory=list)
    #: (method, file, Range header, arrival time after the added latency)
    requests_log: list[tuple[str, str, str, float]] = field(default_factory=list)
    hosts: list[HostRequest] = field(default_factory=list)


@dataclass
class Token:
    account: str
    container: str
    expiry: datetime


class StandInState:
    """Everything the handlers need; tests drive it through the StandIn object."""

    def __init__(self, root: Path, catalog: dict[str, Any]) -> None:
        self.root = root
        records = catalog["items"]
        self.pc_items: list[dict[str, Any]] = [r["pc"] for r in records if not r["cmr_only"]]
        self.cmr_items: list[dict[str, Any]] = [r["cmr"] for r in records]
        #: reference layers' items (Planetary Computer mode only; searched with the HLS items)
        self.ref_items: list[dict[str, Any]] = list(catalog.get("references", []))
        self.aliases: dict[str, str] = catalog.get("aliases", {})
        self.lock = threading.Lock()
        self.stats = Stats()
        self.faults: list[Fault] = []
        self.latency_s = 0.0
        self.bandwidth_bps = 0.0  # per connection, image files only; 0 = unlimited
        self.conformance = "both"  # both | query | filter | none
        self.epoch = 0  # part of asset hrefs, so a test can get URLs GDAL has not cached
        self.base_url = ""
        self.data_url = ""  # Earthdata data host (LP DAAC)
        self.login_url = ""  # Earthdata login host (URS)
        #: Emulate Planetary Computer's quirk: a search naming several collections returns nothing.
        self.single_collection_only = False
        # Planetary Computer signing
        self.require_token = False
        self.tokens: dict[str, Token] = {}  # sig -> token
        self.token_lifetime_s = 45 * 60.0
        self.throttle_count = 0
        self.throttle_retry_after = 1
        # paging quirks
        self.no_next = False
        self.duplicates = False
        # corrupt files: served name or disk name -> corrupt copy on disk
        self.corrupt: dict[str, Path] = {}
        self.corrupt_once: list[list[Any]] = []  # [count, match]
        # Earthdata
        self.earthdata_user = "standin-user"
        self.earthdata_password = "standin-" + secrets.token_hex(6)
        self.earthdata_token = "edl-" + secrets.token_urlsafe(24)
        self.sessions: set[str] = set()
        self.codes: set[str] = set()
        #: LP DAAC answers authorized downloads from outside us-west-2 with a 307 to a presigned S3 URL
        self.s3_redirect = False
        self.s3_url = ""
        self.s3_signatures: set[str] = set()

    # ------------------------------------------------------------------ faults
    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.count > 0 and f.match in path:
                    f.count -= 1
                    self.stats.faults_served += 1
                    self.stats.fault_paths.append(path.split("?", 1)[0])
                    return f
        return None

    # ------------------------------------------------------------------ tokens
    def issue_token(self, account: str, container: str) -> dict[str, str]:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        expiry = now + timedelta(seconds=self.token_lifetime_s)
        st = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        se = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
        sig = base64.b64encode(hashlib.sha256(uuid.uuid4().bytes).digest()).decode()
        with self.lock:
            self.tokens[sig] = Token(account, container, expiry)
        token = urlencode({"st": st, "se": se, "sp": "rl", "sv": "2024-05-04", "sr": "c",
                           "skoid": str(uuid.uuid4()), "sktid": str(uuid.uuid4()), "skt": st, "ske": se,
                           "sks": "b", "skv": "2024-05-04", "sig": sig})
        return {"msft:expiry": se, "token": token}

    def check_token(self, account: str, container: str, params: dict[str, str]) -> tuple[int, str, str] | None:
        """None when the read may go ahead, else (status, Azure error code, message detail)."""
        if not self.require_token:
            return None
        sig = params.get("sig")
        if not sig:
            return 409, "PublicAccessNotPermitted", ""
        tok = self.tokens.get(sig)
        now = datetime.now(timezone.utc)
        if tok is None or (tok.account, tok.container) != (account, container):
            return 403, "AuthenticationFailed", "Signature did not match. String to sign used was r"
        if tok.expiry <= now:
            return 403, "AuthenticationFailed", (
                f"Signed expiry time [{tok.expiry:%a, %d %b %Y %H:%M:%S GMT}] must be after signed start time "
                f"[{now:%a, %d %b %Y %H:%M:%S GMT}]")
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm plus the client's
    # delayed ACK stalls every response by ~40 ms on loopback, which no production object store does.
    disable_nagle_algorithm = True
    server: StandInHTTPServer

    def log_message(self, *args: Any) -> None:  # quiet
        return

    @property
    def st(self) -> StandInState:
        return self.server.state

    # ------------------------------------------------------------------ plumbing
    def _send(self, status: int, body: bytes, ctype: str = "application/json",
              headers: dict[str, str] | None = None, count_file: bool = False) -> None:
        if self._logged is not None:
            self._logged.status = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self._write_body(body, throttle=count_file)
            except (BrokenPipeError, ConnectionResetError):
                return
            if count_file:
                with self.st.lock:
                    self.st.stats.file_bytes += len(body)

    def _write_body(self, body: bytes, throttle: bool) -> None:
        """Write the body, at most ``bandwidth_bps`` bytes per second per connection when set."""
        bps = self.st.bandwidth_bps if throttle else 0.0
        if not bps:
            self.wfile.write(body)
            return
        step = 64 * 1024
        t0 = time.perf_counter()
        for i in range(0, len(body), step):
            self.wfile.write(body[i:i + step])
            ahead = (i + step) / bps - (time.perf_counter() - t0)
            if ahead > 0:
                time.sleep(ahead)

    def _json(self, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/geo+json" if isinstance(obj, dict) and
                   "features" in obj else "application/json", headers)

    def _azure_error(self, status: int, code: str, message: str, detail: str = "",
                     headers: dict[str, str] | None = None) -> None:
        """Azure Blob Storage's error answer: an XML body and the x-ms-error-code header."""
        rid = str(uuid.uuid4())
        when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
        extra = f"<AuthenticationErrorDetail>{detail}</AuthenticationErrorDetail>" if detail else ""
        body = (f'\ufeff<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}\n'
                f"RequestId:{rid}\nTime:{when}</Message>{extra}</Error>").encode()
        self._send(status, body, "application/xml", {"x-ms-error-code": code, "x-ms-request-id": rid,
                                                     "x-ms-version": "2024-05-04", **(headers or {})})

    def _fault(self, role: str, body: bytes = b"") -> bool:
        if self.st.latency_s:
            time.sleep(self.st.latency_s)
        f = self.st.take_fault(self.path + (" " + body.decode("utf-8", "replace") if body else ""))
        if f is None:
            return False
        if f.stall_s:  # accept, read the request, never answer; then drop the connection
            time.sleep(f.stall_s)
            self.close_connection = True
            try:
                self.wfile.write(b"")
            except OSError:
                pass
            return True
        if f.kind == "busy":
            self._azure_error(503, "ServerBusy", "The server is busy.")
        elif role == "pc" and self.path.startswith(CMR_ROOT) or role != "pc":
            self._send(f.status, OOPS_HTML, "text/html; charset=utf-8")
        elif self.path.startswith(f"/{ACCOUNT}/"):
            self._azure_error(f.status, {404: "BlobNotFound", 403: "AuthenticationFailed"}.get(
                f.status, "InternalError"), "Injected failure.")
        else:
            self._json({"code": str(f.status), "description": "injected"}, f.status)
        return True

    def _log_host(self) -> None:
        auth = (self.headers.get("Authorization") or "").split(" ")[0]
        self._logged = HostRequest(self.server.role, self.command, urlparse(self.path).path, auth,
                                   bool(self.headers.get("Cookie")))
        with self.st.lock:
            self.st.stats.hosts.append(self._logged)

    _logged: HostRequest | None = None

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self._log_host()
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if self.server.role == "data":
            return self._data_host(parts, params)
        if self.server.role == "login":
            return self._login_host(parts, params)
        if self.server.role == "s3":
            return self._s3_host(parts, params)
        if parts in (["_stats"], ["_reset"]):  # for tools that run the stand-in in another process (bench/io.py)
            return self._control(parts[0])
        if self._fault("pc"):
            return
        if parts[:1] == ["files"]:  # plain file host (no signing), kept for tools
            return self._file(parts[-1])
        if parts[:2] == [ACCOUNT, CONTAINER] or (parts[:1] == [ACCOUNT] and len(parts) > 2):
            return self._blob(parts, params)
        if parts[:4] == ["api", "sas", "v1", "token"]:
            return self._token(parts[4:])
        with self.st.lock:
            self.st.stats.stac_requests += 1
        if url.path.startswith(CMR_ROOT):
            return self._stac_get(parts[2:], params, cmr=True)
        self._stac_get(parts, params, cmr=False)

    def do_POST(self) -> None:
        self._log_host()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.server.role != "pc":
            return self._send(405, b"", "text/plain")
        if self._fault("pc", raw):  # a POST body counts for ``match`` (e.g. a next-page token)
            return
        with self.st.lock:
            self.st.stats.stac_requests += 1
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._json({"code": "BadRequest", "description": "body is not JSON"}, 400)
        path = urlparse(self.path).path.rstrip("/")
        if path == "/search":
            return self._search(body, "POST", cmr=False)
        if path == CMR_ROOT + "/search":
            return self._search(body, "POST", cmr=True)
        self._json({"code": "NotFound", "description": self.path}, 404)

    def _control(self, what: str) -> None:
        with self.st.lock:
            if what == "_reset":
                self.st.stats = Stats()
                self.st.epoch += 1
                return self._json({"epoch": self.st.epoch})
            s = self.st.stats
            return self._json({"file_bytes": s.file_bytes, "file_requests": s.file_requests,
                               "stac_requests": s.stac_requests, "token_requests": s.token_requests})

    # ------------------------------------------------------------------ SAS token API (Planetary Computer)
    def _token(self, rest: list[str]) -> None:
        with self.st.lock:
            self.st.stats.token_requests += 1
            throttled = self.st.throttle_count > 0
            if throttled:
                self.st.throttle_count -= 1
            wait = self.st.throttle_retry_after
        if throttled:  # Azure API Management's rate limit answer
            return self._json({"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {wait} seconds."},
                              429, {"Retry-After": str(wait)})
        if len(rest) == 2:
            account, container = rest
        elif len(rest) == 1 and rest[0] in COLLECTIONS:
            account, container = ACCOUNT, CONTAINER
        else:
            return self._json({"detail": "Not Found"}, 404)
        self._json(self.st.issue_token(account, container))

    # ------------------------------------------------------------------ STAC
    def _root(self, cmr: bool) -> str:
        return self.st.base_url + (CMR_ROOT if cmr else "")

    def _conformance(self, cmr: bool) -> list[str]:
        if cmr:
            return CORE + QUERY
        mode = self.st.conformance
        return CORE + (QUERY if mode in ("both", "query") else []) + (FILTER if mode in ("both", "filter") else [])

    def _stac_get(self, parts: list[str], params: dict[str, str], cmr: bool) -> None:
        cols: dict[str, Any] = CMR_COLLECTIONS if cmr else {**COLLECTIONS, **REFERENCE_COLLECTIONS}
        if not parts:
            return self._json(self._landing(cmr))
        if parts == ["conformance"]:
            return self._json({"conformsTo": self._conformance(cmr)})
        if parts == ["collections"]:
            return self._json({"collections": [self._collection(c, cmr) for c in cols], "links": []})
        if len(parts) >= 2 and parts[0] == "collections":
            if parts[1] not in cols:
                return self._not_found(f"Collection {parts[1]} does not exist.", cmr)
            if len(parts) == 2:
                return self._json(self._collection(parts[1], cmr))
            if len(parts) == 4 and parts[2] == "items":
                items = self.st.cmr_items if cmr else self.st.pc_items + self.st.ref_items
                for it in items:
                    if it["id"] == parts[3] and it["collection"] == parts[1]:
                        return self._json(self._render(it, cmr))
                return self._not_found(f"Item {parts[3]} does not exist.", cmr)
        if parts == ["search"]:
            try:
                q = self._params_from_get(params)
            except ValueError as err:
                return self._bad_request(str(err), cmr)
            return self._search(q, "GET", cmr)
        self._not_found(self.path, cmr)

    def _not_found(self, text: str, cmr: bool) -> None:
        self._json({"errors": [text]} if cmr else {"code": "NotFoundError", "description": text}, 404)

    def _bad_request(self, text: str, cmr: bool) -> None:
        self._json({"errors": [text]} if cmr else {"code": "BadRequest", "description": text}, 400)

    def _landing(self, cmr: bool) -> dict[str, Any]:
        b = self._root(cmr)
        return {"type": "Catalog", "id": "LPCLOUD" if cmr else "microsoft-pc", "stac_version": "1.0.0",
                "title": "LPCLOUD" if cmr else "Microsoft Planetary Computer STAC API (stand-in)",
                "description": "HLS stand-in for tests", "conformsTo": self._conformance(cmr),
                "links": [{"rel": "self", "href": b + "/", "type": "application/json"},
                          {"rel": "root", "href": b + "/", "type": "application/json"},
                          {"rel": "conformance", "href": b + "/conformance", "type": "application/json"},
                          {"rel": "data", "href": b + "/collections", "type": "application/json"},
                          {"rel": "search", "href": b + "/search", "type": "application/geo+json", "method": "GET"},
                          {"rel": "search", "href": b + "/search", "type": "application/geo+json",
                           "method": "POST"}]}

    def _collection(self, cid: str, cmr: bool) -> dict[str, Any]:
        b = self._root(cmr)
        if cmr:
            title, start = CMR_COLLECTIONS[cid]
            extent = {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[start, None]]}}
        elif cid in REFERENCE_COLLECTIONS:
            title, start, end = REFERENCE_COLLECTIONS[cid]
            extent = {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[start, end]]}}
        else:
            title = COLLECTIONS[cid]
            extent = {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[PC_START, None]]}}
        return {"type": "Collection", "id": cid, "stac_version": "1.0.0", "title": title, "description": title,
                "license": "proprietary", "extent": extent,
                "links": [{"rel": "self", "href": f"{b}/collections/{cid}"}, {"rel": "root", "href": b + "/"},
                          {"rel": "items", "href": f"{b}/collections/{cid}/items"}]}

    @staticmethod
    def _params_from_get(p: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in ("collections", "ids"):
            if k in p:
                out[k] = [s for s in p[k].split(",") if s]
        if "bbox" in p:
            out["bbox"] = [float(v) for v in p["bbox"].split(",")]
        for k in ("intersects", "query"):
            if k in p:
                out[k] = json.loads(p[k])
        if "filter" in p:
            lang = p.get("filter-lang", "cql2-text")
            out["filter"] = json.loads(p["filter"]) if lang == "cql2-json" else p["filter"]
            out["filter-lang"] = lang
        for k in ("datetime", "token"):
            if k in p:
                out[k] = p[k]
        if "limit" in p:
            out["limit"] = int(p["limit"])
        return out

    def _search(self, q: dict[str, Any], method: str, cmr: bool) -> None:
        if cmr and q.get("intersects") and _has_clockwise_ring(q["intersects"]):
            return self._json({"errors": [CW_POLYGON]}, 400)
        if cmr and q.get("filter"):
            return self._bad_request("Filter extension is not supported.", cmr)
        if not cmr and self.st.single_collection_only and len(q.get("collections") or []) != 1:
            q = {**q, "ids": ["-none-"]}
        items = self.st.cmr_items if cmr else self.st.pc_items
        if not cmr and set(q.get("collections") or ()) & set(REFERENCE_COLLECTIONS):
            items = items + self.st.ref_items  # reference items answer only searches that name their collection
        try:
            matches = [it for it in items if _matches(it, q)]
        except (ValueError, KeyError, TypeError) as err:
            return self._bad_request(str(err), cmr)
        matches.sort(key=lambda it: (_item_time(it), it["id"]), reverse=True)
        limit = max(1, min(int(q.get("limit") or 10), PC_MAX_LIMIT))
        offset = int(str(q.get("token") or "next:0").split(":")[-1])
        first = offset
        if self.st.duplicates and offset > 0:
            first = max(0, offset - min(2, limit))  # this page repeats items of the previous one
        page = matches[first:offset + limit]
        links: list[dict[str, Any]] = [{"rel": "root", "href": self._root(cmr) + "/"}]
        if offset + limit < len(matches) and not self.st.no_next:
            token = f"next:{offset + limit}"
            if method == "POST":
                links.append({"rel": "next", "href": self._root(cmr) + "/search", "method": "POST",
                              "body": {**q, "token": token}, "merge": False, "type": "application/geo+json"})
            else:
                raw = {k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()}
                raw["token"] = token
                links.append({"rel": "next", "href": self._root(cmr) + "/search?" + urlencode(raw),
                              "type": "application/geo+json"})
        feats = [self._render(it, cmr) for it in page]
        out: dict[str, Any] = {"type": "FeatureCollection", "features": feats, "links": links}
        if cmr:  # CMR-STAC counts; Planetary Computer does not (no numberMatched, no context)
            out.update(numberMatched=len(matches), numberReturned=len(feats),
                       context={"returned": len(feats), "limit": limit, "matched": len(matches)})
        self._json(out)

    def _render(self, item: dict[str, Any], cmr: bool) -> dict[str, Any]:
        e = self.st.epoch
        text = json.dumps(item)
        if cmr:
            text = (text.replace("{prot}", f"{self.st.data_url}/lp-prot/e{e}")
                    .replace("{pub}", f"{self.st.data_url}/lp-public/e{e}"))
        else:
            text = text.replace("{pc}", f"{self.st.base_url}/{ACCOUNT}/{CONTAINER}/e{e}")
        out = json.loads(text)
        root = self._root(cmr)
        out["links"] = [{"rel": "self", "href": f"{root}/collections/{item['collection']}/items/{item['id']}"},
                        {"rel": "parent", "href": f"{root}/collections/{item['collection']}"},
                        {"rel": "collection", "href": f"{root}/collections/{item['collection']}"},
                        {"rel": "root", "href": root + "/"}]
        return out

    # ------------------------------------------------------------------ Azure blobs (path style)
    def _blob(self, parts: list[str], params: dict[str, str]) -> None:
        account, container = parts[0], parts[1] if len(parts) > 1 else ""
        if (account, container) != (ACCOUNT, CONTAINER):
            return self._azure_error(404, "ContainerNotFound", "The specified container does not exist.")
        denied = self.st.check_token(account, container, params)
        if denied:
            status, code, detail = denied
            if code == "PublicAccessNotPermitted":
                return self._azure_error(status, code, "Public access is not permitted on this storage account.")
            return self._azure_error(status, code, "Server failed to authenticate the request. Make sure the value "
                                     "of Authorization header is formed correctly including the signature.", detail)
        self._file(parts[-1], azure=True)

    # ------------------------------------------------------------------ Earthdata hosts
    def _data_host(self, parts: list[str], params: dict[str, str]) -> None:
        if self._fault("data"):
            return
        if parts[:1] == ["login"]:
            code, state = params.get("code", ""), params.get("state", "/")
            with self.st.lock:
                ok = code in self.st.codes
                self.st.codes.discard(code)
                sid = secrets.token_urlsafe(16)
                if ok:
                    self.st.sessions.add(sid)
            if not ok:
                return self._send(401, b"Invalid or expired login code", "text/plain")
            return self._send(302, b"", "text/plain", {
                "Location": self.st.data_url + state if state.startswith("/") else self.st.data_url + "/",
                "Set-Cookie": f"{SESSION_COOKIE}={sid}; Path=/; HttpOnly"})
        if parts[:1] == ["lp-public"]:
            return self._file(parts[-1])
        if parts[:1] != ["lp-prot"]:
            return self._send(404, b"Not Found", "text/plain")
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            if secrets.compare_digest(auth[7:].strip(), self.st.earthdata_token):
                return self._authorized_data(parts)
            return self._send(401, b'{"error": "invalid_token", "error_description": "The token is not valid"}',
                              "application/json")
        cookies = dict(c.strip().split("=", 1) for c in (self.headers.get("Cookie") or "").split(";") if "=" in c)
        if cookies.get(SESSION_COOKIE) in self.st.sessions:
            return self._authorized_data(parts)
        back = quote(f"{self.st.data_url}/login", safe="")
        target = (f"{self.st.login_url}/oauth/authorize?client_id=standin-lpdaac&response_type=code"
                  f"&redirect_uri={back}&state={quote(self.path, safe='')}")
        self._send(302, b"", "text/plain", {"Location": target})

    def _authorized_data(self, parts: list[str]) -> None:
        """Serve the file, or (``s3_redirect``) answer 307 with a presigned URL on the S3 host, as LP DAAC's
        download endpoint does for requests from outside its cloud region."""
        if not self.st.s3_redirect:
            return self._file(parts[-1])
        sig = secrets.token_hex(32)
        with self.st.lock:
            self.st.s3_signatures.add(sig)
        now = datetime.now(timezone.utc)
        query = urlencode({"A-userid": self.st.earthdata_user, "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                           "X-Amz-Credential": f"ASIASTANDIN/{now:%Y%m%d}/us-west-2/s3/aws4_request",
                           "X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}", "X-Amz-Expires": "3600",
                           "X-Amz-SignedHeaders": "host", "X-Amz-Signature": sig})
        self._send(307, b"", "text/plain", {"Location": f"{self.st.s3_url}/lp-prot/{'/'.join(parts[2:])}?{query}"})

    def _s3_host(self, parts: list[str], params: dict[str, str]) -> None:
        """A presigned-URL object store: the signature in the query, and no other auth mechanism allowed."""
        if self._fault("s3"):
            return
        if self.headers.get("Authorization"):
            return self._s3_error(400, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm "
                                  "query parameter, Signature query string parameter or the Authorization header "
                                  "should be specified")
        if params.get("X-Amz-Signature") not in self.st.s3_signatures:
            return self._s3_error(403, "AccessDenied", "Access Denied")
        self._file(parts[-1])

    def _s3_error(self, status: int, code: str, message: str) -> None:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>").encode()
        self._send(status, body, "application/xml")

    def _login_host(self, parts: list[str], params: dict[str, str]) -> None:
        if parts != ["oauth", "authorize"]:
            return self._send(404, b"Not Found", "text/plain")
        auth = self.headers.get("Authorization") or ""
        ok = False
        if auth.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                ok = (user, pw) == (self.st.earthdata_user, self.st.earthdata_password)
            except ValueError:
                ok = False
        if not ok:
            return self._send(401, b"HTTP Basic: Access denied.\n", "text/plain", {"WWW-Authenticate": URS_REALM})
        code = secrets.token_urlsafe(12)
        with self.st.lock:
            self.st.codes.add(code)
        back = params.get("redirect_uri", "")
        self._send(302, b"", "text/plain",
                   {"Location": f"{back}?code={code}&state={quote(params.get('state', '/'), safe='')}"})

    # ------------------------------------------------------------------ files
    def _file(self, name: str, azure: bool = False) -> None:
        disk = self.st.aliases.get(name, name)
        path = self.st.root / "files" / disk
        if "/" in disk or ".." in disk or not path.is_file():
            if azure:
                return self._azure_error(404, "BlobNotFound", "The specified blob does not exist.")
            return self._send(404, b"not found", "text/plain")
        path = self._maybe_corrupt(name, disk, path)
        size = path.stat().st_size
        ctype = "image/jpeg" if name.endswith(".jpg") else "image/tiff" if name.endswith(".tif") else \
            "application/octet-stream"
        headers = {"Accept-Ranges": "bytes", "Last-Modified": formatdate(path.stat().st_mtime, usegmt=True),
                   "ETag": f'"0x{abs(hash(disk)) % (1 << 60):X}"'}
        if azure:
            headers.update({"x-ms-blob-type": "BlockBlob", "x-ms-version": "2024-05-04",
                            "x-ms-request-id": str(uuid.uuid4())})
        rng = self.headers.get("Range")
        with self.st.lock:
            self.st.stats.file_requests += 1
            self.st.stats.requests_log.append((self.command, name, rng or "", round(time.time(), 3)))
        if not rng:
            return self._send(200, path.read_bytes(), ctype, headers, count_file=True)
        m = re.fullmatch(r"bytes=(.+)", rng.strip())
        spans = []
        for part in (m.group(1).split(",") if m else []):
            a, _, b = part.strip().partition("-")
            start = int(a) if a else max(0, size - int(b))
            end = min(int(b) if (a and b) else size - 1, size - 1)
            if start > end or start >= size:
                return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
            spans.append((start, end))
        if not spans:
            return self._send(400, b"bad range", "text/plain")
        with path.open("rb") as fh:
            chunks = []
            for start, end in spans:
                fh.seek(start)
                chunks.append(fh.read(end - start + 1))
        with self.st.lock:
            self.st.stats.ranges += [(name, s, e) for s, e in spans]
        if len(spans) == 1:
            s, e = spans[0]
            return self._send(206, chunks[0], ctype, {**headers, "Content-Range": f"bytes {s}-{e}/{size}"},
                              count_file=True)
        boundary = uuid.uuid4().hex
        body = b"".join(f"--{boundary}\r\nContent-Type: {ctype}\r\nContent-Range: bytes {s}-{e}/{size}\r\n\r\n"
                        .encode() + c + b"\r\n" for (s, e), c in zip(spans, chunks)) + f"--{boundary}--\r\n".encode()
        self._send(206, body, f"multipart/byteranges; boundary={boundary}", count_file=True)

    def _maybe_corrupt(self, name: str, disk: str, path: Path) -> Path:
        with self.st.lock:
            bad = self.st.corrupt.get(name) or self.st.corrupt.get(disk)
            if bad is None:
                for entry in self.st.corrupt_once:
                    if entry[0] > 0 and entry[1] in name and name.endswith(".tif"):
                        entry[0] -= 1
                        bad = corrupt_copy(path)
                        break
        return bad or path


def corrupt_copy(path: Path, kind: str = "garbage") -> Path:
    """A copy of a COG whose header and tile index are intact but whose tile bytes are damaged (cached):
    ``garbage`` = random bytes; ``zero-half`` = the second half of each tile's compressed bytes zeroed (a
    partial write: GDAL still decodes most such tiles, to wrong pixels)."""
    import numpy as np
    import rasterio

    out = path.parent / ("corrupt" if kind == "garbage" else f"corrupt-{kind}") / path.name
    if out.exists():
        return out
    out.parent.mkdir(exist_ok=True)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(7)
    with rasterio.open(path) as src:
        levels = [None] + list(range(len(src.overviews(1))))
        for ovr in levels:
            with rasterio.open(path, OVERVIEW_LEVEL=ovr) if ovr is not None else rasterio.open(path) as lvl:
                bh, bw = lvl.block_shapes[0]
                for r in range((lvl.height + bh - 1) // bh):
                    for c in range((lvl.width + bw - 1) // bw):
                        off = lvl.get_tag_item(f"BLOCK_OFFSET_{c}_{r}", "TIFF", bidx=1)
                        size = lvl.get_tag_item(f"BLOCK_SIZE_{c}_{r}", "TIFF", bidx=1)
                        if off and size and int(size) > 0:
                            o, n = int(off), int(size)
                            if kind == "zero-half":
                                data[o + n // 2:o + n] = bytes(n - n // 2)
                            else:
                                data[o:o + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    tmp = out.with_name(f"{out.name}.{os.getpid()}.{threading.get_ident()}.part")  # runs may share the folder
    tmp.write_bytes(bytes(data))
    tmp.replace(out)
    return out


# ---------------------------------------------------------------------- search predicates

def _ring_area(ring: list[list[float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in pairwise(ring)) / 2.0


def _has_clockwise_ring(geom: dict[str, Any]) -> bool:
    """True when an exterior ring is clockwise (CMR wants counter-clockwise exteriors)."""
    if geom.get("type") == "Polygon":
        polys = [geom["coordinates"]]
    elif geom.get("type") == "MultiPolygon":
        polys = geom["coordinates"]
    else:
        return False
    return any(poly and _ring_area(poly[0]) < 0 for poly in polys)


def _matches(item: dict[str, Any], q: dict[str, Any]) -> bool:
    props = item["properties"]
    if q.get("collections") and item["collection"] not in q["collections"]:
        return False
    if q.get("ids") and item["id"] not in q["ids"]:
        return False
    geom = shape(item["geometry"])
    if q.get("bbox") and not geom.intersects(box(*q["bbox"][:4])):
        return False
    if q.get("intersects") and not geom.intersects(shape(q["intersects"])):
        return False
    if q.get("datetime") and not _in_interval(_item_time(item), q["datetime"]):
        return False
    for prop, ops in (q.get("query") or {}).items():
        for op, val in ops.items():
            if not _compare(props.get(prop), op, val):
                return False
    flt = q.get("filter")
    if flt:
        expr = flt if isinstance(flt, dict) else _parse_cql2_text(flt)
        if not _eval_cql2(expr, props):
            return False
    return True


def _item_time(item: dict[str, Any]) -> str:
    """The item's datetime, or its start_datetime when datetime is null (reference layers' items)."""
    props = item["properties"]
    return props.get("datetime") or props.get("start_datetime") or ""


def _ts(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _in_interval(value: str, interval: str) -> bool:
    t = _ts(value)
    if "/" not in interval:
        return t == _ts(interval)
    a, b = interval.split("/")
    return (a in ("", "..") or t >= _ts(a)) and (b in ("", "..") or t <= _ts(b))


_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "=", "neq": "<>"}


def _compare(left: Any, op: str, right: Any) -> bool:
    op = _OPS.get(op, op)
    if left is None:
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
            "=": left == right, "<>": left != right}[op]


def _eval_cql2(e: Any, props: dict[str, Any]) -> bool:
    op = e["op"].lower()
    if op in ("and", "or"):
        vals = [_eval_cql2(a, props) for a in e["args"]]
        return all(vals) if op == "and" else any(vals)
    if op == "not":
        return not _eval_cql2(e["args"][0], props)
    left, right = e["args"]
    if op not in ("<", "<=", ">", ">=", "=", "<>"):
        raise ValueError(f"unsupported CQL2 operator {op}")
    return _compare(props.get(left["property"]), op, right)


def _parse_cql2_text(text: str) -> dict[str, Any]:
    terms = re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE)
    args = []
    for term in terms:
        m = re.fullmatch(r'\(?\s*"?([\w:]+)"?\s*(<=|>=|<>|<|>|=)\s*([-\d.]+)\s*\)?', term.strip())
        if not m:
            raise ValueError(f"unsupported CQL2 text {term!r}")
        args.append({"op": m.group(2), "args": [{"property": m.group(1)}, float(m.group(3))]})
    return args[0] if len(args) == 1 else {"op": "and", "args": args}


class StandInHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the default 5 drops concurrent connects (client retries after 1 s)

    def __init__(self, addr: tuple[str, int], state: StandInState, role: str = "pc") -> None:
        super().__init__(addr, Handler)
        self.state = state
        self.role = role  # pc (STAC APIs, token API, blobs) | data (Earthdata data host) | login (URS) | s3

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up early (GDAL after a time-out, aborted downloads) are normal here."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)
