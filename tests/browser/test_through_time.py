"""The flood page's "Through time" section in a real browser (Debian's Chromium through Playwright), offline
against the stand-in: find the dates (with the estimate), run them, the chart, the date slider stepping the map
without a model run, the recurrence layer and the timelapse. Screenshots go to ``screenshots/`` (or
GEOFM_TEST_SHOTS)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.fixtures_models import link_published_model
from tests.browser.streamlit_app import CHROMIUM, CHROMIUM_ARGS, MAP_IFRAME, ROOT, start_streamlit, stop

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SHOTS = Path(os.environ.get("GEOFM_TEST_SHOTS") or ROOT / "screenshots")
#: West of Manchar Lake: Aug 25 cloudy there, Aug 28 and Sep 5 clear.
LINK = {"bbox": "67.6,26.34,67.64,26.38", "start": "2022-08-20", "end": "2022-09-12", "cloud": "30",
        "task": "flood"}


@pytest.fixture
def series_app_url(stac_standin, tmp_path):
    weights = link_published_model("prithvi-eo-1.0-100m-sen1floods11", tmp_path / "weights")  # file + ready copy
    url, proc = start_streamlit(stac_standin, weights, tmp_path / "cache", tmp_path / "streamlit.log",
                                GEOFM_BASEMAP="none", GEOFM_PRELOAD="none")
    try:
        yield url
    finally:
        stop(proc)


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def test_flood_page_series_chart_slider_and_timelapse(series_app_url):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(f"{series_app_url}/Flood?{urlencode(LINK)}")
        expect(page.get_by_role("heading", name="Through time")).to_be_visible(timeout=90_000)
        page.get_by_role("button", name="Find dates").click()
        estimate = page.get_by_text(
            re.compile(r"2 clear dates \(1 left out\) · 2 model windows, about \d+ s on the CPU"))
        expect(estimate).to_be_visible(timeout=120_000)
        page.get_by_role("button", name="Run on 2 dates").click()
        expect(page.get_by_text("Water / flood through time")).to_be_visible(timeout=300_000)

        # the chart: one point per kept date, the cloudy date as a gap marker
        chart = page.locator('[data-testid="stVegaLiteChart"]').last
        expect(chart).to_be_visible()
        chart.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        _shot(page, "series-flood-chart.png")
        # the map shows the first date; the slider steps to the next without a model run
        frame = page.frame_locator(MAP_IFRAME).last
        expect(frame.locator(".geofm-map-legend")).to_contain_text("2022-08-28", timeout=60_000)
        overlays = frame.locator("img.leaflet-image-layer")
        expect(overlays).to_have_count(3)  # true colour, clouds, water (the recurrence layer starts hidden)
        first_src = overlays.nth(2).get_attribute("src")
        metric = page.locator('[data-testid="stMetric"]').first.inner_text()
        page.locator(MAP_IFRAME).last.scroll_into_view_if_needed()
        _shot(page, "series-flood-2022-08-28.png")
        slider = page.get_by_role("slider").last
        slider.focus()
        slider.press("ArrowRight")
        frame = page.frame_locator(MAP_IFRAME).last
        expect(frame.locator(".geofm-map-legend")).to_contain_text("2022-09-05", timeout=60_000)
        assert frame.locator("img.leaflet-image-layer").nth(2).get_attribute("src") != first_src
        assert page.locator('[data-testid="stMetric"]').first.inner_text() != metric
        assert page.get_by_text(re.compile(r"Running flood mapping")).count() == 0  # no run started by the slider
        _shot(page, "series-flood-2022-09-05.png")

        # the recurrence layer is in the layer switcher
        frame.locator(".leaflet-control-layers").hover()
        expect(frame.get_by_text("Recurrence (water / flood, % of clear dates)")).to_be_visible()

        # the timelapse: an animated GIF on the page and a download
        gif = page.locator('[data-testid="stImage"] img').last
        gif.scroll_into_view_if_needed()
        expect(gif).to_be_visible(timeout=30_000)
        assert gif.evaluate("el => el.naturalWidth") >= 560
        expect(page.get_by_role("button", name="Timelapse (GIF)")).to_be_visible()
        _shot(page, "series-flood-timelapse.png")
        browser.close()
