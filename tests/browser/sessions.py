"""The user that the load and restart tests drive in Chromium: a link to the Sindh flood plain, a rectangle drawn on
the map, Find scenes, Flood mapping, Run (``flood_session``), against ``streamlit run`` with two threads."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from geofm.examples import get_example
from tests.browser import streamlit_app
from tests.browser.streamlit_app import MAP_IFRAME

#: Rectangles drawn by each session (offset from the map centre and size, px of the linked map, about
#: 135 m a pixel): four distinct areas of 2-4 km, each drawn by two sessions (one computes, one gets the
#: cached result or waits in the queue).
SHAPES = [(-120, -90, 26, 20), (20, -60, 20, 18), (-60, 30, 30, 16), (60, 40, 18, 28)]
RESULT_TIMEOUT_MS = 420_000
SINDH = get_example("sindh-flood")
#: Each session starts from a link to the Sindh flood plain (20 x 22 km, the map at about 135 m a pixel) with the
#: example's dates: SHAPES are offsets on that map.
START_LINK = f"bbox=67.60,26.30,67.80,26.50&start={SINDH.start}&end={SINDH.end}&cloud={SINDH.max_cloud:g}"


def start_streamlit(stac_standin, weights_dir: Path, cache_dir: Path, log_path: Path
                    ) -> tuple[str, subprocess.Popen]:
    """`streamlit run app.py` on a free port against the stand-in, the test weights and ``cache_dir``."""
    return streamlit_app.start_streamlit(stac_standin, weights_dir, cache_dir, log_path, OMP_NUM_THREADS="2")


async def _page_text(page, head: int = 200, tail: int = 1500) -> str:
    """What the page showed (the start and end of its text, how many map frames it had), for a failure's
    message: messages and progress panels sit below the map, at the end."""
    try:
        text = " ".join((await page.inner_text("body", timeout=5_000)).split())
        frames = await page.locator(MAP_IFRAME).count()
        running = await page.locator('[data-testid="stStatusWidget"]').count()  # the page's script still running
    except Exception as err:  # noqa: BLE001 - the page itself may be gone
        return f"(page unreadable: {type(err).__name__})"
    shown = text if len(text) <= head + tail else f"{text[:head]} … {text[-tail:]}"
    return f"{shown} [map frames: {frames}; script {'still running' if running else 'not running'}]"


async def _map_state(page) -> str:
    """Each map frame's size and its outline paths (for a failure's message)."""
    try:
        frames = page.frames
        parts = []
        for frame in frames:
            if "st_folium" not in (frame.url or "") and not await frame.locator(".leaflet-container").count():
                continue
            size = await frame.evaluate("() => { const c = document.querySelector('.leaflet-container');"
                                        " return c ? [c.clientWidth, c.clientHeight] : null; }")
            paths = await frame.evaluate("() => Array.from(document.querySelectorAll('path.leaflet-interactive'))"
                                         ".map(p => (p.getAttribute('d') || '').slice(0, 60))")
            parts.append(f"map {size} paths {paths}")
        return "; ".join(parts) or "no map frame"
    except Exception as err:  # noqa: BLE001 - the page itself may be gone
        return f"(maps unreadable: {type(err).__name__})"


async def flood_session(browser, url: str, shape: tuple[int, int, int, int], *, wait_result: bool = True) -> dict:
    """One user: a link to the Sindh flood plain, a rectangle ``shape`` (dx, dy, w, h px from the map centre), Find scenes,
    Flood mapping, Run; returns the time to the result, the area text, the first metric and any messages.
    With ``wait_result=False`` it returns right after pressing Run (``page`` and ``context`` still open)."""
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1300, "height": 950})
    page = await context.new_page()
    try:
        await page.goto(f"{url}/?{START_LINK}")  # a shared link to the flood plain (the first example is smaller)
        map_frame = page.frame_locator(MAP_IFRAME).first
        outline = map_frame.locator("path.leaflet-interactive")
        try:  # a missing outline is the app's bug: no reload, no second try
            await expect(outline).to_be_visible(timeout=120_000)
        except AssertionError as err:
            raise AssertionError(f"the link's outline was not shown 120 s after the page opened; the page showed: "
                                 f"{await _page_text(page)}; {await _map_state(page)}") from err
        linked_area = page.locator('[data-testid="stMarkdownContainer"]', has_text="Your area:").first
        await expect(linked_area).to_be_visible(timeout=180_000)
        linked_text = await linked_area.inner_text()
        await map_frame.locator("a.leaflet-draw-draw-rectangle").click(timeout=60_000)
        # where the map is now, once the page has stopped running (seen in CI: measured earlier, while the page
        # still ran, one session's rectangle landed 25 px off the other's and drew another area)
        await expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=180_000)
        await page.wait_for_timeout(1000)
        box = await map_frame.locator(".leaflet-container").first.bounding_box()
        dx, dy, w, h = shape
        cx, cy = box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy
        await page.mouse.move(cx, cy)
        await page.mouse.down()
        await page.mouse.move(cx + w / 2, cy + h / 2, steps=6)
        await page.mouse.move(cx + w, cy + h, steps=6)
        await page.mouse.up()
        # the drawn area replaced the linked one (else "Find scenes" races the drawing's own rerun, which
        # rightly clears a search made for the old area)
        await expect(page.locator('[data-testid="stMarkdownContainer"]', has_text="Your area:").first) \
            .not_to_have_text(linked_text, timeout=180_000)
        await page.get_by_role("button", name="Find scenes").click()
        await expect(page.get_by_text("dates found")).to_be_visible(timeout=240_000)
        await page.get_by_role("button", name="Flood mapping").click()
        run = page.get_by_role("button", name="Run flood mapping")
        await expect(run).to_be_enabled(timeout=180_000)
        area = await page.locator('[data-testid="stMarkdownContainer"]', has_text="Area ").first.inner_text()
        started = time.monotonic()
        await run.click()
        if not wait_result:
            return dict(page=page, context=context, area=area.strip())
        done = page.get_by_text("Water area").or_(page.locator('[data-testid="stAlertContentError"]'))
        await expect(done.first).to_be_visible(timeout=RESULT_TIMEOUT_MS)
        took = time.monotonic() - started
        errors = await page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
        metric = ""
        if not errors:
            metric = await page.locator('[data-testid="stMetric"]').first.inner_text()
        stale = await page.get_by_text("The result below is for earlier settings").count()
        crashed = await page.locator('[data-testid="stException"]').count()
        outcome = dict(seconds=took, area=area.strip(), metric=metric, errors=errors, stale=stale,
                       crashed=crashed)
    except Exception as err:  # recorded, asserted by the caller with every session's outcome
        outcome = dict(failure=f"{type(err).__name__}: {str(err)[:300]}", page=await _page_text(page))
        print(f"\nsession failed: {outcome['failure']}\n  the page showed: {outcome['page']}")
    await context.close()
    return outcome


async def example_session(browser, url: str) -> dict:
    """A visitor who opens the Explore page and clicks the first example once (no second click, no reload): the
    example's outline must be drawn. Under load this once went missing in CI (a retry hid it; the cause was not
    found in 73 clicks since); a failure here records what the map frame failed to load and logged."""
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1300, "height": 950})
    page = await context.new_page()
    failed: list[str] = []
    console: list[str] = []
    sockets: list[str] = []  # the page's websockets opening and closing (a reconnect starts a new session?)
    started = time.monotonic()
    page.on("requestfailed", lambda r: None if r.url.endswith(".png") else  # basemap tiles: offline here
            failed.append(f"{r.url.rsplit('/', 1)[-1][:60]}: {r.failure}"))
    page.on("console", lambda m: console.append(m.text[:200]) if m.type in ("error", "warning") else None)
    page.on("websocket", lambda ws: (sockets.append(f"open {time.monotonic() - started:.1f}s"),
                                     ws.on("close", lambda _ws: sockets.append(f"close {time.monotonic() - started:.1f}s"))))
    try:
        await page.goto(url)
        label = SINDH.button_label.split(": ", 1)[-1] if SINDH.button_label.startswith(":") else SINDH.button_label
        button = page.get_by_role("button", name=label)  # the label without its icon code
        await button.click(timeout=180_000)
        clicked = time.monotonic()
        sockets.append(f"click {clicked - started:.1f}s")
        outline = page.frame_locator(MAP_IFRAME).first.locator("path.leaflet-interactive")
        try:
            await expect(outline).to_be_visible(timeout=120_000)
        except AssertionError as err:
            raise AssertionError(f"the example's outline was not drawn 120 s after one click; websockets: {sockets}; "
                                 f"failed requests: {failed}; console: {console[-10:]}; {await _map_state(page)}; "
                                 f"the page showed: {await _page_text(page)}") from err
        outcome = dict(seconds=time.monotonic() - clicked)
    except Exception as err:  # recorded, asserted by the caller
        outcome = dict(failure=f"{type(err).__name__}: {str(err)[:3000]}")
        print(f"\nexample session failed: {outcome['failure']}")
    await context.close()
    return outcome
