"""Shared pytest set-up. Fixtures live in plugin modules, one per area of the pipeline."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach the network

pytest_plugins = [
    "tests.fixtures_models",  # checkpoints in the published layouts
    "tests.fixtures_stac",  # STAC API + COG server on 127.0.0.1
]
