"""STAC/COG stand-in fixtures: a real STAC API + COG host on 127.0.0.1 (see tests/standin)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cache import ROOT, cached_folder
from tests.standin import StandIn
from tests.standin.generate import generate


@pytest.fixture(scope="session")
def stac_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    """The stand-in, started once per session on files generated once per content of its generator
    (tests/standin, numpy's and rasterio's versions) and kept in ~/.cache/geofm-tests between runs.

    Also points planetary_computer's token service at the stand-in, so no test can reach the real token
    endpoint (the stack cache's session folder is set for every test in conftest.py).
    """
    import numpy
    import rasterio

    folder = cached_folder("hls-standin", (ROOT / "tests" / "standin").glob("*.py"), generate,
                           extra=f"{numpy.__version__} {rasterio.__version__}")
    saved = {k: os.environ.get(k) for k in ("PC_SDK_SAS_URL",)}
    standin = StandIn.start(folder)
    os.environ["PC_SDK_SAS_URL"] = standin.sas_url
    from planetary_computer.settings import Settings

    settings = Settings.get()
    saved_sas = settings.sas_url
    settings.sas_url = os.environ["PC_SDK_SAS_URL"]
    try:
        yield standin
    finally:
        settings.sas_url = saved_sas
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        standin.close()


@pytest.fixture
def standin(stac_standin: StandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[StandIn]:
    """The stand-in with clean counters, no faults, fresh asset URLs and an empty stack cache for this test;
    GEOFM_STAC_URL points at it (Planetary Computer mode; ``standin.cmr_url`` is the CMR mode)."""
    stac_standin.reset()  # no faults, no latency, tokens not required, plain paging, fresh hrefs, zero counters
    monkeypatch.setenv("GEOFM_STAC_URL", stac_standin.url)
    monkeypatch.setenv("GEOFM_CACHE_DIR", str(tmp_path / "cache"))
    yield stac_standin
    stac_standin.clear_faults()
    stac_standin.restore_all()
