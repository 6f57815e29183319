"""Full-page screenshots of every page of the app at desktop and phone size, to look at before calling a change
to the pages done (a dev tool: not part of the package, needs no network).

    python tools/screenshots.py [--out /work/shots] [--weights DIR] [--pages explore,crops] [--sizes phone]

Starts the offline stand-in and the app as the README's "No internet needed" recipe does (``python -m
tests.standin``, test checkpoints in the published layouts, ``streamlit run app.py`` pointed at both), opens each
page in Debian's Chromium, runs each task on its example area, opens the comparison with the reference, and
saves ``<out>/<page>-<size>.png``. Without ``--weights`` the test checkpoints are written once into the tests'
cache (~/.cache/geofm-tests, a minute or two) and linked into a temporary folder.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geofm.examples import EXAMPLES  # noqa: E402
from tests.streamlit_app import CHROMIUM, CHROMIUM_ARGS, MAP_IFRAME, start_streamlit, stop  # noqa: E402

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
#: Task pages: (page name for the file, task, the URL path of its page).
TASK_PAGES = (("reconstruction", "reconstruct", "Reconstruction"), ("flood", "flood", "Flood"),
              ("crops", "crops", "Crops"), ("burn-scars", "burn-scars", "Burn_scars"))
PAGES = ("explore", *(name for name, _, _ in TASK_PAGES), "your-file")
LONG = 600_000  # ms: a run on a CPU shared with other work (--timeout)


def published_weights() -> Path:
    """The test checkpoints (built once into the tests' cache), linked into a fresh folder."""
    import torch

    from tests.cache import cached_folder, linked_copy
    from tests.checkpoints import write_published

    built = cached_folder("published-weights", [ROOT / "tests" / "checkpoints.py", ROOT / "geofm/config/models.py"],
                          write_published, extra=torch.__version__)
    return linked_copy(built, Path(tempfile.mkdtemp(prefix="geofm-shots-weights-")))


def start_standin(log: Path) -> tuple[SimpleNamespace, subprocess.Popen]:
    """``python -m tests.standin`` on a free port; its URL is the first line it prints."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.standin", "--port", "0"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=open(log, "a"))
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        stop(proc)
        raise RuntimeError(f"the stand-in did not start (see {log})")
    return SimpleNamespace(url=url, sas_url=f"{url}/api/sas/v1/token"), proc


def link(base: str, task: str) -> str:
    """The task page's link for its example area (as the share link writes it)."""
    ex = next(e for e in EXAMPLES if e.task == task)
    bbox = ",".join(str(v) for v in ex.bounds)
    return f"{base}/?bbox={bbox}&start={ex.start}&end={ex.end}&cloud={ex.max_cloud:g}&task={task}"


def settle(page, ms: int = 2500) -> None:
    """Let the page's last rerun, charts and maps draw."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(ms)
    # no "running" man in the corner
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=LONG)


#: The page's height and how far it runs past the screen's right edge: Streamlit scrolls its main column
#: inside the window, so the document alone says neither; every scrolling box is measured too.
MEASURE = """() => {
    const boxes = [document.documentElement, ...[...document.querySelectorAll('*')].filter(e => {
        const s = getComputedStyle(e); return /auto|scroll/.test(s.overflowY + s.overflowX); })];
    const height = Math.max(...boxes.map(e => e.scrollHeight + Math.max(0, e.getBoundingClientRect().top)));
    const main = document.querySelector('[data-testid="stMain"]') || document.documentElement;
    return [height, Math.max(document.documentElement.scrollWidth, main.scrollWidth) - window.innerWidth];
}"""


def capture(page, path: Path, width: int, height: int) -> int:
    """A screenshot of the whole page (the window made as tall as the page for it); returns the overflow, px."""
    full, overflow = page.evaluate(MEASURE)
    if full > height:
        page.set_viewport_size({"width": width, "height": int(full)})
        page.wait_for_timeout(2000)
        full, _ = page.evaluate(MEASURE)
        page.set_viewport_size({"width": width, "height": int(full)})
        page.wait_for_timeout(1000)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": height})
    return int(overflow)


def shoot_explore(page, expect, base: str) -> None:
    page.goto(base)
    expect(page.get_by_text("See what a geospatial foundation model sees")).to_be_visible(timeout=90_000)
    page.get_by_role("button", name="Sindh flood 2022").click()
    expect(page.get_by_text("Lake Manchar overflowing, Sindh, Pakistan:")).to_be_visible(timeout=60_000)
    find = page.get_by_role("button", name="Find scenes")
    if find.count():
        find.click()
        expect(page.get_by_text("dates found")).to_be_visible(timeout=120_000)


def shoot_task(task: str) -> Callable:
    def run(page, expect, base: str) -> None:
        page.goto(link(base, task))
        run_button = page.get_by_role("button", name="Run ", exact=False).filter(has_text="Run")
        expect(run_button.first).to_be_enabled(timeout=120_000)
        compare = page.get_by_role("button", name="Compare with reference data")
        compared = page.get_by_text("Reference:", exact=False)  # compared before (kept with the result)
        done = compare.or_(page.get_by_text("No public reference layer")).or_(compared)
        page.wait_for_timeout(3000)  # a result kept from the other size shows without a run
        if not done.count():  # not run yet in this server (the result cache keeps it for the next size)
            run_button.first.click()
        expect(done.first).to_be_visible(timeout=LONG)
        if compare.count() and not compared.count():
            compare.click()
            expect(page.get_by_text("Reference:", exact=False).first).to_be_visible(timeout=LONG)
            expect(page.frame_locator(MAP_IFRAME).last.locator("img.leaflet-image-layer").first).to_be_attached(
                timeout=120_000)
    return run


def shoot_upload(page, expect, base: str) -> None:
    from tests.geotiff_helpers import hls_like, write_tif

    tif = write_tif(Path(tempfile.mkdtemp(prefix="geofm-shots-")) / "my_scene.tif", hls_like(1, 96, 96)[0])
    page.goto(f"{base}/Your_file")
    expect(page.get_by_text("Upload HLS GeoTIFFs")).to_be_visible(timeout=90_000)
    page.locator('input[type="file"]').first.set_input_files(str(tif))
    expect(page.get_by_text("my_scene.tif")).to_be_visible(timeout=60_000)
    run_button = page.get_by_role("button", name="Run ", exact=False).first
    expect(run_button).to_be_enabled(timeout=60_000)
    run_button.click()
    expect(page.frame_locator(MAP_IFRAME).first.locator("img.leaflet-image-layer").first).to_be_attached(
        timeout=LONG)


SHOOTERS: dict[str, Callable] = {"explore": shoot_explore, **{name: shoot_task(task) for name, task, _ in TASK_PAGES},
                                 "your-file": shoot_upload}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python tools/screenshots.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("/work/shots"), help="folder for the PNGs")
    p.add_argument("--weights", type=Path, help="checkpoints in the published layouts (default: the test ones)")
    p.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated, of {', '.join(PAGES)}")
    p.add_argument("--timeout", type=float, default=LONG / 1000, help="seconds to wait for a run or comparison")
    p.add_argument("--sizes", default=",".join(SIZES), help=f"comma-separated, of {', '.join(SIZES)}")
    args = p.parse_args(argv)
    globals()["LONG"] = int(args.timeout * 1000)
    pages, sizes = args.pages.split(","), args.sizes.split(",")
    for name in pages + sizes:
        if name not in SHOOTERS and name not in SIZES:
            p.error(f"unknown page or size: {name}")
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="geofm-shots-"))
    weights = args.weights or published_weights()
    standin, standin_proc = start_standin(work / "standin.log")
    app = None
    try:
        url, app = start_streamlit(standin, weights, work / "cache", work / "streamlit.log", GEOFM_BASEMAP="none")
        print(f"app {url}, stand-in {standin.url}, logs in {work}", flush=True)
        from playwright.sync_api import expect, sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for size in sizes:
                width, height = SIZES[size]
                for name in pages:
                    context = browser.new_context(viewport={"width": width, "height": height},
                                                  is_mobile=size == "phone", has_touch=size == "phone")
                    page = context.new_page()
                    started = time.time()
                    try:
                        SHOOTERS[name](page, expect, url)
                        settle(page)
                    except Exception as err:  # keep going: a shot of how far it got says what went wrong
                        print(f"{name}-{size}: {type(err).__name__}: {str(err).splitlines()[0]}", flush=True)
                    path = args.out / f"{name}-{size}.png"
                    overflow = capture(page, path, width, height)
                    print(f"{path} ({time.time() - started:.0f} s)"
                          + (f"; the page is {overflow} px wider than the screen" if overflow > 0 else ""),
                          flush=True)
                    context.close()
            browser.close()
    finally:
        if app is not None:
            stop(app)
        stop(standin_proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
