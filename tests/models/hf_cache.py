"""A Hugging Face cache laid out by hand for the weights tests: an empty, offline one per test (``isolated_env``,
autouse where a test module imports it) and a file put in it as huggingface_hub does (``_put_in_hf_cache``)."""

from __future__ import annotations

from pathlib import Path

import pytest

REV = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HF cache and no GEOFM_WEIGHTS_DIR, offline."""
    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("GEOFM_WEIGHTS_DIR", raising=False)
    return hub


def _put_in_hf_cache(hub: Path, repo: str, filename: str, write) -> Path:  # noqa: ANN001
    """Lay a file out as huggingface_hub does: models--org--name/{refs/main, snapshots/<rev>/file}."""
    root = hub / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(REV)
    snap = root / "snapshots" / REV
    snap.mkdir(parents=True)
    return write(snap / filename)
