"""What leafmap costs the app's cold start: the import of the app's page stack with and without leafmap.

Each run is a fresh interpreter importing what the Explore page imports (Streamlit, streamlit-folium, folium,
geofm's pages) and then, in the "with" runs, ``leafmap.foliumap`` as ``geofm.render.maps`` imports it. Runs
alternate (with, without, with, …) so both see the same machine; prints seconds per run, the medians and their
ratio, measured in one run. The full browser cold start is ``bench/app_cold_start.py``.

    python bench/leafmap_import.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STACK = ("import streamlit, streamlit_folium, folium, folium.plugins; "
         "import geofm.serve.nav, geofm.serve.share, geofm.serve.ui, geofm.serve.views, geofm.render.maps")
WITH_LEAFMAP = STACK + "; geofm.render.maps.leafmap_module()"


def one(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   env=dict(os.environ, HF_HUB_OFFLINE="1"), stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    one(WITH_LEAFMAP)  # warm the file cache for both
    with_lm, without = [], []
    for _ in range(runs):
        with_lm.append(one(WITH_LEAFMAP))
        without.append(one(STACK))
    a, b = statistics.median(with_lm), statistics.median(without)
    print("with leafmap   :", " ".join(f"{t:.2f}" for t in with_lm), f"median {a:.2f} s")
    print("without leafmap:", " ".join(f"{t:.2f}" for t in without), f"median {b:.2f} s")
    print(f"leafmap adds {a - b:.2f} s: {a / b:.2f}x the page stack's import without it")


if __name__ == "__main__":
    main()
