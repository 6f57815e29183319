"""Cold start of the app: `streamlit run app.py` spawned -> the explore page's title and its map painted.

Runs Chromium (Debian's /usr/bin/chromium) through Playwright against a fresh server each time, with the
plain background (GEOFM_BASEMAP=none, no network needed). Prints seconds per run and the median.

    python bench/app_cold_start.py [--runs 3] [--against DIR | --without-leafmap]

``--against DIR`` (another checkout of the app, e.g. ``git archive main | tar -x -C /tmp/main``) alternates
runs of both and prints the ratio of the medians (this checkout / the other), measured in one run.

``--without-leafmap`` alternates the app as it is with the same app whose maps are plain ``folium.Map``s (a
stand-in for ``leafmap.foliumap.Map`` put in place before Streamlit starts, so leafmap is never imported), and
prints the ratio: what leafmap costs the cold start a visitor waits for (issue 20 asks for at most 1.20×).
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


#: Started as ``python -c``: geofm's maps get a folium stand-in for ``leafmap.foliumap`` (the calls geofm makes:
#: ``Map(...)`` and ``add_tile_layer``), then ``streamlit run`` in this same process.
WITHOUT_LEAFMAP = """
import sys, types, folium
import geofm.render.maps as maps

class Map(folium.Map):
    def __init__(self, *, location, zoom_start, tiles=None, draw_control=False, fullscreen_control=False,
                 layers_control=False, scale_control=True, max_zoom=19):
        super().__init__(location=location, zoom_start=zoom_start, tiles=tiles, control_scale=scale_control,
                         max_zoom=max_zoom)

    def add_tile_layer(self, url, name, attribution, overlay=True, control=True, shown=True, **kw):
        folium.TileLayer(tiles=url, name=name, attr=attribution, overlay=overlay, control=control, show=shown,
                         **kw).add_to(self)

maps._LEAFMAP.append(types.SimpleNamespace(Map=Map))
from streamlit.web.cli import main
sys.argv = ["streamlit", *sys.argv[1:]]
sys.exit(main())
"""


def one_run(browser, root: Path = ROOT, leafmap: bool = True) -> tuple[float, float]:
    port = _port()
    env = dict(os.environ, GEOFM_BASEMAP="none", HF_HUB_OFFLINE="1")
    started = time.perf_counter()
    command = ["-m", "streamlit"] if leafmap else ["-c", WITHOUT_LEAFMAP]
    proc = subprocess.Popen([sys.executable, *command, "run", "app.py", "--server.port", str(port),
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
    parser.add_argument("--without-leafmap", action="store_true",
                        help="alternate with the app on plain folium maps, without importing leafmap")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    variants: list[tuple[str, Path, bool]] = [("this checkout", ROOT, True)]
    if args.against:
        variants.append((str(args.against), args.against.resolve(), True))
    elif args.without_leafmap:
        variants.append(("without leafmap", ROOT, False))
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in variants}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(args.runs):
            for name, root, leafmap in variants:  # alternate, so both see the same machine load
                results[name].append(one_run(browser, root, leafmap))
        browser.close()
    medians = {}
    for name, runs in results.items():
        for i, (title, painted) in enumerate(runs, 1):
            print(f"{name}: run {i}: title {title:.2f} s, map painted {painted:.2f} s")
        medians[name] = statistics.median(r[1] for r in runs)
        print(f"{name}: median title {statistics.median(r[0] for r in runs):.2f} s, "
              f"map painted {medians[name]:.2f} s")
    if len(variants) == 2:
        other = variants[1][0]
        print(f"map painted, this checkout / {other}: {medians['this checkout'] / medians[other]:.2f}")


if __name__ == "__main__":
    main()
