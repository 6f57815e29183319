"""`streamlit run app.py` for the browser tests: on a free port, against the stand-in and the test weights; the
``app_url`` fixture (registered for tests/browser/ by its conftest.py) and the screenshot and box helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
SHOTS = ROOT / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 90.0) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout_s} s")


def start_streamlit(standin: Any, weights_dir: Path, cache_dir: Path, log_path: Path,
                    extra_args: list[str] | None = None, *, launcher: tuple[str, ...] = ("-m", "streamlit"),
                    **extra_env: str) -> tuple[str, subprocess.Popen]:
    """Start the app (the stand-in's STAC API, ``weights_dir``, ``cache_dir``, offline geocoder and Hub, plus
    ``extra_env``; ``extra_args``: more ``streamlit run`` options; ``launcher``: what Python runs in place of
    ``-m streamlit``, e.g. a script that patches Streamlit first); returns its URL and process once it answers
    its health check."""
    port = free_port()
    env = dict(os.environ)
    env.update(GEOFM_STAC_URL=standin.url, GEOFM_WEIGHTS_DIR=str(weights_dir), GEOFM_CACHE_DIR=str(cache_dir),
               PC_SDK_SAS_URL=standin.sas_url, GEOFM_GEOCODER_URL="http://127.0.0.1:9/search",
               HF_HUB_OFFLINE="1", **extra_env)
    with open(log_path, "a") as log:
        proc = subprocess.Popen([sys.executable, *launcher, "run", "app.py", "--server.port", str(port),
                                 "--server.headless", "true", "--server.address", "127.0.0.1", *(extra_args or [])],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
    except BaseException:
        stop(proc)
        raise
    return url, proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def app_url(stac_standin, published_weights_dir, tmp_path):
    """`streamlit run app.py` on a free port, pointed at the stand-in and the test checkpoints."""
    url, proc = start_streamlit(stac_standin, published_weights_dir, tmp_path / "cache", tmp_path / "streamlit.log")
    try:
        yield url
    finally:
        stop(proc)
        print(f"streamlit log: {tmp_path / 'streamlit.log'}")


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None
    return box


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
