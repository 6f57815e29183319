"""Background preload at app start: the page shows at once with a "warming up" state, then the models are ready."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from geofm.config import TASK_MODELS
from geofm.serve import warmup as warmup_module
from geofm.serve.warmup import LOADING, MISSING, READY, Warmup, preload_names

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_preload_names_from_the_operator_setting():
    assert preload_names({}) == list(TASK_MODELS.values())
    assert preload_names({"GEOFM_PRELOAD": "none"}) == []
    assert preload_names({"GEOFM_PRELOAD": "flood, prithvi-eo-2.0-300m, bogus"}) == [
        TASK_MODELS["flood"], "prithvi-eo-2.0-300m"]


def test_preload_runs_once_in_the_background_and_skips_missing_weights():
    gate = threading.Event()
    loaded: list[str] = []

    def load(name: str) -> None:
        gate.wait(10)
        loaded.append(name)

    pre = Warmup(load=load, installed=lambda name: name != TASK_MODELS["crops"])
    names = list(TASK_MODELS.values())
    assert pre.start(names) is True
    assert pre.start(names) is False  # idempotent: one preload per process
    assert pre.status().warming  # at once, before the thread got anywhere
    deadline = time.time() + 10
    while LOADING not in pre.status().states.values() and time.time() < deadline:
        time.sleep(0.01)
    status = pre.status()
    first = next(n for n in names if n != TASK_MODELS["crops"])
    assert status.warming and status.states[first] == LOADING
    assert "Warming up: loading" in status.summary()
    assert f"0 of {len(names)} models ready" in status.summary()
    gate.set()
    pre.join(10)
    status = pre.status()
    assert not status.warming and status.summary() == ""
    assert status.states == {n: MISSING if n == TASK_MODELS["crops"] else READY for n in names}
    assert loaded == [n for n in names if n != TASK_MODELS["crops"]]


def test_first_visitor_sees_the_app_at_once_with_a_warming_up_state(monkeypatch):
    gate = threading.Event()
    pre = Warmup(load=lambda name: gate.wait(30), installed=lambda name: True)
    monkeypatch.setattr(warmup_module, "_WARMUP", pre)
    monkeypatch.setenv("GEOFM_GEOCODER_URL", "http://127.0.0.1:9/search")
    try:
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()  # returns while the models are still loading
        assert not at.exception, at.exception
        banner = [i.value for i in at.info if "Warming up" in i.value]
        assert banner and f"0 of {len(TASK_MODELS)} models ready" in banner[0]
        assert at.title and at.title[0].value  # the explore page itself rendered, not a blank page
    finally:
        gate.set()
    pre.join(10)
    at.run()
    assert not [i.value for i in at.info if "Warming up" in i.value]


def test_app_py_is_served_as_an_st_app_whose_start_hook_begins_the_preloads(monkeypatch):
    """`streamlit run app.py` finds ``app`` (an ``st.App``). Its lifespan, run when the server starts, begins
    one background thread that waits until the server answers its health check (so the imports do not slow
    the server's start), then imports the map library, then loads the models: all before any visitor."""
    import asyncio
    import http.server

    from streamlit.web.server.app_discovery import discover_asgi_app

    from geofm.render import maps
    from geofm.serve import startup

    found = discover_asgi_app(Path(APP))
    assert found.is_asgi_app and found.import_string == "app:app"

    up = threading.Event()

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if up.is_set() else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(startup, "_health_url", lambda: f"http://127.0.0.1:{server.server_port}/_stcore/health")

    order: list[str] = []
    pre = Warmup(load=lambda name: order.append(f"load {name}"), installed=lambda name: True)
    monkeypatch.setattr(warmup_module, "_WARMUP", pre)
    monkeypatch.setattr(maps, "_PRELOADED", [])
    monkeypatch.setattr(maps, "leafmap_module", lambda: order.append("leafmap"))

    async def serve() -> None:
        async with startup.lifespan(None):
            pass

    try:
        asyncio.run(serve())
        time.sleep(0.5)
        assert order == []  # the server is not up yet: nothing competes with its start
        up.set()
        deadline = time.time() + 10
        while len(order) < 1 + len(TASK_MODELS) and time.time() < deadline:
            time.sleep(0.02)
        pre.join(10)
    finally:
        server.shutdown()
    assert order[0] == "leafmap"  # the map library first: the first page needs it
    assert sorted(order[1:]) == sorted(f"load {n}" for n in TASK_MODELS.values())
    assert pre.status().states == {n: READY for n in TASK_MODELS.values()}


def test_the_weights_look_up_does_not_load_torch(tmp_path):
    """Whether a model is installed is a file look-up: the start-up preload and the task pages ask it without
    loading torch (which would hold up the first page on a machine without weights)."""
    import subprocess
    import sys

    code = ("import sys; from geofm.models import resolve_weights\n"
            "try:\n    resolve_weights('flood', '/nonexistent')\nexcept Exception as e:\n    print(type(e).__name__)\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**__import__("os").environ, "HF_HUB_OFFLINE": "1", "GEOFM_WEIGHTS_DIR": "",
                              "HF_HUB_CACHE": str(tmp_path)})
    assert out.stdout.split() == ["WeightsNotFoundError", "False"], out.stderr
