"""Issue 9, point 11: Ctrl-C (and SIGTERM) while COG reads hang stops the command within a couple of seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_signal_during_hung_reads_stops_within_two_seconds(sig, code, word, standin, tmp_path):
    standin.stall_next(1000, 120.0, match=".tif")  # every image request hangs for two minutes
    out = tmp_path / "flood.tif"
    env = {**os.environ, "GEOFM_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "geofm", "run", "flood", "--bbox", "-95.93", "41.29", "-95.90",
                             "41.31", "--start", "2022-03-10", "--end", "2022-04-30", "--stac-url", standin.url,
                             "--out", str(out), "--weights-dir", str(tmp_path), "--device", "cpu"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(r.path.split("?")[0].endswith(".tif") for r in standin.host_requests()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command never started reading images"
            time.sleep(0.05)
        time.sleep(1.0)  # the reads are now stuck on the stalled server
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        standin.clear_faults()
    assert proc.returncode == code, stderr
    assert took < 2.5, f"took {took:.1f} s to stop"
    assert stderr.rstrip().endswith(f"geofm: {word}") and "Traceback" not in stderr
    assert not out.exists() and not stdout
