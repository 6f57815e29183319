"""The "Did the model get it right?" section in a real browser (streamlit run + Chromium via Playwright): the
Fremont crops example area, run crops, flood and reconstruction, compare each with its reference, and check the
section's numbers and that the reference and agreement layers are in the map's layer control."""

from __future__ import annotations

import pytest

from tests.browser.streamlit_app import CHROMIUM, CHROMIUM_ARGS, MAP_IFRAME, _shot

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _compare(page, expect, *, number: str, layers: list[str], shot: str) -> None:
    page.get_by_role("button", name="Compare with reference data").click()
    expect(page.get_by_text("Did the model get it right?")).to_be_visible(timeout=60_000)
    expect(page.get_by_text(number, exact=True)).to_be_visible(timeout=180_000)
    maps = page.frame_locator(MAP_IFRAME)
    evaluation_map = maps.last
    control = evaluation_map.locator(".leaflet-control-layers-overlays")
    for name in layers:
        expect(control).to_contain_text(name, timeout=60_000)
    # shown: the true colour and the first evaluation layer (the others wait in the layer control)
    expect(evaluation_map.locator("img.leaflet-image-layer")).to_have_count(2, timeout=60_000)
    page.locator(MAP_IFRAME).last.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    _shot(page, shot)


def _open_task(page, expect, menu: str, run: str, ready: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(menu, exact=True).click()
    expect(page.get_by_role("button", name=run)).to_be_enabled(timeout=60_000)
    page.get_by_role("button", name=run).click()
    expect(page.get_by_text(ready).first).to_be_visible(timeout=300_000)


def test_section_and_layers_for_crops_flood_and_reconstruction(app_url):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        expect(page.get_by_text("See what a geospatial foundation model sees")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Fremont crops 2022").click()
        expect(page.get_by_text("Crops near Fremont, Nebraska:")).to_be_visible(timeout=30_000)

        _open_task(page, expect, "Crops", "Run crop classification", "Area per class")
        # the result map's legend shows all its classes on a desktop map (a fit made before the map's later
        # controls were there once left it 40 px high, its rows scrolling inside)
        legend = page.frame_locator(MAP_IFRAME).first.locator(".geofm-legend-body")
        expect(legend).to_be_visible(timeout=60_000)
        page.wait_for_timeout(1000)
        shown = legend.evaluate("b => [b.scrollHeight, b.clientHeight]")
        assert shown[0] <= shown[1] + 1, f"the legend shows {shown[1]} px of its {shown[0]} px"
        _compare(page, expect, number="Overall accuracy",
                 layers=["Disagreement with reference", "Reference: USDA Cropland Data Layer"],
                 shot="11-crops-evaluation.png")
        # classes + confusion matrix (its phone-sized twin is hidden on this screen)
        expect(page.locator('[data-testid="stVegaLiteChart"]:visible')).to_have_count(2)
        expect(page.get_by_text("USDA Cropland Data Layer 2021").first).to_be_visible()

        _open_task(page, expect, "Flood", "Run flood mapping", "Water area")
        _compare(page, expect, number="IoU",
                 layers=["Agreement with reference", "Newly flooded water",
                         "Reference: JRC Global Surface Water (seasonality)"],
                 shot="12-flood-evaluation.png")
        expect(page.get_by_text("Newly flooded water", exact=True).first).to_be_visible()

        _open_task(page, expect, "Reconstruction", "Run reconstruction", "Error per band")
        _compare(page, expect, number="PSNR, neighbour fill",
                 layers=["Error per hidden patch (model)", "Error per hidden patch (neighbour fill)"],
                 shot="13-reconstruction-evaluation.png")

        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
        browser.close()


PHONE = {"width": 390, "height": 844}
#: How far past its column each thing reaches: the page's scrolling column, and each element's own content.
_OVERFLOW = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    return {document: document.documentElement.scrollWidth, main: main.scrollWidth - main.clientWidth};
}"""


def test_crops_comparison_fits_a_phone(app_url):  # noqa: F811
    """At 390 x 844 the per-class table and the confusion matrix stay inside the screen: no sideways scrolling
    of the page, and the matrix drawn whole inside its box (the table may scroll its columns in its own box)."""
    from playwright.sync_api import expect, sync_playwright

    from geofm.examples import get_example

    ex = get_example("fremont-crops")
    link = (f"{app_url}/?bbox={','.join(map(str, ex.bounds))}&start={ex.start}&end={ex.end}"
            f"&cloud={ex.max_cloud:g}&task=crops")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        page.goto(link)
        expect(page.get_by_role("button", name="Run crop classification")).to_be_enabled(timeout=90_000)
        page.get_by_role("button", name="Run crop classification").click()
        expect(page.get_by_text("Area per class").first).to_be_visible(timeout=300_000)
        page.get_by_role("button", name="Compare with reference data").click()
        expect(page.get_by_text("Overall accuracy", exact=True)).to_be_visible(timeout=180_000)
        table = page.locator('[data-testid="stDataFrame"]').filter(has_text="Precision")
        expect(table).to_be_visible(timeout=60_000)
        matrix = page.locator('[data-testid="stVegaLiteChart"]:visible').last
        expect(matrix.locator("canvas, svg").first).to_be_visible(timeout=60_000)
        matrix.scroll_into_view_if_needed()
        page.wait_for_timeout(1500)
        _shot(page, "14-crops-evaluation-phone.png")
        for name, box in (("table", table.bounding_box()), ("matrix", matrix.bounding_box()),
                          ("matrix drawing", matrix.locator("canvas, svg").first.bounding_box())):
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (name, box)
        inner = matrix.evaluate("e => e.scrollWidth - e.clientWidth")
        assert inner <= 0, f"the matrix scrolls sideways by {inner} px inside its box"
        overflow = page.evaluate(_OVERFLOW)
        assert overflow["document"] <= PHONE["width"] and overflow["main"] <= 0, overflow
        expect(page.get_by_text("Key:", exact=False).first).to_be_visible()  # the matrix's short codes explained
        browser.close()
