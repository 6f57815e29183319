"""Cold start of the app: `streamlit run app.py` spawned -> the explore page's title and its map painted.

Runs Chromium (Debian's /usr/bin/chromium) through Playwright against a fresh server each time, with the
plain background (GEOFM_BASEMAP=none, no network needed). Prints seconds per run and the median.

    python bench/app_cold_start.py [--runs 3] [--against DIR]

``--against DIR`` (another checkout of the app, e.g. ``git archive main | tar -x -C /tmp/main``) alternates
runs of both and prints the ratio of the medians (this checkout / the other), measured in one run.
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


def one_run(browser, root: Path = ROOT) -> tuple[float, float]:
    port = _port()
    env = dict(os.environ, GEOFM_BASEMAP="none", HF_HUB_OFFLINE="1")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1"],
                            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    parser.add_argument("--against", type=Path, default=None, help="another checkout to compare with")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    roots = [ROOT] + ([args.against.resolve()] if args.against else [])
    results: dict[Path, list[tuple[float, float]]] = {root: [] for root in roots}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(args.runs):
            for root in roots:  # alternate, so both see the same machine load
                results[root].append(one_run(browser, root))
        browser.close()
    medians = {}
    for root, runs in results.items():
        for i, (title, painted) in enumerate(runs, 1):
            print(f"{root}: run {i}: title {title:.2f} s, map painted {painted:.2f} s")
        medians[root] = statistics.median(r[1] for r in runs)
        print(f"{root}: median title {statistics.median(r[0] for r in runs):.2f} s, "
              f"map painted {medians[root]:.2f} s")
    if args.against:
        print(f"map painted, this checkout / {args.against}: {medians[ROOT] / medians[roots[1]]:.2f}")


if __name__ == "__main__":
    main()
