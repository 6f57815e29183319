"""Every example (geofm/examples.py) and the README's offline recipes run end to end against the stand-in, as
written: search -> scenes -> model -> result (issue 19, point 2), through the app's own run path."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from geofm.config import CLASS_NODATA, TASKS, get_task
from geofm.data import AOI, search_hls
from geofm.data.select import thirds
from geofm.examples import EXAMPLES
from geofm.serve.geocode import parse_coordinates
from geofm.serve.queue import JobQueue
from geofm.serve.runs import ResultCache, RunRequest, run_area
from geofm.stack import ReconstructionResult, SegmentationResult

pytestmark = pytest.mark.slow
README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.fixture
def env(standin, tiny_models, monkeypatch):
    """The stand-in and the tiny models: these tests check search -> scenes -> model -> result, not the maps."""
    monkeypatch.setenv("GEOFM_WEIGHTS_DIR", str(tiny_models))
    return standin


def _box(w: float, s: float, e: float, n: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def run_end_to_end(task: str, bounds: tuple[float, float, float, float], start: str, end: str, max_cloud: float):
    """Search as the Explore page does, then the task's run as the task page does; checks what came back."""
    aoi = AOI.from_bbox(*bounds)
    found = search_hls(aoi, start, end, max_cloud=max_cloud)
    assert found, f"{task}: no scenes for {bounds} {start}..{end}"
    request = RunRequest.for_area(task, _box(*bounds), start, end, max_cloud=max_cloud)
    outcome = run_area(request, cache=ResultCache(), queue=JobQueue())
    spec = get_task(task)
    days = sorted({s.date for s in outcome.scenes})
    assert all(date.fromisoformat(start) <= d <= date.fromisoformat(end) for d in days)
    assert {s.id for s in outcome.scenes} <= {s.id for s in found}
    want_dates = spec.date_span()[0]
    assert outcome.stack.num_frames == want_dates and len(days) == want_dates
    height, width = outcome.stack.shape
    assert height > 20 and width > 20
    assert outcome.stack.valid.mean() > 0.3  # the chosen dates are mostly clear over the area
    result = outcome.result
    if isinstance(result, SegmentationResult):
        assert result.classes.shape == (height, width)
        labels = set(np.unique(result.classes)) - {CLASS_NODATA}
        assert labels and labels <= set(range(len(result.class_names)))
    else:
        assert isinstance(result, ReconstructionResult)
        assert result.reconstructed.shape == outcome.stack.data.shape and result.mask.any()
    return outcome


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.key for e in EXAMPLES])
def test_every_example_runs_end_to_end_on_the_standin(env, example):
    outcome = run_end_to_end(example.task, example.bounds, example.start, example.end, example.max_cloud)
    if example.task == "crops":  # one date in each third of the window, as the model was trained
        windows = thirds(date.fromisoformat(example.start), date.fromisoformat(example.end))
        days = sorted({s.date for s in outcome.scenes})
        assert all(a <= d <= b for d, (a, b) in zip(days, windows))


def test_the_first_example_is_a_few_km_and_one_model_window():
    from geofm.serve.estimate import estimate_area

    first = EXAMPLES[0]
    aoi = AOI.from_bbox(*first.bounds)
    assert max(aoi.size_km) < 8
    assert estimate_area(first.task, aoi).windows == 1


def test_the_readme_app_link_is_the_first_example_and_runs(env):
    link = re.search(r"<(http://localhost:8501/\?[^>]+)>", README).group(1)
    params = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    first = EXAMPLES[0]
    bounds = tuple(float(v) for v in params["bbox"].split(","))
    assert bounds == first.bounds and params["task"] == first.task
    assert (params["start"], params["end"]) == (first.start, first.end)
    run_end_to_end(params["task"], bounds, params["start"], params["end"], float(params.get("cloud", 30)))


def test_the_readme_omaha_recipe_runs_every_task_as_written(env):
    """'type a box -95.93 41.29 -95.90 41.31 … 2022-03-01 to 2022-04-30 …; for crops … 2022-03-01 to 2022-09-30'
    at the Explore page's default cloud limit."""
    text = " ".join(README.split())
    box = re.search(r"For example `([-\d. ]+)` \(Omaha", text).group(1)
    spring = re.search(r"with the dates (\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d) gives", text).groups()
    season = re.search(r"for crops there use (\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d)", text).groups()
    place = parse_coordinates(box)
    assert place is not None
    from geofm.serve.ui import DEFAULT_QUERY

    cloud = DEFAULT_QUERY["max_cloud"]
    for task in TASKS:
        start, end = season if task == "crops" else spring
        run_end_to_end(task, place.bounds, start, end, cloud)
