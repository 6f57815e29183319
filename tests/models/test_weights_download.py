"""Weights on first use: download through huggingface_hub from a local Hub stand-in, with progress, once."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path

import pytest

from geofm.cli import main
from geofm.config import MODELS
from geofm.errors import WeightsNotFoundError
from geofm.models import download
from tests.models.hf_standin import online_hub

#: The stand-in serves random bytes under the flood file's name: not the published file, so unpinned here.
FLOOD = dataclasses.replace(MODELS["prithvi-eo-1.0-100m-sen1floods11"], sha256=None, size_bytes=0)
BODY = os.urandom(25_000_000)  # the content does not matter to the download path (it reads 10 MB chunks)


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """The stand-in Hub as HF_ENDPOINT, an empty HF cache, online mode, no weights folder."""
    monkeypatch.setitem(MODELS, FLOOD.name, FLOOD)  # name look-ups get the unpinned spec too
    with online_hub(monkeypatch, tmp_path, {(FLOOD.hf_repo, FLOOD.filename): BODY}, chunk=1_000_000,
                    delay_s=0.01) as standin:
        yield standin


def test_first_use_downloads_into_the_hf_cache_with_progress(hub, tmp_path):
    seen: list[tuple[int, int | None]] = []
    path = download.ensure_weights(FLOOD, on_bytes=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == BODY
    assert Path(path).is_relative_to(tmp_path / "hub")
    assert seen[0] == (0, len(BODY)) and seen[-1] == (len(BODY), len(BODY))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 4
    assert hub.gets[f"{FLOOD.hf_repo}/{FLOOD.filename}"] == 1
    # the next run finds it locally: no request at all
    heads = sum(hub.heads.values())
    assert download.ensure_weights(FLOOD) == path
    assert hub.gets[f"{FLOOD.hf_repo}/{FLOOD.filename}"] == 1 and sum(hub.heads.values()) == heads


def test_two_sessions_asking_at_once_download_once(hub):
    hub.delay_s = 0.05  # ~1.3 s transfer: the second asks while the first downloads
    results: dict[str, Path] = {}
    progress: dict[str, list] = {"a": [], "b": []}

    def session(name: str) -> None:
        results[name] = download.ensure_weights(FLOOD, on_bytes=lambda d, t: progress[name].append(d))

    threads = [threading.Thread(target=session, args=(n,)) for n in ("a", "b")]
    threads[0].start()
    deadline = time.time() + 10
    while not (progress["a"] and progress["a"][-1] > 0) and time.time() < deadline:
        time.sleep(0.01)
    threads[1].start()
    for t in threads:
        t.join(30)
    assert results["a"] == results["b"] and results["a"].read_bytes() == BODY
    key = f"{FLOOD.hf_repo}/{FLOOD.filename}"
    assert hub.gets[key] == 1
    assert hub.heads[key] == 1  # the second waited on geofm's lock and found the file: it never asked the Hub
    assert progress["b"] == []  # ... and had nothing to download
    assert download.lock_path(FLOOD).is_file()


def test_offline_keeps_todays_message_and_fails_fast(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens
    download.forget_probe()
    started = time.perf_counter()
    with pytest.raises(WeightsNotFoundError) as err:
        download.ensure_weights(FLOOD)
    assert time.perf_counter() - started < 3.0
    message = err.value.user_message()
    assert "were not found" in message and "python -m geofm weights download" in message
    assert sum(hub.gets.values()) == 0


def test_operator_can_turn_first_use_downloads_off(hub, monkeypatch):
    monkeypatch.setenv("GEOFM_AUTO_DOWNLOAD", "0")
    with pytest.raises(WeightsNotFoundError):
        download.ensure_weights(FLOOD)
    assert sum(hub.gets.values()) == 0 and sum(hub.heads.values()) == 0


def test_pipeline_reports_the_download_as_a_stage(hub):
    from geofm.pipeline import ensure_model_weights

    notes: list[tuple[str, str, float | None]] = []
    path = ensure_model_weights("flood", progress=lambda s, m, f=None: notes.append((s, m, f)))
    assert path.read_bytes() == BODY
    assert {s for s, _, _ in notes} == {"weights"}
    assert notes[0][2] == 0.0 and notes[-1][2] == 1.0
    assert notes[-1][1] == f"Downloading the {FLOOD.title} weights (once): 25 of 25 MB"
    assert any(m.endswith("of 25 MB") and 0 < f < 1 for _, m, f in notes)


def test_cli_weights_download_draws_a_progress_bar(hub, capsys):
    assert main(["weights", "download", "flood"]) == 0
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert lines[0].startswith("geofm: [........................] Downloading the") and "0 of 25 MB" in lines[0]
    assert lines[-1].startswith("geofm: [########################]") and lines[-1].endswith("25 of 25 MB")
    assert out.strip().splitlines()[-1].endswith(FLOOD.filename)
    assert hub.gets[f"{FLOOD.hf_repo}/{FLOOD.filename}"] == 1


def test_task_page_says_the_model_comes_on_the_first_run_when_online(hub, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("GEOFM_PRELOAD", "none")
    monkeypatch.setenv("GEOFM_WEIGHTS_DIR", str(tmp_path / "empty"))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/2_Flood.py")
    at.run()
    assert not at.exception
    notes = [i.value for i in at.info if "downloaded on the first run" in i.value]
    assert notes == [f"The {FLOOD.title} model (about {FLOOD.size_mb:,} MB) is downloaded on the first run, "
                     "once for everyone; the progress shows here."]
    assert not [w.value for w in at.warning if FLOOD.filename in w.value]  # not today's "not found" warning
    assert sum(hub.gets.values()) == 0  # nothing is fetched before a run asks for it
