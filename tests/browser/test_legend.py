"""The result map's legend, colour bar, opacity slider and Overlay / Swipe switch in Debian's Chromium, as the
app builds them (``views.build_result_map``), in a 368 × 520 frame on a 390 × 844 phone page and an 820 × 520
frame on a 1280 × 900 desktop page (the widths streamlit-folium gives the map there):

- on the phone the legend starts folded into a "Legend" button and covers no control; opened, it still covers
  neither the opacity slider nor any other control, and the slider takes a drag;
- the colour bar shows only while its layer is on;
- switching to Swipe keeps the zoom and pan, and the labels move with the divider.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from geofm.config import CROP_CLASSES
from geofm.render import maps
from geofm.render.stats import hex_color
from geofm.render.webmerc import reproject_rgba_to_mercator, rgb_to_rgba
from geofm.serve.share import box_geometry
from geofm.serve.views import MapLayer, build_result_map
from tests.browser.streamlit_app import CHROMIUM, CHROMIUM_ARGS, ROOT
from tests.geotiff_helpers import TRANSFORM, UTM15

pytestmark = [pytest.mark.browser]

SHOTS = Path(os.environ.get("GEOFM_TEST_SHOTS") or ROOT / "screenshots")


def _crops_map(tmp_path: Path) -> tuple[Path, str, str]:
    """The crops result map (13 classes, clouds, the probability layer with its colour bar) as an HTML file."""
    overlay = reproject_rgba_to_mercator(rgb_to_rgba(np.full((80, 100, 3), 120, np.uint8)), UTM15, TRANSFORM)
    confidence = MapLayer(overlay, "Probability of the class shown", 0.85, False, result=True)
    layers = [MapLayer(overlay, "True colour 2022-07-01"), MapLayer(overlay, "Crop classes", 0.85, True, result=True),
              confidence, MapLayer(overlay, "Cloud, shadow or no data", 0.9, True, result=True)]
    (south, west), (north, east) = overlay.latlon_bounds
    items = [(c.name, hex_color(c.color)) for c in CROP_CLASSES] + [("Cloud, shadow or no data", "#888")]
    fmap = build_result_map(layers, geometry=box_geometry(west, south, east, north), legend_title="Crop classes",
                            legend_items=items, swipe=("True colour", "Crop classes"),
                            colorbar=("Probability of the class shown", confidence), opacity_label="Class opacity",
                            basemap="none")
    maps.use_local_assets(fmap, (ROOT / "static" / "vendor").as_uri())
    path = tmp_path / "map.html"
    path.write_text(fmap.get_root().render())
    # the confidence layer's script name, as the layer control lists it
    bar_layer = re.search(rf'"{re.escape(confidence.name)}" : (\w+)', path.read_text()).group(1)
    return path, fmap.get_name(), bar_layer


def _box(frame, selector: str) -> dict:
    return frame.locator(selector).first.bounding_box()


def _overlap(a: dict, b: dict) -> float:
    w = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return max(0.0, w) * max(0.0, h)


CONTROLS = [".geofm-opacity", ".leaflet-control-zoom", ".leaflet-control-zoom-fullscreen", ".geofm-view-switch",
            ".leaflet-control-layers", ".leaflet-control-scale"]


def _page(browser, tmp_path: Path, map_html: Path, viewport: dict, frame_width: int):
    outer = tmp_path / f"page-{frame_width}.html"
    outer.write_text(f'<html><head><meta name="viewport" content="width=device-width"></head><body style="margin:0;padding:60px 11px"><iframe src="{map_html.as_uri()}" '
                     f'style="width:{frame_width}px;height:520px;border:0"></iframe></body></html>')
    page = browser.new_page(viewport=viewport, is_mobile=viewport["width"] < 500, has_touch=viewport["width"] < 500)
    page.goto(outer.as_uri())
    frame = page.frame_locator("iframe").first
    frame.locator(".geofm-map-legend").wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    return page, frame


def test_phone_legend_folds_and_never_covers_the_controls(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    map_html, map_name, bar_layer = _crops_map(tmp_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page, frame = _page(browser, tmp_path, map_html, {"width": 390, "height": 844}, 368)
        mapbox = _box(frame, ".leaflet-container")
        legend = frame.locator(".geofm-map-legend")
        # folded by default on a phone: a small button, nothing covered
        expect(frame.locator(".geofm-legend-body")).to_be_hidden()
        expect(frame.locator(".geofm-legend-toggle")).to_have_attribute("aria-expanded", "false")
        folded = legend.bounding_box()
        assert folded["width"] * folded["height"] < 0.05 * mapbox["width"] * mapbox["height"], folded
        for control in CONTROLS:
            assert _overlap(folded, _box(frame, control)) == 0, control
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "phone-legend-folded.png"))
        # opened: the 13 classes scroll inside a box that still leaves every control free
        frame.locator(".geofm-legend-toggle").click()
        expect(frame.locator(".geofm-legend-body")).to_be_visible()
        opened = legend.bounding_box()
        assert opened["height"] > 3 * folded["height"]
        for control in CONTROLS:
            assert _overlap(opened, _box(frame, control)) == 0, control
        assert opened["x"] >= mapbox["x"] and opened["x"] + opened["width"] <= mapbox["x"] + mapbox["width"]
        page.screenshot(path=str(SHOTS / "phone-legend-open.png"))
        # the slider is on top where it is drawn, and takes a drag
        slider = frame.locator(".geofm-opacity input[type=range]")
        s = slider.bounding_box()
        on_top = frame.locator("body").evaluate(
            "(b, p) => document.elementFromPoint(p[0], p[1]).matches('.geofm-opacity input')",
            [s["x"] - mapbox["x"] + s["width"] * 0.8, s["y"] - mapbox["y"] + s["height"] / 2])
        assert on_top
        page.mouse.click(s["x"] + s["width"] * 0.2, s["y"] + s["height"] / 2)
        value = float(slider.input_value())
        assert value < 50, value
        # the colour bar: only with its layer
        bar = frame.locator(".geofm-colorbar")
        expect(bar).to_be_hidden()
        frame.locator("body").evaluate(f"() => {map_name}.addLayer({bar_layer})")
        expect(bar).to_be_visible()
        for control in CONTROLS:
            assert _overlap(legend.bounding_box(), _box(frame, control)) == 0, control
        frame.locator("body").evaluate(f"() => {map_name}.removeLayer({bar_layer})")
        expect(bar).to_be_hidden()
        # folded again with a tap
        frame.locator(".geofm-legend-toggle").click()
        expect(frame.locator(".geofm-legend-body")).to_be_hidden()
        browser.close()


def test_desktop_legend_open_and_swipe_keeps_the_view(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    map_html, map_name, _ = _crops_map(tmp_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page, frame = _page(browser, tmp_path, map_html, {"width": 1280, "height": 900}, 820)
        expect(frame.locator(".geofm-legend-body")).to_be_visible()  # wide map: open from the start
        # and whole: every class shows without scrolling (a fit before the later controls left it 40 px high)
        page.wait_for_timeout(300)
        body = frame.locator(".geofm-legend-body").evaluate("b => [b.scrollHeight, b.clientHeight]")
        assert body[0] <= body[1] + 1, f"the legend shows {body[1]} px of its {body[0]} px"
        legend = frame.locator(".geofm-map-legend").bounding_box()
        for control in CONTROLS:
            assert _overlap(legend, _box(frame, control)) == 0, control
        view = f"() => {{ const c = {map_name}.getCenter(); return [{map_name}.getZoom(), c.lat, c.lng]; }}"
        frame.locator(".leaflet-control-zoom-in").click()
        page.wait_for_timeout(600)
        frame.locator("body").evaluate(f"() => {map_name}.panBy([60, -40], {{animate: false}})")
        before = frame.locator("body").evaluate(view)
        divider = frame.locator(".geofm-swipe")
        expect(divider).to_be_hidden()  # Overlay first
        frame.get_by_role("button", name="Swipe").click()
        expect(divider).to_be_visible()
        assert frame.locator("body").evaluate(view) == before  # the zoom and pan stay
        left, right = frame.locator(".geofm-swipe-label-left"), frame.locator(".geofm-swipe-label-right")
        handle = frame.locator(".geofm-swipe-handle").bounding_box()
        mapbox = _box(frame, ".leaflet-container")

        def beside() -> tuple[float, float, float]:
            x = divider.bounding_box()["x"] + 2
            lb, rb = left.bounding_box(), right.bounding_box()
            assert lb["x"] + lb["width"] <= x <= rb["x"], (lb, x, rb)
            return x, lb["x"], rb["x"]

        x0, l0, r0 = beside()
        page.mouse.move(handle["x"] + 17, handle["y"] + 17)
        page.mouse.down()
        page.mouse.move(mapbox["x"] + 0.3 * mapbox["width"], handle["y"] + 17, steps=8)
        page.mouse.up()
        x1, l1, r1 = beside()
        assert x1 < x0 - 100 and l1 < l0 - 100 and r1 < r0 - 100  # the labels moved with the divider
        page.screenshot(path=str(SHOTS / "desktop-legend-swipe.png"))
        frame.get_by_role("button", name="Overlay").click()
        expect(divider).to_be_hidden()
        clip = frame.locator("img.leaflet-image-layer").nth(1).evaluate("el => el.style.clipPath")
        assert clip in ("", "none")  # overlay again: nothing clipped
        assert frame.locator("body").evaluate(view) == before
        browser.close()
