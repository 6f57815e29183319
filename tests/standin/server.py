"""A STAC API + COG host on 127.0.0.1 over real HTTP: search (GET/POST, bbox, intersects, datetime, ids,
query extension, CQL2 filter, paging), files with Range support, byte counting and fault injection."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

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


@dataclass
class Fault:
    """Answer the next ``count`` requests whose path contains ``match`` with ``status`` (or stall)."""

    count: int
    match: str
    status: int = 503
    stall_s: float = 0.0


@dataclass
class Stats:
    file_bytes: int = 0  # body bytes of COG / image responses
    file_requests: int = 0
    stac_requests: int = 0
    faults_served: int = 0
    ranges: list[tuple[str, int, int]] = field(default_factory=list)
    #: (method, file, Range header, arrival time after the added latency)
    requests_log: list[tuple[str, str, str, float]] = field(default_factory=list)


class StandInState:
    """Everything the handler needs; tests drive it through the StandIn object."""

    def __init__(self, root: Path, catalog: dict[str, Any]) -> None:
        self.root = root
        self.items: list[dict[str, Any]] = catalog["items"]
        self.lock = threading.Lock()
        self.stats = Stats()
        self.faults: list[Fault] = []
        self.latency_s = 0.0
        self.bandwidth_bps = 0.0  # per connection, image files only; 0 = unlimited
        self.conformance = "both"  # both | query | filter | none
        self.epoch = 0  # part of asset hrefs, so a test can get URLs GDAL has not cached
        self.require_token = False
        self.token = uuid.uuid4().hex
        self.base_url = ""
        #: Emulate Planetary Computer's quirk: a search naming several collections returns nothing.
        self.single_collection_only = False

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.count > 0 and f.match in path:
                    f.count -= 1
                    self.stats.faults_served += 1
                    return f
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm plus the client's
    # delayed ACK stalls every response by ~40 ms on loopback, which no production object store does.
    disable_nagle_algorithm = True
    server: "StandInHTTPServer"

    def log_message(self, *args: Any) -> None:  # quiet
        return

    @property
    def st(self) -> StandInState:
        return self.server.state

    # ------------------------------------------------------------------ plumbing
    def _send(self, status: int, body: bytes, ctype: str = "application/json",
              headers: dict[str, str] | None = None, count_file: bool = False) -> None:
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

    def _json(self, obj: Any, status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode(), "application/geo+json" if "features" in obj else
                   "application/json")

    def _fault(self) -> bool:
        if self.st.latency_s:
            time.sleep(self.st.latency_s)
        f = self.st.take_fault(self.path)
        if f is None:
            return False
        if f.stall_s:
            time.sleep(f.stall_s)
            self.close_connection = True
            try:
                self.wfile.write(b"")
            except OSError:
                pass
            return True
        self._send(f.status, json.dumps({"code": str(f.status), "description": "injected"}).encode())
        return True

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if self.path.startswith("/_") and self.path in ("/_stats", "/_reset"):
            pass
        elif self._fault():
            return
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if parts[:1] == ["files"] or (len(parts) >= 2 and parts[0].startswith("e") and parts[1] == "files"):
            return self._file(parts[-1], params)
        if parts == ["_stats"]:  # for tools that run the stand-in in another process (bench/io.py)
            with self.st.lock:
                st = self.st.stats
                return self._json({"file_bytes": st.file_bytes, "file_requests": st.file_requests,
                                   "stac_requests": st.stac_requests})
        if parts == ["_reset"]:
            with self.st.lock:
                self.st.stats = Stats()
                self.st.epoch += 1
            return self._json({"epoch": self.st.epoch})
        if parts[:1] == ["token"]:  # the current valid token (tests expire it with StandIn.expire_token)
            return self._json({"token": f"token={self.st.token}"})
        if parts[:4] == ["api", "sas", "v1", "token"]:  # planetary_computer's SAS token service, emulated
            exp = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            return self._json({"msft:expiry": exp, "token": f"st=standin&se={exp}&sp=rl&sig={uuid.uuid4().hex}"})
        with self.st.lock:
            self.st.stats.stac_requests += 1
        if not parts:
            return self._json(self._landing())
        if parts == ["conformance"]:
            return self._json({"conformsTo": self._conformance()})
        if parts == ["collections"]:
            return self._json({"collections": [self._collection(c) for c in COLLECTIONS], "links": []})
        if len(parts) == 2 and parts[0] == "collections":
            if parts[1] not in COLLECTIONS:
                return self._json({"code": "NotFound", "description": f"no collection {parts[1]}"}, 404)
            return self._json(self._collection(parts[1]))
        if parts == ["search"]:
            return self._search(self._params_from_get(params), "GET")
        self._json({"code": "NotFound", "description": self.path}, 404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self._fault():
            return
        with self.st.lock:
            self.st.stats.stac_requests += 1
        if urlparse(self.path).path.rstrip("/") == "/search":
            return self._search(body, "POST")
        self._json({"code": "NotFound", "description": self.path}, 404)

    # ------------------------------------------------------------------ STAC
    def _base(self) -> str:
        return self.st.base_url

    def _conformance(self) -> list[str]:
        mode = self.st.conformance
        return CORE + (QUERY if mode in ("both", "query") else []) + (FILTER if mode in ("both", "filter") else [])

    def _landing(self) -> dict[str, Any]:
        b = self._base()
        return {"type": "Catalog", "id": "geofm-standin", "stac_version": "1.0.0",
                "description": "HLS stand-in for tests", "conformsTo": self._conformance(),
                "links": [{"rel": "self", "href": b + "/", "type": "application/json"},
                          {"rel": "root", "href": b + "/", "type": "application/json"},
                          {"rel": "conformance", "href": b + "/conformance", "type": "application/json"},
                          {"rel": "data", "href": b + "/collections", "type": "application/json"},
                          {"rel": "search", "href": b + "/search", "type": "application/geo+json", "method": "GET"},
                          {"rel": "search", "href": b + "/search", "type": "application/geo+json",
                           "method": "POST"}]}

    def _collection(self, cid: str) -> dict[str, Any]:
        b = self._base()
        return {"type": "Collection", "id": cid, "stac_version": "1.0.0", "description": COLLECTIONS[cid],
                "license": "proprietary",
                "extent": {"spatial": {"bbox": [[-96.8, 40.8, -95.2, 41.8]]},
                           "temporal": {"interval": [["2019-03-01T00:00:00Z", "2019-09-30T23:59:59Z"]]}},
                "links": [{"rel": "self", "href": f"{b}/collections/{cid}"}, {"rel": "root", "href": b + "/"}]}

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

    def _search(self, q: dict[str, Any], method: str) -> None:
        if self.st.single_collection_only and len(q.get("collections") or []) != 1:
            q = {**q, "ids": ["-none-"]}
        try:
            matches = [it for it in self.st.items if _matches(it, q)]
        except ValueError as err:
            return self._json({"code": "BadRequest", "description": str(err)}, 400)
        matches.sort(key=lambda it: (it["properties"]["datetime"], it["id"]), reverse=True)
        limit = int(q.get("limit") or 10)
        offset = int(str(q.get("token") or "next:0").split(":")[1])
        page = matches[offset:offset + limit]
        links: list[dict[str, Any]] = [{"rel": "root", "href": self._base() + "/"}]
        if offset + limit < len(matches):
            token = f"next:{offset + limit}"
            if method == "POST":
                links.append({"rel": "next", "href": self._base() + "/search", "method": "POST",
                              "body": {**q, "token": token}, "merge": False, "type": "application/geo+json"})
            else:
                from urllib.parse import urlencode

                raw = {k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()}
                raw["token"] = token
                links.append({"rel": "next", "href": self._base() + "/search?" + urlencode(raw),
                              "type": "application/geo+json"})
        feats = [self._render(it) for it in page]
        self._json({"type": "FeatureCollection", "features": feats, "links": links,
                    "numberMatched": len(matches), "numberReturned": len(feats)})

    def _render(self, item: dict[str, Any]) -> dict[str, Any]:
        base = f"{self._base()}/e{self.st.epoch}/files"
        text = json.dumps(item).replace("{base}", base)
        out = json.loads(text)
        if self.st.require_token:
            for a in out["assets"].values():
                a["href"] += f"?token={self.st.token}"
        out["links"] = [{"rel": "self", "href": f"{self._base()}/collections/{item['collection']}/items/{item['id']}"},
                        {"rel": "collection", "href": f"{self._base()}/collections/{item['collection']}"},
                        {"rel": "root", "href": self._base() + "/"}]
        return out

    # ------------------------------------------------------------------ files
    def _file(self, name: str, params: dict[str, str]) -> None:
        path = self.st.root / "files" / name
        if "/" in name or not path.is_file():
            return self._send(404, b"not found", "text/plain")
        if self.st.require_token and params.get("token") != self.st.token:
            return self._send(403, b"AuthenticationFailed: token expired", "text/plain")
        size = path.stat().st_size
        ctype = "image/png" if name.endswith(".png") else "image/tiff"
        rng = self.headers.get("Range")
        with self.st.lock:
            self.st.stats.file_requests += 1
            self.st.stats.requests_log.append((self.command, name, rng or "", round(time.time(), 3)))
        if not rng:
            return self._send(200, path.read_bytes(), ctype, {"Accept-Ranges": "bytes"}, count_file=True)
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
            return self._send(206, chunks[0], ctype, {"Content-Range": f"bytes {s}-{e}/{size}",
                                                      "Accept-Ranges": "bytes"}, count_file=True)
        boundary = uuid.uuid4().hex
        body = b"".join(f"--{boundary}\r\nContent-Type: {ctype}\r\nContent-Range: bytes {s}-{e}/{size}\r\n\r\n"
                        .encode() + c + b"\r\n" for (s, e), c in zip(spans, chunks)) + f"--{boundary}--\r\n".encode()
        self._send(206, body, f"multipart/byteranges; boundary={boundary}", count_file=True)


# ---------------------------------------------------------------------- search predicates

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
    if q.get("datetime") and not _in_interval(props["datetime"], q["datetime"]):
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


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


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

    def __init__(self, addr: tuple[str, int], state: StandInState) -> None:
        super().__init__(addr, Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up early (GDAL after a time-out, aborted downloads) are normal here."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)
