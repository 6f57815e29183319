"""Runs that outlive their page (background jobs found again by their request), the results kept on disk across
a restart, the time estimate before Run and the warnings before Run (issue 19: points 1, 3, 10)."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from geofm.data.scene import Scene
from geofm.serve.jobs import RunJobs, follow
from geofm.serve.progress import StageTimes
from geofm.serve.result_store import ResultStore
from geofm.serve.runs import ResultCache, RunOutcome, RunRequest
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

UTM = CRS.from_epsg(32642)
T = Affine(30.0, 0.0, 357_000.0, 0.0, -30.0, 2_937_000.0)


def _request(task: str = "flood", seed: int = 0) -> RunRequest:
    return RunRequest(task=task, geometry_json='{"type":"Polygon"}', start="2022-08-25", end="2022-09-12",
                      seed=seed)


def _scene(i: int) -> Scene:
    return Scene(id=f"HLS.L30.T42RUQ.2022240T055300.v2.{i}", datetime=datetime(2022, 8, 28, 5, 53, tzinfo=timezone.utc),
                 sensor="L30", tile="42RUQ", cloud_cover=3.0, assets={"B02": "http://x/b02.tif"}, thumbnail=None,
                 collection="hls2-l30", clear_fraction=0.9, bbox=(67.5, 26.2, 67.9, 26.6), epsg=32642,
                 transform=(30.0, 0.0, 357000.0, 0.0, -30.0, 2937000.0), shape=(960, 960))


def _outcome(request: RunRequest) -> RunOutcome:
    rng = np.random.default_rng(1)
    stack = HLSStack(rng.integers(0, 5000, (1, 6, 40, 50), dtype=np.int16), rng.random((1, 40, 50)) > 0.2, UTM, T,
                     times=[datetime(2022, 8, 28, 5, 53, tzinfo=timezone.utc)], scene_ids=[_scene(0).id])
    if request.task == "reconstruct":
        rgb = rng.integers(0, 255, (1, 40, 50, 3), dtype=np.uint8)
        result = ReconstructionResult(rgb, rgb, rgb, rng.random((1, 40, 50)) > 0.5,
                                      rng.random((1, 6, 40, 50)).astype(np.float32), UTM, T, "mae", 0.75, 3)
    else:
        result = SegmentationResult(rng.integers(0, 2, (40, 50), dtype=np.uint8), UTM, T, "flood",
                                    ("land", "water"), ((0, 0, 0), (0, 0, 255)), seconds=1.5, precision="fp32")
    return RunOutcome(request=request, result=result, stack=stack, scenes=[_scene(0)],
                      times=StageTimes({"read": 1.0, "infer": 2.0}, {"infer": "window 1 of 1"}),
                      confidence=rng.random((40, 50)).astype(np.float16) if request.task != "reconstruct" else None)


# ------------------------------------------------------------------------------------------ jobs

def test_a_second_start_of_the_same_request_joins_the_running_job_and_a_late_follower_sees_everything():
    jobs = RunJobs()
    release = threading.Event()
    calls = []

    def work(progress, visitor):
        calls.append(visitor)
        progress("read", "reading", 0.5)
        release.wait(10)
        progress("infer", "window 1 of 1", 1.0)
        return _outcome(_request())

    first = jobs.start(_request(), "flood", work, owner="tab-1")
    again = jobs.start(_request(), "flood", work, owner="tab-1")  # a second and third click
    third = jobs.start(_request(), "flood", work, owner="tab-1")
    assert first is again is third and jobs.find(_request()) is first
    time.sleep(0.2)
    release.set()
    seen: list[tuple] = []
    follow(first, lambda *e: seen.append(e))  # a page that comes later (a reload) replays it all
    assert first.finished and first.outcome is not None and first.error is None
    assert seen == [("read", "reading", 0.5), ("infer", "window 1 of 1", 1.0)]
    assert len(calls) == 1 and calls[0].id == "tab-1"
    later = jobs.start(_request(), "flood", work, owner="tab-1")  # after it ended, Run runs again
    later.done.wait(10)
    assert later is not first and len(calls) == 2


def test_a_job_leaves_the_line_only_when_no_page_has_followed_it_for_the_grace_period():
    jobs = RunJobs()
    alive = []
    gate = threading.Event()

    def work(progress, visitor):
        gate.wait(10)
        alive.append(visitor.alive())
        return _outcome(_request())

    job = jobs.start(_request(), "flood", work)
    job.grace_s = 0.3
    job.watch()
    assert job.watched()
    time.sleep(0.4)
    assert not job.watched()  # nobody looked (the tab was closed)
    job.watch()  # a reload follows it again
    gate.set()
    job.done.wait(10)
    assert alive == [True]


def test_a_failed_job_reports_its_message():
    from geofm.errors import AllCloudyError

    jobs = RunJobs()

    def work(progress, visitor):
        raise AllCloudyError("The clearest scene over the area is only 2% clear.")

    job = jobs.start(_request(), "flood", work)
    follow(job, lambda *e: None)
    assert job.outcome is None and job.user_error() == "The clearest scene over the area is only 2% clear."


# ------------------------------------------------------------------------------------------ results on disk

@pytest.mark.parametrize("task", ["flood", "reconstruct"])
def test_results_survive_a_restart_and_are_checked_on_read(tmp_path, task):
    request = _request(task)
    before = ResultCache(maxsize=4, store=ResultStore(tmp_path))
    original = _outcome(request)
    before.put(original)
    after = ResultCache(maxsize=4, store=ResultStore(tmp_path))  # a new server process
    got = after.get(request)
    assert got is not None and got.request == request
    for name in ("classes", "reconstructed", "mask", "original_rgb"):
        if hasattr(original.result, name):
            assert np.array_equal(getattr(got.result, name), getattr(original.result, name))
    assert np.array_equal(got.stack.data, original.stack.data) and np.array_equal(got.stack.valid,
                                                                                  original.stack.valid)
    assert got.stack.crs == UTM and got.stack.transform == T and got.result.transform == T
    assert got.scenes[0].id == original.scenes[0].id and got.scenes[0].shape == (960, 960)
    assert got.times.seconds == {"read": 1.0, "infer": 2.0}
    if original.confidence is not None:
        assert np.array_equal(got.confidence, original.confidence)
    assert after.get(_request(task, seed=9)) is None  # another request: nothing

    # a damaged entry is dropped (and the run is made again), never shown
    path = next((tmp_path / "results").glob("*.npz"))
    path.write_bytes(path.read_bytes()[:-100])
    assert ResultCache(store=ResultStore(tmp_path)).get(request) is None and not path.exists()


def test_the_results_folder_is_bounded_and_written_atomically(tmp_path):
    store = ResultStore(tmp_path, max_bytes=1)  # room for the newest entry only
    cache = ResultCache(maxsize=8, store=store)
    for seed in range(3):
        cache.put(_outcome(_request(seed=seed)))
        time.sleep(0.01)
    files = list((tmp_path / "results").iterdir())
    assert len(files) == 1 and not any(p.name.startswith(".") for p in files)
    assert ResultCache(store=ResultStore(tmp_path)).get(_request(seed=2)) is not None


# ------------------------------------------------------------------------------------------ estimate

def test_the_estimate_is_windows_over_the_measured_rate_plus_reading(tmp_path, monkeypatch):
    from geofm.serve import estimate as est

    monkeypatch.setenv("GEOFM_CACHE_DIR", str(tmp_path))
    first = est.estimate_run("flood", 200, 200)
    assert first.windows == 1 and not first.measured and "first guess" in first.text()
    est.learn("flood", 448, 448, {"search": 0.5, "read": 1.5, "infer": 9.0})  # 9 windows in 9 s: 1 window/s
    measured = est.estimate_run("flood", 448, 448)
    assert measured.measured and measured.windows == 9
    assert measured.windows_per_s == pytest.approx(1.0) and measured.read_s == pytest.approx(2.0)
    assert measured.seconds == pytest.approx(11.0) and not measured.long
    assert "measured here" in measured.text() and "9 model windows" in measured.text()
    big = est.estimate_run("flood", 1700, 1700)  # 15 x 15 windows at 1 window/s: over a minute, said so
    assert big.windows == 225 and big.long and est.duration(big.seconds) == "4 min"
    est.learn("flood", 448, 448, {"read": 2.0, "infer": 3.0})  # newer runs move it (EWMA)
    assert est.estimate_run("flood", 448, 448).windows_per_s == pytest.approx(0.5 * 1.0 + 0.5 * 3.0)
    assert (Path(tmp_path) / "run-rates.json").exists()


def test_time_left_follows_the_models_own_pace_once_it_runs():
    from geofm.serve.estimate import Estimate, remaining_s

    e = Estimate("flood", 10, 0.5, 4.0, "CPU", True)
    assert remaining_s(e, 1.0, "read", None, 1.0) == pytest.approx(23.0)
    assert remaining_s(e, 10.0, "infer", 0.0, 0.0) == pytest.approx(20.0)
    assert remaining_s(e, 15.0, "infer", 0.0, 5.0) == pytest.approx(15.0)  # no window done yet: it counts down
    assert remaining_s(e, 30.0, "infer", 0.5, 12.0) == pytest.approx(12.0)


# ------------------------------------------------------------------------------------------ before Run

def _day(d: date, clear: float, i: int) -> tuple[list, float]:
    s = _scene(i)
    s.datetime = datetime(d.year, d.month, d.day, 17, tzinfo=timezone.utc)
    return [s], clear


def test_warnings_before_run_for_crops_dates_and_cloudy_picks():
    from geofm.serve.preflight import run_warnings

    start, end = date(2022, 3, 1), date(2022, 4, 30)
    days = [_day(date(2022, 3, 14), 0.0, 1), _day(date(2022, 3, 22), 1.0, 2), _day(date(2022, 4, 7), 0.6, 3)]
    notes = run_warnings("crops", days, (), start, end)
    assert len(notes) == 2 and "early third (2022-03-01 to 2022-03-20)" in notes[0]
    assert "late third (2022-04-11 to 2022-04-30)" in notes[1]
    assert run_warnings("flood", days, (), start, end) == []
    picked = run_warnings("crops", days, (days[1][0][0].id, days[2][0][0].id), start, end)
    assert picked == ["Crop classification needs 3 dates; you selected 2. Select the dates on the Explore page (or "
                      "clear the selection to let geofm choose)."]
    cloudy = run_warnings("flood", days, (days[0][0][0].id,), start, end)
    assert cloudy and "2022-03-14 is all cloud" in cloudy[0]
    assert "only 0% clear" in run_warnings("flood", days[:1], (), start, end)[0]
