"""Issue 9, point 13: the app under load. `streamlit run` serves 8 concurrent browser sessions (Playwright
contexts in Debian's Chromium) that each draw an area, search and run flood mapping — a mix of areas, some
shared: every session gets its own result (or a clear message), memory stays bounded. Meanwhile one more visitor
clicks the first example once and must see its outline (the click a retry used to repeat).

Sized for 2 cores: areas of a few km (one model window each), the full-size flood model on CPU. Prints the
p50/p95 time from pressing Run to the result and the server's peak memory (VmHWM).
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from pathlib import Path

import pytest

from tests.browser.sessions import SHAPES, example_session, flood_session, start_streamlit
from tests.browser.streamlit_app import CHROMIUM, CHROMIUM_ARGS, stop

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SESSIONS = 8
#: The first area lies under the stand-in's clouds: those sessions must get this clear message, not a result.
CLOUDY_SHAPE, CLOUDY_MESSAGE = 0, "is only 18% clear; at least 30% is needed. Try a wider date range"
#: The server's peak memory may not exceed this (Streamlit + torch + one full-size model, 8 sessions).
PEAK_RSS_LIMIT_MB = 4000


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture
def server(stac_standin, published_weights_dir, tmp_path):
    url, proc = start_streamlit(stac_standin, published_weights_dir, tmp_path / "cache", tmp_path / "streamlit.log")
    try:
        yield url, proc
    finally:
        stop(proc)


async def _session(browser, url: str, index: int, results: dict) -> None:
    results[index] = await flood_session(browser, url, SHAPES[index % len(SHAPES)])


async def _drive(url: str) -> dict:
    from playwright.async_api import async_playwright

    results: dict = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            tasks = []
            for i in range(SESSIONS):
                tasks.append(asyncio.create_task(_session(browser, url, i, results)))
                await asyncio.sleep(0.5)  # users arrive a moment apart
            results["example"] = await example_session(browser, url)  # while the eight are busy
            await asyncio.gather(*tasks)
        finally:
            await browser.close()
    return results


def _area_key(text: str) -> str:
    """The area's size and centre, from its caption ("Area 2.8 × 2.5 km (6.7 km²) around 26.463° N, 67.742° E")."""
    match = re.search(r"Area ([\d.]+ × [\d.]+ km).*?around ([^·]+)", text)
    return " ".join(match.groups()).strip() if match else text


def test_eight_concurrent_sessions_each_get_their_own_result(server):
    url, proc = server
    t0 = time.monotonic()
    results = asyncio.run(_drive(url))
    wall = time.monotonic() - t0
    peak_mb = _vm_hwm_mb(proc.pid)
    times = sorted(r["seconds"] for r in results.values() if "seconds" in r)
    p50 = statistics.median(times) if times else float("nan")
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] if times else float("nan")
    print(f"\nload: {SESSIONS} sessions, wall {wall:.0f} s; Run -> result p50 {p50:.1f} s, p95 {p95:.1f} s; "
          f"server peak RSS {peak_mb:.0f} MB")
    example = results.pop("example")
    print(f"  example clicked once: {example}")
    for i, r in sorted(results.items()):
        print(f"  session {i}: {r}")
    assert "failure" not in example and example["seconds"] < 120, example
    assert len(results) == SESSIONS
    failures = {i: r["failure"] for i, r in results.items() if "failure" in r}
    assert not failures, failures
    for i, r in results.items():
        assert not r["crashed"] and not r["stale"], (i, r)
        if i % len(SHAPES) == CLOUDY_SHAPE:  # a clear message, and no result of anyone else's
            assert len(r["errors"]) == 1 and CLOUDY_MESSAGE in r["errors"][0] and not r["metric"], (i, r)
        else:
            assert not r["errors"] and "km²" in r["metric"], (i, r)
    # sessions that drew the same rectangle got the same area and the same figures; different areas differ
    by_shape: dict[int, list[dict]] = {}
    for i, r in results.items():
        by_shape.setdefault(i % len(SHAPES), []).append(r)
    for rs in by_shape.values():
        assert len({_area_key(r["area"]) for r in rs}) == 1, rs
        assert len({r["metric"] for r in rs}) == 1, rs
    assert len({_area_key(rs[0]["area"]) for rs in by_shape.values()}) == len(SHAPES)
    assert peak_mb < PEAK_RSS_LIMIT_MB
    assert proc.poll() is None  # the server is still up
