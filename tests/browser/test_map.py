"""The leafmap maps in a real browser (Debian's Chromium through Playwright), with no basemap (offline):

a shared link restores the area and dates and, after a run, a reload keeps the result; the on-map opacity
slider keeps the zoom and pan; the swipe divider moves and clips the result; clouds have a legend entry and a
share; a phone-sized screen shows the map above the fold; and no request leaves 127.0.0.1 (no CDN).
Screenshots go to ``screenshots/`` (git-ignored), or to the folder named by GEOFM_TEST_SHOTS.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from tests.browser.streamlit_app import CHROMIUM, CHROMIUM_ARGS, MAP_IFRAME, ROOT, start_streamlit, stop
from tests.browser.streamlit_app import _box

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SHOTS = Path(os.environ.get("GEOFM_TEST_SHOTS") or ROOT / "screenshots")
LANDSAT_OMAHA = "HLS.L30.T15TTG.2022097T171500.v2.0"  # 2022-04-07: a cloud over Omaha covers about half
LINK = {"bbox": "-95.94,41.3,-95.91,41.33", "start": "2022-03-10", "end": "2022-04-30", "cloud": "100",
        "task": "flood", "scenes": LANDSAT_OMAHA}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture
def offline_app_url(stac_standin, published_weights_dir, tmp_path):
    """`streamlit run app.py` with the plain background (GEOFM_BASEMAP=none): nothing to fetch from outside."""
    url, proc = start_streamlit(stac_standin, published_weights_dir, tmp_path / "cache", tmp_path / "streamlit.log",
                                GEOFM_BASEMAP="none")
    try:
        yield url
    finally:
        stop(proc)


def _shot(page, name: str, *, full_page: bool = True) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def _view(frame) -> tuple[int, float, float]:
    return tuple(frame.evaluate("() => { const c = window.map.getCenter(); "
                                "return [window.map.getZoom(), c.lat, c.lng]; }"))


def test_link_opacity_swipe_clouds_and_phone(offline_app_url):
    from playwright.sync_api import expect, sync_playwright

    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.on("request", lambda r: requests.append(r.url))
        page = context.new_page()

        # ---- a shared link to the flood page: that area and those dates
        page.goto(f"{offline_app_url}/Flood?{urlencode(LINK)}")
        expect(page.get_by_role("button", name="Run flood mapping")).to_be_enabled(timeout=90_000)
        expect(page.get_by_text("2022-03-10 to 2022-04-30", exact=False)).to_be_visible()
        expect(page.get_by_text(re.compile(r"Area 2\.6 × 3\.4 km"))).to_be_visible()
        expect(page.get_by_text(f"Uses the 1 scene(s) you selected", exact=False)).to_be_visible()
        page.get_by_role("button", name="Run flood mapping").click()
        expect(page.get_by_text("Water area")).to_be_visible(timeout=180_000)
        water = page.locator('[data-testid="stMetric"]').first.inner_text()
        cloud = page.locator('[data-testid="stMetric"]', has_text="Cloud or no data").inner_text()
        share = float(re.search(r"(\d+\.\d) %", cloud).group(1))
        assert 5 < share < 95, cloud  # the stand-in's cloud covers part of the area

        # ---- clouds: a layer with its own entry in the on-map legend
        frame_loc = page.frame_locator(MAP_IFRAME).first
        legend = frame_loc.locator(".geofm-map-legend")
        expect(legend).to_contain_text("Cloud, shadow or no data", timeout=60_000)
        overlays = frame_loc.locator("img.leaflet-image-layer")
        expect(overlays).to_have_count(3)  # true colour, water, clouds (the confidence layer starts hidden)
        page.locator(MAP_IFRAME).first.scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        _shot(page, "flood-link-result.png")

        # ---- opacity on the map: the view the user chose stays, nothing reruns
        frame = page.locator(MAP_IFRAME).first.element_handle().content_frame()
        frame_loc.locator(".leaflet-control-zoom-in").click()
        page.wait_for_timeout(600)
        frame.evaluate("() => window.map.panBy([60, -40], {animate: false})")
        frame.evaluate("() => { window.__geofm_same_page = true; }")
        before = _view(frame)
        slider = frame_loc.locator(".geofm-opacity input[type=range]")
        slider.fill("30")
        page.wait_for_timeout(1500)
        assert frame.evaluate("() => window.__geofm_same_page === true")  # the map was not rebuilt
        assert _view(frame) == before
        water_opacity = overlays.nth(1).evaluate("el => getComputedStyle(el).opacity")
        assert float(water_opacity) == pytest.approx(0.3, abs=0.01)
        expect(frame_loc.locator(".geofm-opacity-value")).to_have_text("30 %")

        # ---- the coordinates under the pointer: shown while it is over the map, no empty box otherwise
        coords = frame_loc.locator(".geofm-mouse-coordinates")
        map_box = _box(frame_loc.locator(".leaflet-container").first)
        page.mouse.move(map_box["x"] + map_box["width"] / 2, map_box["y"] - 40, steps=5)  # above the map
        expect(coords).to_be_hidden()
        page.mouse.move(map_box["x"] + map_box["width"] / 2, map_box["y"] + map_box["height"] / 2, steps=5)
        expect(coords).to_be_visible()
        lat, lon = (float(v) for v in coords.inner_text().split(","))
        assert 41.25 < lat < 41.40 and -96.0 < lon < -95.85, (lat, lon)  # near the linked area

        # ---- a reload keeps the area, dates and the result (from the server's cache, no Run)
        page.reload()
        expect(page.get_by_text("Water area")).to_be_visible(timeout=90_000)
        assert page.locator('[data-testid="stMetric"]').first.inner_text() == water
        assert "bbox=" in page.url and "start=2022-03-10" in page.url and "task=flood" in page.url

        # ---- the swipe: switched on the map itself (the zoom and pan stay), a divider the user drags
        frame_loc = page.frame_locator(MAP_IFRAME).first
        expect(frame_loc.locator(".geofm-view-switch")).to_be_visible(timeout=60_000)
        page.wait_for_timeout(1000)
        frame = page.locator(MAP_IFRAME).first.element_handle().content_frame()
        frame_loc.locator(".leaflet-control-zoom-in").click()
        page.wait_for_timeout(600)
        frame.evaluate("() => { window.__geofm_same_page = true; }")
        before = _view(frame)
        divider = frame_loc.locator(".geofm-swipe")
        expect(divider).to_be_hidden()
        frame_loc.get_by_role("button", name="Swipe").click()
        expect(divider).to_be_visible()
        page.wait_for_timeout(1500)
        assert frame.evaluate("() => window.__geofm_same_page === true")  # the map was not rebuilt
        assert _view(frame) == before
        frame.evaluate("() => { window.map.setView(window.map.getCenter(), window.map.getZoom() - 1, "
                       "{animate: false}); }")  # the drag below starts from the handle in the middle
        page.wait_for_timeout(500)
        map_box = _box(frame_loc.locator(".leaflet-container").first)
        handle = _box(frame_loc.locator(".geofm-swipe-handle"))
        assert float(divider.get_attribute("data-fraction")) == pytest.approx(0.5, abs=0.01)
        clip_before = frame_loc.locator("img.leaflet-image-layer").nth(1).evaluate("el => el.style.clipPath")
        x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(map_box["x"] + 0.25 * map_box["width"], y, steps=10)
        page.mouse.up()
        fraction = float(divider.get_attribute("data-fraction"))
        assert fraction == pytest.approx(0.25, abs=0.03)
        clip_after = frame_loc.locator("img.leaflet-image-layer").nth(1).evaluate("el => el.style.clipPath")
        assert clip_before.startswith("inset(") and clip_after.startswith("inset(") and clip_after != clip_before
        left = lambda clip: float(re.findall(r"([\d.]+)px", clip)[-1])  # noqa: E731
        assert left(clip_after) < left(clip_before)
        labels = [_box(frame_loc.locator(f".geofm-swipe-label-{side}")) for side in ("left", "right")]
        x = _box(divider)["x"] + 2
        assert labels[0]["x"] + labels[0]["width"] <= x <= labels[1]["x"]  # the labels follow the divider
        _shot(page, "flood-swipe.png")

        # ---- a phone: the map above the fold
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                    device_scale_factor=2)
        phone.on("request", lambda r: requests.append(r.url))
        small = phone.new_page()
        small.goto(f"{offline_app_url}/?{urlencode({k: LINK[k] for k in ('bbox', 'start', 'end')})}")
        small_map = small.locator(MAP_IFRAME).first
        expect(small_map).to_be_visible(timeout=90_000)
        expect(small.frame_locator(MAP_IFRAME).first.locator(".leaflet-container")).to_be_visible(timeout=60_000)
        small.wait_for_timeout(1000)
        box = _box(small_map)
        assert box["y"] < 844 * 0.6 and box["width"] > 300, box  # starts in the first screen, full width
        _shot(small, "phone-explore.png", full_page=False)

        # ---- a phone: the result map's legend folded into a button, the opacity slider free and usable
        small.goto(f"{offline_app_url}/Flood?{urlencode(LINK)}")
        expect(small.get_by_text("Water area")).to_be_visible(timeout=90_000)  # the server's cached result
        result_map = small.frame_locator(MAP_IFRAME).first
        expect(result_map.locator(".geofm-map-legend")).to_be_visible(timeout=60_000)
        small.locator(MAP_IFRAME).first.scroll_into_view_if_needed()
        small.wait_for_timeout(1000)
        expect(result_map.locator(".geofm-legend-body")).to_be_hidden()
        slider_box = _box(result_map.locator(".geofm-opacity"))
        map_box = _box(small.locator(MAP_IFRAME).first)
        for state in ("folded", "open"):
            legend_box = _box(result_map.locator(".geofm-map-legend"))
            for control in (".geofm-opacity", ".leaflet-control-zoom", ".geofm-view-switch", ".leaflet-control-scale"):
                other = _box(result_map.locator(control))
                assert (legend_box["x"] + legend_box["width"] <= other["x"] or other["x"] + other["width"] <=
                        legend_box["x"] or legend_box["y"] + legend_box["height"] <= other["y"] or
                        other["y"] + other["height"] <= legend_box["y"]), (state, control, legend_box, other)
            if state == "folded":
                assert legend_box["width"] * legend_box["height"] < 0.05 * map_box["width"] * map_box["height"]
                _shot(small, "phone-flood-legend-folded.png", full_page=False)
                result_map.locator(".geofm-legend-toggle").click()
                expect(result_map.locator(".geofm-legend-body")).to_be_visible()
        _shot(small, "phone-flood-legend-open.png", full_page=False)
        track = _box(result_map.locator(".geofm-opacity input[type=range]"))
        small.mouse.click(track["x"] + 0.2 * track["width"], track["y"] + track["height"] / 2)
        expect(result_map.locator(".geofm-opacity-value")).not_to_have_text("70 %")  # the tap reached the slider

        # ---- "Copy link" on a phone: the copy button is there without a hover (phones have none)
        small.get_by_role("button", name="Copy link").click()
        copy = small.locator('[data-testid="stCode"] button[aria-label="Copy to clipboard"]')
        expect(copy).to_be_visible(timeout=20_000)
        copy_box = _box(copy)
        assert copy.evaluate("el => getComputedStyle(el).visibility === 'visible' && "
                             "Number(getComputedStyle(el).opacity) === 1")
        hit = small.evaluate("p => document.elementFromPoint(p[0], p[1]).closest('button')?.getAttribute('aria-label')",
                             [copy_box["x"] + copy_box["width"] / 2, copy_box["y"] + copy_box["height"] / 2])
        assert hit == "Copy to clipboard"
        _shot(small, "phone-copy-link.png", full_page=False)

        # ---- no CDN, no outside request at all
        outside = sorted({u for u in requests if not u.startswith(("data:", "blob:"))
                          and urlsplit(u).hostname not in LOCAL_HOSTS})
        assert not outside, outside
        assert any("/app/static/vendor/leaflet-1.9.3/leaflet.js" in u for u in requests)
        assert any("/app/static/vendor/leaflet.fullscreen-3.0.0/" in u for u in requests)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        browser.close()
