"""Runs in a real browser (Debian's Chromium through Playwright) against `streamlit run app.py` (issue 19):

* the first example's link (``task=flood``) opens the Flood page, says before Run how long it expects, and
  finishes on the CPU (the seconds from Run to result and the estimate are printed);
* three fast Run clicks end with the result shown (the extra clicks used to lose the run);
* a reload in the middle of a run reconnects to it and shows its result;
* the Space's command (the Dockerfile's CMD) lets an upload through the way the Spaces iframe sends it: without
  the XSRF cookie.

Screenshots go to ``screenshots/`` (git-ignored), or to the folder named by GEOFM_TEST_SHOTS.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from geofm.examples import EXAMPLES
from tests.browser.streamlit_app import CHROMIUM, CHROMIUM_ARGS, ROOT, start_streamlit, stop

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SHOTS = Path(os.environ.get("GEOFM_TEST_SHOTS") or ROOT / "screenshots")
FIRST = EXAMPLES[0]


@pytest.fixture(scope="module")
def app_url(stac_standin, published_weights_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-runs")
    url, proc = start_streamlit(stac_standin, published_weights_dir, folder / "cache", folder / "streamlit.log",
                                GEOFM_BASEMAP="none")
    try:
        yield url
    finally:
        stop(proc)
        print(f"streamlit log: {folder / 'streamlit.log'}")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _link(url: str, bbox: str, start: str, end: str, cloud: float, task: str) -> str:
    return f"{url}/?{urlencode(dict(bbox=bbox, start=start, end=end, cloud=f'{cloud:g}', task=task))}"


def _browser(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def _no_errors(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)


def test_first_example_link_opens_its_task_page_and_finishes_on_the_cpu(app_url):
    from playwright.sync_api import expect, sync_playwright

    w, s, e, n = FIRST.bounds
    link = _link(app_url, f"{w},{s},{e},{n}", FIRST.start, FIRST.end, FIRST.max_cloud, FIRST.task)
    with sync_playwright() as pw:
        browser = _browser(pw)
        for size, viewport in (("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 390, "height": 844})):
            page = browser.new_page(viewport=viewport)
            page.goto(link)
            run = page.get_by_role("button", name="Run flood mapping")
            expect(run).to_be_enabled(timeout=90_000)  # straight on the Flood page, not Explore
            expect(page.get_by_role("heading", name="Flood mapping")).to_be_visible()
            estimate = page.get_by_text(re.compile(r"About \d+ s on this machine's CPU: 1 model window"))
            expect(estimate).to_be_visible()
            _shot(page, f"runs-01-first-example-{size}.png")
            page.close()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(link)
        run = page.get_by_role("button", name="Run flood mapping")
        expect(run).to_be_enabled(timeout=90_000)
        said = page.get_by_text(re.compile(r"About \d+ s on this machine's CPU")).first.inner_text()
        started = time.monotonic()
        run.click()
        expect(page.get_by_text("Water area")).to_be_visible(timeout=180_000)
        taken = time.monotonic() - started
        estimated = float(re.search(r"About (\d+) s", said).group(1))
        print(f"first example: estimate shown {estimated:.0f} s, Run to result {taken:.1f} s ({said})")
        _no_errors(page)
        _shot(page, "runs-02-first-example-result.png")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(800)
        _shot(page, "runs-02-first-example-result-phone.png")
        browser.close()


def test_three_fast_run_clicks_end_with_the_result(app_url):
    from playwright.sync_api import expect, sync_playwright

    link = _link(app_url, "67.64,26.40,67.67,26.43", "2022-08-25", "2022-09-12", 40, "flood")
    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(link)
        run = page.get_by_role("button", name="Run flood mapping")
        expect(run).to_be_enabled(timeout=90_000)
        box = run.bounding_box()
        assert box is not None
        for _ in range(3):  # within about 0.6 s, as a user double- and triple-clicks
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_timeout(200)
        expect(page.get_by_text("Water area")).to_be_visible(timeout=180_000)
        expect(page.get_by_text("You already have a run")).to_have_count(0)
        expect(run).to_be_enabled(timeout=30_000)  # and Run is back once the run has ended
        _no_errors(page)
        _shot(page, "runs-03-three-clicks.png")
        browser.close()


def test_a_reload_in_the_middle_of_a_run_shows_its_result(app_url, stac_standin):
    """The image service answers slowly (0.3 s a request), so the run is still reading when the page reloads: a
    long run on a shared CPU without spending the CPU on it."""
    from playwright.sync_api import expect, sync_playwright

    link = _link(app_url, "67.62,26.44,67.66,26.48", "2022-08-25", "2022-09-12", 40, "flood")
    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(link)
        run = page.get_by_role("button", name="Run flood mapping")
        expect(run).to_be_enabled(timeout=90_000)
        stac_standin.set_latency(0.3)
        try:
            run.click()
            expect(page.get_by_text(re.compile(r"About \d+ (s|min) left"))).to_be_visible(timeout=60_000)
            _shot(page, "runs-04-before-reload.png")
            page.reload()
            # the reloaded page follows the same run: Run stays disabled while it runs, then the result shows
            expect(page.get_by_role("button", name="Run flood mapping")).to_be_disabled(timeout=60_000)
            expect(page.get_by_text(re.compile(r"About \d+ (s|min) left"))).to_be_visible(timeout=60_000)
            _shot(page, "runs-05-after-reload.png")
        finally:
            stac_standin.set_latency(0.0)
        expect(page.get_by_text("Water area")).to_be_visible(timeout=300_000)
        expect(page.get_by_role("button", name="Run flood mapping")).to_be_enabled(timeout=60_000)
        _no_errors(page)
        _shot(page, "runs-06-reload-result.png")
        browser.close()


def test_the_space_command_lets_an_upload_through_without_the_xsrf_cookie(stac_standin, published_weights_dir,
                                                                          tmp_path):
    """Inside the Spaces iframe the browser does not send the app's XSRF cookie (a third-party cookie): the
    upload request arrives without it, which Streamlit's XSRF check answers with 403."""
    from playwright.sync_api import expect, sync_playwright

    from tests.geotiff_helpers import hls_like, write_tif
    from tests.dockerfile import space_command

    command = space_command()
    flags = [a for a in command[3:] if a not in ("--server.address", "0.0.0.0", "--server.port", "8501")]
    url, proc = start_streamlit(stac_standin, published_weights_dir, tmp_path / "cache", tmp_path / "streamlit.log",
                                GEOFM_BASEMAP="none", extra_args=flags)
    tif = write_tif(tmp_path / "scene.tif", hls_like(1, 64, 64)[0])
    statuses: list[int] = []
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def without_cookies(route):
                headers = {k: v for k, v in route.request.headers.items() if k.lower() != "cookie"}
                route.continue_(headers=headers)

            page.route("**/_stcore/upload_file/**", without_cookies)
            page.on("response", lambda r: statuses.append(r.status) if "/_stcore/upload_file/" in r.url else None)
            page.goto(f"{url}/Your_file")
            expect(page.get_by_text("Upload HLS GeoTIFFs")).to_be_visible(timeout=90_000)
            page.locator('input[type="file"]').first.set_input_files(str(tif))
            expect(page.get_by_text("scene.tif")).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1500)
            _shot(page, "runs-07-space-upload.png")
            expect(page.get_by_text(re.compile("403|AxiosError"))).to_have_count(0)
            browser.close()
    finally:
        stop(proc)
    assert statuses and all(s < 400 for s in statuses), statuses
