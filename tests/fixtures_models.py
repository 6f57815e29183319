"""Model fixtures: synthetic checkpoints in the published layouts (see ``tests/checkpoints.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.checkpoints import write_published


@pytest.fixture(scope="session")
def published_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the three task models' files under their published names, full size, random (seeded)."""
    return write_published(tmp_path_factory.mktemp("published_weights"))
