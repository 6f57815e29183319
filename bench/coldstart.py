"""Cold start of the app: `streamlit run app.py` spawned -> the explore page's title and its map painted.

Runs Chromium (Debian's /usr/bin/chromium) through Playwright against a fresh server each time, with the
plain background (GEOFM_BASEMAP=none, no network needed). Prints seconds per run and the median.

    python bench/coldstart.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(browser) -> tuple[float, float]:
    port = _port()
    env = dict(os.environ, GEOFM_BASEMAP="none", HF_HUB_OFFLINE="1")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("See what a geospatial foundation model sees").first.wait_for(timeout=120_000)
        title = time.perf_counter() - started
        frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]').first
        frame.locator(".leaflet-container").first.wait_for(state="visible", timeout=120_000)
        painted = time.perf_counter() - started
        page.close()
        return title, painted
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        results = [one_run(browser) for _ in range(args.runs)]
        browser.close()
    for i, (title, painted) in enumerate(results, 1):
        print(f"run {i}: title {title:.2f} s, map painted {painted:.2f} s")
    print(f"median: title {statistics.median(r[0] for r in results):.2f} s, "
          f"map painted {statistics.median(r[1] for r in results):.2f} s")


if __name__ == "__main__":
    main()
