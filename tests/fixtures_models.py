"""Model fixtures: synthetic checkpoints in the published layouts (see ``tests/checkpoints.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.cache import ROOT, cached_folder, linked_copy
from tests.checkpoints import write_published


@pytest.fixture(scope="session")
def published_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the task models' files under their published names, full size, random (seeded).

    Generated once per content of the generator (tests/checkpoints.py, the model registry, torch's version) into
    ~/.cache/geofm-tests and linked into a fresh folder per session (ready copies written beside them stay there).
    """
    built = cached_folder("published-weights", [ROOT / "tests" / "checkpoints.py", ROOT / "geofm/config/models.py"],
                          write_published, extra=torch.__version__)
    return linked_copy(built, tmp_path_factory.mktemp("published_weights"))
