"""Shared pytest set-up. Fixtures live in plugin modules, one per area of the pipeline.

The suite passes in any order: CI runs it shuffled (pytest-random-order, ``--random-order-bucket=module`` in
pyproject's addopts; the seed is printed in the header, ``--random-order-seed=N`` repeats an order) and once in
reverse (``--reverse-order``, below). Process-wide state a test could leave for the next one is set here for
the whole session, before the first test, whichever it is.
"""

import os
import sys
from collections.abc import Iterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach the network

pytest_plugins = [
    "tests.fixtures_models",  # checkpoints in the published layouts
    "tests.fixtures_stac",  # STAC API + COG server on 127.0.0.1
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reverse-order", action="store_true", default=False,
                     help="run the collected tests last to first (CI's second pass; use with "
                          "--random-order-bucket=none)")


@pytest.hookimpl(trylast=True)  # after any shuffling
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--reverse-order"):
        items.reverse()


@pytest.fixture(autouse=True)
def _empty_hf_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with an empty Hugging Face cache of its own (a test that wants one there puts its file
    in it): the developer's ~/.cache/huggingface is never searched, and a cache an earlier test filled is not
    found by the next one (huggingface_hub fixes its default folder at first import, under whichever test
    imported it first)."""
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf-hub")))


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Every test ends with the ``__main__`` module it started with. Streamlit's script runner (every AppTest)
    replaces ``sys.modules["__main__"]`` with the app script's module for good; a later test that starts Dask
    worker processes (spawned: they re-run the parent's ``__main__`` from its path) then ran that script in each
    worker — a function script of AppTest.from_function failed there and no worker started (CI reverse pass,
    four region tests after tests/serve/test_ui_presses.py)."""
    main = sys.modules.get("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


@pytest.fixture(scope="session", autouse=True)
def _session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The stack cache of every test is a session tmp folder, from the first test on, whichever runs first
    (it was set only when the STAC stand-in started: tests before it used ~/.cache/geofm)."""
    saved = os.environ.get("GEOFM_CACHE_DIR")
    os.environ["GEOFM_CACHE_DIR"] = str(tmp_path_factory.mktemp("geofm-cache"))
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("GEOFM_CACHE_DIR", None)
        else:
            os.environ["GEOFM_CACHE_DIR"] = saved
