"""The model choice and "Which model got it right?" on the flood page in a real browser (streamlit run +
Chromium via Playwright): run the default model (EO-2.0 for an area), run EO-1.0 on the same scenes, and see
the model-agreement layer in the map's layer control with the figures."""

from __future__ import annotations

import pytest

from tests.browser.streamlit_app import CHROMIUM, CHROMIUM_ARGS, MAP_IFRAME, _shot

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.mark.timeout(2400)  # two full model loads and runs on a shared CPU
def test_flood_model_choice_and_model_agreement(app_url):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        expect(page.get_by_text("See what a geospatial foundation model sees")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Fremont crops 2022").click()
        expect(page.get_by_text("Crops near Fremont, Nebraska:")).to_be_visible(timeout=30_000)
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Flood", exact=True).click()
        expect(page.get_by_role("button", name="Run flood mapping")).to_be_enabled(timeout=60_000)
        choice = page.locator('[data-testid="stSelectbox"]').filter(has_text="Model")
        shown = choice.evaluate("e => e.innerText + ' | ' + Array.from(e.querySelectorAll('input'))"
                                ".map(i => i.value).join(' | ')")
        # areas on a CPU: EO-1.0 by default (docs/models.md); EO-2.0 is the other choice
        assert "Prithvi flood mapping (Sen1Floods11)" in shown, shown
        page.get_by_role("button", name="Run flood mapping").click()
        expect(page.get_by_text("Water area").first).to_be_visible(timeout=900_000)
        expect(page.get_by_text("Which model got it right?")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Run EO-2.0 on the same scenes").click()
        expect(page.get_by_text("IoU between the models")).to_be_visible(timeout=900_000)
        expect(page.get_by_text("Found by both")).to_be_visible()
        expect(page.get_by_role("button", name="Run EO-2.0 on the same scenes")).to_have_count(0)  # nothing more to do
        models_map = page.frame_locator(MAP_IFRAME).last
        control = models_map.locator(".leaflet-control-layers-overlays")
        expect(control).to_contain_text("Model agreement (water area)", timeout=60_000)
        expect(models_map.locator("img.leaflet-image-layer")).to_have_count(2, timeout=60_000)
        page.locator(MAP_IFRAME).last.scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        print(f"screenshot: {_shot(page, '14-flood-models.png')}")
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
        browser.close()
