"""A tiny Hugging Face Hub stand-in on 127.0.0.1: ``/{repo}/resolve/{revision}/{filename}`` (HEAD and GET).

It answers with the headers ``hf_hub_download`` reads (huggingface_hub ``get_hf_file_metadata``):
``X-Repo-Commit`` (the commit the revision points to), ``ETag`` (for a large file, its sha256 — the LFS
object id, which names the blob in the cache) and ``Content-Length``; GET honours ``Range: bytes=N-``.
Bodies are sent in chunks with an optional delay, so a download lasts long enough to overlap another.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_PATH = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


class HubStandin:
    def __init__(self, files: dict[tuple[str, str], bytes], chunk: int = 256 * 1024, delay_s: float = 0.0) -> None:
        self.files = files
        self.chunk = chunk
        self.delay_s = delay_s
        self.gets: Counter[str] = Counter()
        self.heads: Counter[str] = Counter()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def _lookup(self) -> tuple[str, bytes] | None:
                m = _PATH.match(self.path.split("?")[0])
                if not m:
                    return None
                body = standin.files.get((m["repo"], m["file"]))
                return (f"{m['repo']}/{m['file']}", body) if body is not None else None

            def _headers(self, body: bytes, length: int, status: int = 200) -> None:
                self.send_response(status)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
                self.send_header("Content-Length", str(length))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()

            def _missing(self) -> None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_HEAD(self) -> None:  # noqa: N802
                found = self._lookup()
                if found is None:
                    return self._missing()
                standin.heads[found[0]] += 1
                self._headers(found[1], len(found[1]))

            def do_GET(self) -> None:  # noqa: N802
                found = self._lookup()
                if found is None:
                    return self._missing()
                key, body = found
                standin.gets[key] += 1
                start = 0
                m = re.match(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if m:
                    start = int(m.group(1))
                self._headers(body, len(body) - start, 206 if start else 200)
                for i in range(start, len(body), standin.chunk):
                    self.wfile.write(body[i:i + standin.chunk])
                    self.wfile.flush()
                    if standin.delay_s:
                        time.sleep(standin.delay_s)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "HubStandin":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def online_hub(monkeypatch, tmp_path: Path, files: dict[tuple[str, str], bytes],  # noqa: ANN001
               **standin: Any) -> Iterator[HubStandin]:
    """The stand-in serving ``files`` as HF_ENDPOINT, with an empty HF cache, online mode and no weights folder."""
    import huggingface_hub.constants as hf_constants

    from geofm.models import download

    with HubStandin(files, **standin) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        monkeypatch.delenv("GEOFM_WEIGHTS_DIR", raising=False)
        monkeypatch.delenv("GEOFM_AUTO_DOWNLOAD", raising=False)
        download.forget_probe()
        try:
            yield hub
        finally:
            download.forget_probe()
