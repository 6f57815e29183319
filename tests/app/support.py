"""What the AppTest page tests share: the app, the small areas and dates they run on, the ``env`` and
``model_calls`` fixtures (registered for tests/app/ by its conftest.py) and the helpers that start the app,
switch pages and read what a page shows."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from streamlit.testing.v1 import AppTest

from geofm import pipeline
from geofm.config import TASKS, QueueLimits
from geofm.serve.queue import gpu_queue
from geofm.serve.runs import results_cache

APP = str(Path(__file__).resolve().parents[2] / "app.py")
DRAWN = "geofm_drawn_geometry"
OUTCOMES = "geofm_outcomes"
TIMEOUT = 300


def box(w: float, s: float, e: float, n: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


# about 2.5 x 2.2 km on the Missouri at Omaha, and 2.5 x 2.2 km of fields near Fremont
OMAHA_SMALL = box(-95.93, 41.29, -95.90, 41.31)
FREMONT_SMALL = box(-96.52, 41.42, -96.49, 41.44)
#: The window tests search when they pass no dates (the page's default is the last 90 days, where the
#: stand-in has nothing): a clear Sentinel-2 date (03-22) and a Landsat date with a cloud over Omaha (04-07).
STANDIN_DATES = (date(2022, 3, 10), date(2022, 4, 30))


@pytest.fixture
def env(standin, tiny_models, monkeypatch, tmp_path):
    """Stand-in STAC (GEOFM_STAC_URL, GEOFM_CACHE_DIR set by the fixture), the tiny models (the pages' plumbing
    in this process; the browser tests run the full-size ones), empty result cache."""
    monkeypatch.setenv("GEOFM_WEIGHTS_DIR", str(tiny_models))
    monkeypatch.setenv("GEOFM_GEOCODER_URL", "http://127.0.0.1:9/search")  # nothing listens: offline
    monkeypatch.setenv("GEOFM_PRELOAD", "none")  # no "warming up" banner among the messages checked here
    # every AppTest has the same session id: per-session limits would count all the tests as one visitor
    monkeypatch.setattr(gpu_queue(), "limits", QueueLimits(max_waiting=100, runs_per_minute=10_000,
                                                           jobs_per_session=100))
    results_cache().clear()
    yield standin
    results_cache().clear()


@pytest.fixture
def model_calls(monkeypatch):
    """Counts real model runs (the pipeline functions still run). Class-map runs go through
    ``run_segmentations`` (the app batches runs of one model together): one count per stack there."""
    calls = dict.fromkeys(TASKS, 0)
    real, real_many = pipeline.run_task, pipeline.run_segmentations

    def counted(task, *a, **kw):
        if TASKS[task].result != "classes":
            calls[task] += 1
        return real(task, *a, **kw)

    def counted_many(task, stacks, *a, **kw):
        calls[task] += len(stacks)
        return real_many(task, stacks, *a, **kw)

    monkeypatch.setattr(pipeline, "run_task", counted)
    monkeypatch.setattr(pipeline, "run_segmentations", counted_many)
    return calls


def start(geometry: dict | None = None, *, dates=None, cloud: int | None = None) -> AppTest:
    """The app on the explore page, optionally with a drawn area, dates (STANDIN_DATES with an area) and cloud
    limit."""
    if geometry is not None and dates is None:
        dates = STANDIN_DATES
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if geometry is not None:
        at.session_state[DRAWN] = geometry
        at.run()
    if dates is not None:
        at.date_input(key="w_dates").set_value(dates).run()
    if cloud is not None:
        at.slider(key="w_cloud").set_value(cloud).run()
    assert not at.exception, at.exception
    return at


def go(at: AppTest, page: str) -> AppTest:
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.error, *at.warning, *at.info, *at.success, *at.markdown, *at.caption)]
    return "\n".join(str(p) for p in parts)


def _geotiff(bands: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    profile = dict(driver="GTiff", width=bands.shape[2], height=bands.shape[1], count=bands.shape[0],
                   dtype="int16", crs="EPSG:32615", transform=Affine(30, 0, 253_000, 0, -30, 4_575_000),
                   nodata=-9999)
    with rasterio.MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(bands)
        buffer.write(mem.read())
    return buffer.getvalue()
