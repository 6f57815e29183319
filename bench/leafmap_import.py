"""What leafmap costs the app's cold start: the import of the app's page stack with and without leafmap.

Each run is a fresh interpreter importing what the Explore page imports (Streamlit, streamlit-folium, folium,
geofm's pages) and then, in the "with" runs, ``leafmap.foliumap`` as ``geofm.render.maps`` imports it. Runs
alternate (with, without, with, …) so both see the same machine; prints seconds per run, the medians and their
ratio, measured in one run. Then where leafmap's own import goes (``python -X importtime`` of one "with" run:
the modules leafmap pulls that the page stack had not imported, by top-level package), which is what a lighter
leafmap would have to leave out. The full browser cold start is ``bench/app_cold_start.py``.

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


#: Packages leafmap imports for its Jupyter (ipyleaflet) side, which the folium backend does not use.
NOTEBOOK = {"ipyleaflet", "ipywidgets", "ipyvuetify", "ipyvue", "ipyevents", "ipyfilechooser", "IPython", "jedi",
            "parso", "prompt_toolkit", "traitlets", "comm", "pygments", "matplotlib_inline", "pexpect", "ptyprocess",
            "stack_data", "executing", "asttokens", "pure_eval", "decorator", "wcwidth", "jupyter_core",
            "jupyter_client", "ipykernel", "jupyter_leaflet", "anywidget", "psygnal", "bqplot", "ipytree"}


def one(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   env=dict(os.environ, HF_HUB_OFFLINE="1"), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def breakdown() -> list[tuple[str, float]]:
    """Seconds of leafmap's import by top-level package (self times from ``-X importtime``), largest first."""
    code = STACK + "; import sys; sys.stderr.write('--leafmap--\\n'); geofm.render.maps.leafmap_module()"
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, check=True, text=True,
                         env=dict(os.environ, HF_HUB_OFFLINE="1"), capture_output=True).stderr
    per: dict[str, float] = {}
    for line in err.split("--leafmap--", 1)[1].splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line[len("import time:"):].split("|", 2)
        top = name.strip().split(".")[0]
        per[top] = per.get(top, 0.0) + int(self_us) / 1e6
    return sorted(per.items(), key=lambda kv: -kv[1])


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
    parts = breakdown()
    total = sum(t for _, t in parts)
    print(f"leafmap's import by package (one run, self times, {total:.2f} s in all):")
    for name, t in parts[:12]:
        print(f"  {name:<16} {t:5.2f} s  {t / total:4.0%}")
    notebook = sum(t for name, t in parts if name in NOTEBOOK)
    print(f"Jupyter-only packages (a folium map never uses them): {notebook:.2f} s, {notebook / total:.0%}")


if __name__ == "__main__":
    main()
