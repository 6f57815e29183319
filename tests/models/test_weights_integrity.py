"""Default weights are pinned (hash, size) and a damaged or stuck first-use download never passes silently:
a truncated file in the Hugging Face cache is downloaded again (or refused in one line offline) and a
download lock held by a hung process is waited for a bounded time, with the wait reported."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from geofm.config import MODELS, TASK_MODELS
from geofm.errors import CheckpointError, ServiceError
from geofm.models import download
from geofm.models.weights import load_model
from tests.checkpoints import tiny_vit, write_mae_checkpoint
from tests.models.hf_standin import online_hub
from tests.models.hf_cache import _put_in_hf_cache

REPO = Path(__file__).resolve().parents[2]
MAE = MODELS["prithvi-eo-1.0-100m"]
FLOOD = MODELS["prithvi-eo-1.0-100m-sen1floods11"]
BODY = os.urandom(3_000_000)
#: The stand-in serves BODY under the flood file's name: the registry's size is BODY's, the hash unknown.
FLOOD_T = dataclasses.replace(FLOOD, sha256=None, size_bytes=len(BODY))


def test_every_default_model_is_pinned_where_the_hash_is_known() -> None:
    """The task models and the v1 MAE carry the published file's SHA-256; sizes where a source gives them."""
    for name in (*TASK_MODELS.values(), MAE.name):
        spec = MODELS[name]
        assert spec.sha256 and re.fullmatch(r"[0-9a-f]{64}", spec.sha256), name
    assert MODELS["prithvi-eo-1.0-100m"].size_bytes == 453_671_052
    assert MODELS["prithvi-eo-1.0-100m-burn-scar"].size_bytes == 1_198_537_753
    assert MODELS["prithvi-eo-1.0-100m-multi-temporal-crop"].size_bytes == 1_680_468_041


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("GEOFM_WEIGHTS_DIR", raising=False)
    download.forget_probe()
    return hub


def test_a_file_in_the_hf_cache_shorter_than_published_is_refused_in_one_line(offline_cache: Path) -> None:
    """Offline, the registry's size decides before anything is unpickled: one line, the sizes, the fix."""
    path = _put_in_hf_cache(offline_cache, MAE.hf_repo, MAE.filename, lambda p: write_mae_checkpoint(p, tiny_vit()))
    started = time.perf_counter()
    with pytest.raises(CheckpointError) as err:
        download.ensure_weights(MAE)
    assert time.perf_counter() - started < 5.0
    text = err.value.user_message()
    assert f"is incomplete ({path.stat().st_size:,} bytes, expected 453,671,052)" in text
    assert "\n" not in text and "geofm weights download prithvi-eo-1.0-100m" in text
    with pytest.raises(CheckpointError, match="is incomplete"):
        load_model(MAE, arch=tiny_vit())  # nor is it loaded as it is


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # noqa: ANN201
    monkeypatch.setitem(MODELS, FLOOD.name, FLOOD_T)
    with online_hub(monkeypatch, tmp_path, {(FLOOD.hf_repo, FLOOD.filename): BODY}, chunk=500_000) as standin:
        yield standin


def test_a_truncated_file_in_the_hf_cache_is_downloaded_again(hub) -> None:  # noqa: ANN001
    path = download.ensure_weights(FLOOD_T)
    assert path.read_bytes() == BODY
    with open(path, "r+b") as fh:  # a copy killed half-way, a full disk
        fh.truncate(len(BODY) // 2)
    again = download.ensure_weights(FLOOD_T)
    assert again.read_bytes() == BODY
    assert hub.gets[f"{FLOOD.hf_repo}/{FLOOD.filename}"] == 2


_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from filelock import FileLock
    lock, blobs, grow_s = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    held = FileLock(lock)
    held.acquire()
    blobs.mkdir(parents=True, exist_ok=True)
    part = blobs / "abc.incomplete"
    print("held", flush=True)
    end = time.monotonic() + grow_s
    while time.monotonic() < end:  # a live download: the partial file grows
        with open(part, "ab") as fh:
            fh.write(b"x" * 100_000)
        time.sleep(0.3)
    if grow_s > 0:
        part.unlink()
        held.release()
        print("done", flush=True)
    time.sleep(600)  # a hung process: holds the lock, writes nothing
""")


def _hold(grow_s: float) -> subprocess.Popen:
    blobs = Path(os.environ["HF_HUB_CACHE"]) / ("models--" + FLOOD.hf_repo.replace("/", "--")) / "blobs"
    lock = download.lock_path(FLOOD_T)
    lock.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(lock), str(blobs), str(grow_s)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _in_thread(fn):  # noqa: ANN001, ANN202
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except Exception as err:  # noqa: BLE001
            box["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "still waiting on the lock after 60 s"
    return box, time.monotonic() - started


def test_a_lock_held_by_a_hung_process_is_waited_for_a_bounded_time(hub, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("GEOFM_DOWNLOAD_WAIT_S", "3")
    holder = _hold(grow_s=0)
    try:
        said: list[str] = []
        box, took = _in_thread(lambda: download.ensure_weights(FLOOD_T, on_wait=said.append))
    finally:
        holder.kill()
        holder.wait()
    print(f"hung download lock: clear error after {took:.1f} s")
    assert isinstance(box.get("error"), ServiceError), box
    text = box["error"].user_message()
    assert re.search(r"has made no progress for [3-9] s; it seems stuck", text), text
    assert "\n" not in text and "GEOFM_" not in text
    assert 3.0 <= took < 15.0
    assert said and said[0].startswith(f"Waiting for another download of the {FLOOD.title} weights to finish")
    assert sum(hub.gets.values()) == 0


def test_a_live_download_in_another_process_is_waited_for(hub, monkeypatch) -> None:  # noqa: ANN001
    """Progress, not the clock, bounds the wait: a download that keeps growing past the limit is not cut."""
    monkeypatch.setenv("GEOFM_DOWNLOAD_WAIT_S", "1.5")
    holder = _hold(grow_s=4.0)
    try:
        said: list[str] = []
        box, took = _in_thread(lambda: download.ensure_weights(FLOOD_T, on_wait=said.append))
    finally:
        holder.kill()
        holder.wait()
    assert "error" not in box, box
    assert box["value"].read_bytes() == BODY  # the holder gave up without the file: this run downloaded it
    assert took >= 3.5 and any("MB so far" in s for s in said)
