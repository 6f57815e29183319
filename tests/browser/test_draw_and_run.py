"""The app in a real browser: `streamlit run` + Debian's Chromium driven by Playwright.

Draws a rectangle on the Leaflet map with the mouse, runs the flood task, and checks that the overlay
image sits on the map at the drawn bounds, and that the legend and the area figure show. Screenshots go
to ``screenshots/`` (git-ignored); the test prints where.
"""

from __future__ import annotations

import math

import pytest

from tests.browser.streamlit_app import CHROMIUM, CHROMIUM_ARGS, MAP_IFRAME, SHOTS, _box, _shot

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _latlng(frame, x: float, y: float) -> tuple[float, float]:
    """Container pixel -> (lat, lng) through the map inside ``frame``."""
    return tuple(frame.evaluate("([x, y]) => { const p = window.map.containerPointToLatLng([x, y]);"
                                " return [p.lat, p.lng]; }", [x, y]))


def _utm_convergence_deg(lon: float, lat: float) -> float:
    """Angle between grid north of the point's UTM zone and true north."""
    from pyproj import CRS, Proj

    zone = int((lon + 180) // 6) + 1
    return Proj(CRS.from_epsg(32600 + zone)).get_factors(lon, lat).meridian_convergence


def test_draw_rectangle_run_flood_overlay_on_drawn_bounds(app_url):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        expect(page.get_by_text("See what a geospatial foundation model sees")).to_be_visible(timeout=60_000)
        map_frame = page.frame_locator(MAP_IFRAME).first
        expect(map_frame.locator("a.leaflet-draw-draw-rectangle")).to_be_visible(timeout=60_000)
        print(f"screenshots: {SHOTS}")
        # offline: the basemap tiles fail quietly, with one note on the map instead of broken images
        expect(map_frame.locator(".geofm-offline-note")).to_have_count(1, timeout=30_000)
        _shot(page, "01-explore.png")
        # every task of the registry has its button on the explore page and its page in the menu
        from geofm.config import TASKS

        for task in TASKS.values():
            expect(page.get_by_role("button", name=task.title)).to_be_visible()
            expect(page.locator('[data-testid="stSidebarNav"]')).to_contain_text(task.menu_title)

        # go to Lake Manchar (the stand-in's Sindh tile) through an example, then draw our own smaller rectangle
        page.get_by_role("button", name="Sindh flood 2022").click()
        expect(page.get_by_text("Lake Manchar overflowing, Sindh, Pakistan:")).to_be_visible(timeout=30_000)
        map_frame = page.frame_locator(MAP_IFRAME).first
        expect(map_frame.locator("path.leaflet-interactive")).to_be_visible(timeout=30_000)
        page.wait_for_timeout(800)  # let fitBounds settle
        for _ in range(2):  # closer in, so the drawn rectangle is a few km (a quick run on the CPU)
            map_frame.locator(".leaflet-control-zoom-in").click()
            page.wait_for_timeout(600)
        iframe = page.locator(MAP_IFRAME).first
        frame = iframe.element_handle().content_frame()
        frame_box = _box(iframe)
        map_box = _box(map_frame.locator(".leaflet-container").first)

        map_frame.locator("a.leaflet-draw-draw-rectangle").click()
        cx, cy = map_box["x"] + map_box["width"] / 2, map_box["y"] + map_box["height"] / 2
        x0, y0, x1, y1 = cx - 110, cy - 80, cx + 90, cy + 70
        # the drawn corners in lat/lon, read through Leaflet before the app reruns
        offset_x, offset_y = map_box["x"] - frame_box["x"], map_box["y"] - frame_box["y"]
        drawn_nw = _latlng(frame, x0 - map_box["x"], y0 - map_box["y"])
        drawn_se = _latlng(frame, x1 - map_box["x"], y1 - map_box["y"])
        assert offset_x >= 0 and offset_y >= 0
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=8)
        page.mouse.move(x1, y1, steps=8)
        page.mouse.up()
        expect(page.get_by_text("Your area:")).to_be_visible(timeout=30_000)
        _shot(page, "02-drawn.png")
        page.get_by_role("button", name="Find scenes").click()
        expect(page.get_by_text("dates found")).to_be_visible(timeout=60_000)
        page.wait_for_timeout(1000)
        page.get_by_text("dates found").scroll_into_view_if_needed()
        _shot(page, "03-scenes.png")

        # the area is what we drew: about 200 x 150 px of the map
        caption = page.locator('[data-testid="stMarkdownContainer"]', has_text="Your area:").inner_text()
        width_km, height_km = (float(v) for v in caption.split("Area ")[1].split(" km")[0].split(" × "))
        # 200 x 150 px at the zoom the example left: the size of the drawn corners, wider than high
        drawn_w = (drawn_se[1] - drawn_nw[1]) * 111.32 * math.cos(math.radians((drawn_nw[0] + drawn_se[0]) / 2))
        drawn_h = (drawn_nw[0] - drawn_se[0]) * 110.6
        assert height_km < width_km
        assert width_km == pytest.approx(drawn_w, rel=0.05) and height_km == pytest.approx(drawn_h, rel=0.05)

        page.get_by_role("button", name="Flood mapping").click()
        expect(page.get_by_role("button", name="Run flood mapping")).to_be_enabled(timeout=30_000)
        page.get_by_role("button", name="Run flood mapping").click()
        expect(page.get_by_text("Water area")).to_be_visible(timeout=180_000)
        expect(page.get_by_text("Share of the clear area")).to_be_visible()
        water_text = page.locator('[data-testid="stMetric"]').first.inner_text()
        assert "km²" in water_text
        expect(page.locator(".geofm-legend")).to_contain_text("Water / flood")

        result_iframe = page.locator(MAP_IFRAME).first
        result_frame = page.frame_locator(MAP_IFRAME).first
        overlays = result_frame.locator("img.leaflet-image-layer")
        expect(overlays).to_have_count(3, timeout=60_000)  # true colour, water, clouds
        expect(result_frame.locator("path.leaflet-interactive")).to_be_visible()
        page.wait_for_timeout(1000)
        result_iframe.scroll_into_view_if_needed()
        _shot(page, "04-flood-result.png")

        # overlay images sit on the map at the drawn bounds
        frame = result_iframe.element_handle().content_frame()
        rmap_box = _box(result_frame.locator(".leaflet-container").first)
        water_box = _box(overlays.nth(1))
        outline_box = _box(result_frame.locator("path.leaflet-interactive").first)
        nw = _latlng(frame, water_box["x"] - rmap_box["x"], water_box["y"] - rmap_box["y"])
        se = _latlng(frame, water_box["x"] + water_box["width"] - rmap_box["x"],
                     water_box["y"] + water_box["height"] - rmap_box["y"])
        # The overlay covers the drawn rectangle and is larger only by the reading grid: whole 30 m pixels
        # plus the tilt of the UTM grid against north (the grid's box, and the box of that box on the map).
        height_m = (drawn_nw[0] - drawn_se[0]) * 111_000
        width_m = (drawn_se[1] - drawn_nw[1]) * 111_000 * math.cos(math.radians(drawn_nw[0]))
        tilt = math.radians(abs(_utm_convergence_deg(drawn_nw[1], drawn_nw[0])))
        slack_m = 60 + 2 * max(width_m, height_m) * math.sin(tilt)
        tol_lat, tol_lng = slack_m / 111_000, slack_m / (111_000 * math.cos(math.radians(drawn_nw[0])))
        assert nw[0] >= drawn_nw[0] - 1e-6 and se[0] <= drawn_se[0] + 1e-6  # north above, south below
        assert nw[1] <= drawn_nw[1] + 1e-6 and se[1] >= drawn_se[1] - 1e-6
        assert nw[0] - drawn_nw[0] < tol_lat and drawn_se[0] - se[0] < tol_lat
        assert drawn_nw[1] - nw[1] < tol_lng and se[1] - drawn_se[1] < tol_lng
        # and on screen: the area outline lies inside the overlay image, near its edges
        slack_px = slack_m * water_box["width"] / width_m + 2
        for a, b in (("x", "width"), ("y", "height")):
            assert water_box[a] <= outline_box[a] + 1
            assert water_box[a] + water_box[b] >= outline_box[a] + outline_box[b] - 1
            assert outline_box[a] - water_box[a] < slack_px
            assert (water_box[a] + water_box[b]) - (outline_box[a] + outline_box[b]) < slack_px
        print(f"drawn {drawn_nw} .. {drawn_se}; overlay {nw} .. {se}; slack {slack_m:.0f} m")

        # the swipe replaces the old side-by-side view (tests/browser/test_map.py drags its divider)
        page.frame_locator(MAP_IFRAME).first.get_by_role("button", name="Swipe").click()  # on the map itself
        expect(page.frame_locator(MAP_IFRAME).first.locator(".geofm-swipe")).to_be_visible(timeout=30_000)
        page.wait_for_timeout(1000)
        page.locator(MAP_IFRAME).first.scroll_into_view_if_needed()
        _shot(page, "05-flood-swipe.png")
        expect(page.locator("iframe[srcdoc]")).to_have_count(0)  # no deprecated components.html view
        # no error box and no exception anywhere (missing map tiles offline are silent)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
        browser.close()
