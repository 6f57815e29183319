"""Issue 9, point 14: the server killed mid-run (SIGKILL) and restarted serves correct results.

A first server computes a reference result for an area; a second run (another area) is killed mid-run; the
reference area's entry in the disk stack cache is then damaged (truncated, as a kill during a write or a bad
disk leaves it). A restarted server on the same cache serves the reference area with the same figures (the
damaged entry is detected and the area read again) and runs the interrupted area normally.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.browser.sessions import SHAPES, flood_session, start_streamlit
from tests.browser.streamlit_app import CHROMIUM, CHROMIUM_ARGS, stop

pytestmark = [pytest.mark.slow, pytest.mark.browser]


async def _with_browser(fn):
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            return await fn(browser)
        finally:
            await browser.close()


def _tail(log, lines: int = 30) -> str:
    """The server log's last lines, for a failure's message."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


def test_killed_server_restarts_and_serves_correct_results(stac_standin, published_weights_dir, tmp_path):
    cache, log = tmp_path / "cache", tmp_path / "streamlit.log"
    url, proc = start_streamlit(stac_standin, published_weights_dir, cache, log)
    try:
        async def first_server(browser):
            ref = await flood_session(browser, url, SHAPES[1])
            started = await flood_session(browser, url, SHAPES[2], wait_result=False)
            await asyncio.sleep(1.5)  # reading or running the model when the server dies
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            await started["context"].close()
            return ref, started["area"]

        reference, killed_area = asyncio.run(_with_browser(first_server))
    finally:
        stop(proc)
    if "failure" in reference or reference["errors"]:
        print(f"\nserver log, last lines:\n{_tail(log)}")
    assert "failure" not in reference and not reference["errors"], reference
    assert proc.returncode == -signal.SIGKILL
    entries = sorted((cache / "stacks").glob("*.npz"))
    assert entries, "the reference run left no stack cache entry"
    for entry in entries:  # damage every finished entry
        data = entry.read_bytes()
        entry.write_bytes(data[: len(data) // 2])

    url, proc = start_streamlit(stac_standin, published_weights_dir, cache, log)
    try:
        async def second_server(browser):
            return await asyncio.gather(flood_session(browser, url, SHAPES[1]),
                                        flood_session(browser, url, SHAPES[2]))

        started = time.monotonic()
        again, resumed = asyncio.run(_with_browser(second_server))
        print(f"\nrestart: reference {reference['seconds']:.1f} s, after restart {again.get('seconds', 0):.1f} s and "
              f"{resumed.get('seconds', 0):.1f} s (both in {time.monotonic() - started:.0f} s)")
    finally:
        stop(proc)
    if "failure" in again or "failure" in resumed:
        print(f"\nserver log, last lines:\n{_tail(log)}")
    assert "failure" not in again and "failure" not in resumed, (again, resumed)
    assert again["area"] == reference["area"] and again["metric"] == reference["metric"]  # same figures
    assert not again["errors"] and not again["crashed"] and not again["stale"]
    assert resumed["area"] == killed_area and "km²" in resumed["metric"] and not resumed["errors"]
    text = log.read_text()
    assert "Traceback" not in text
