"""Pinned weights: the registry's revision is used for the cache look-up and its SHA-256 is checked on load."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from geofm.config import MODELS
from geofm.errors import CheckpointError
from geofm.models import weights
from geofm.models.weights import file_sha256, find_in_hf_cache, load_model, verify_sha256
from tests.checkpoints import tiny_segmenter, write_mmseg_checkpoint
from tests.models.hf_cache import _put_in_hf_cache, isolated_env  # noqa: F401  (fixture)

BURN = MODELS["prithvi-eo-1.0-100m-burn-scar"]
PIN = "fedcba9876543210fedcba9876543210fedcba98"


def _spec_for(path: Path, **changes) -> object:  # noqa: ANN003
    return dataclasses.replace(BURN, sha256=file_sha256(path), size_bytes=path.stat().st_size, **changes)


def test_file_from_the_hf_cache_must_have_the_published_hash(isolated_env: Path) -> None:
    cfg = tiny_segmenter(num_classes=2)
    path = _put_in_hf_cache(isolated_env, BURN.hf_repo, BURN.filename, lambda p: write_mmseg_checkpoint(p, cfg, 1))
    assert find_in_hf_cache(BURN) == path  # pinned revision not cached: falls back to main, the hash decides
    with pytest.raises(CheckpointError, match="is incomplete") as err:  # the size is checked first
        load_model(BURN, arch=cfg)
    assert "geofm weights download prithvi-eo-1.0-100m-burn-scar" in err.value.user_message()
    with pytest.raises(CheckpointError, match="is not the published one") as err:  # right size, other bytes
        load_model(dataclasses.replace(BURN, size_bytes=path.stat().st_size), arch=cfg)
    assert "geofm weights download prithvi-eo-1.0-100m-burn-scar" in err.value.user_message()
    good = _spec_for(path)
    assert not load_model(good, arch=cfg).training  # the right hash loads
    verify_sha256(good, path)  # checked once per process: the second call is a cache hit


def test_pinned_revision_is_looked_up_first(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    import huggingface_hub

    def fake(repo, filename, *, revision=None, **kw):  # noqa: ANN001, ANN003
        seen.append((repo, revision))
        raise FileNotFoundError(filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake)
    assert find_in_hf_cache(dataclasses.replace(BURN, revision=PIN)) is None
    assert seen[:2] == [(BURN.hf_repo, PIN), (BURN.hf_repo, None)]


def test_operator_folder_files_are_not_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tiny_segmenter(num_classes=2)
    write_mmseg_checkpoint(tmp_path / BURN.filename, cfg, 1)
    monkeypatch.setattr(weights, "file_sha256", lambda p: pytest.fail("hashed an operator's file"))
    assert not load_model(BURN, weights_dir=tmp_path, arch=cfg).training
