"""Model fixtures: synthetic checkpoints in the published layouts (see ``tests/checkpoints.py``)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from geofm.config import MODELS, ModelSpec, SegmenterConfig, ViTConfig
from tests.cache import ROOT, cached_folder, linked_copy
from tests.checkpoints import (tiny_upernet, write_mae_checkpoint, write_mmseg_checkpoint, write_published,
                               write_terratorch_published)

#: What the published files and their ready copies are made from: a change to any of these builds them again.
_SOURCES = [ROOT / "tests" / "checkpoints.py", ROOT / "geofm/config/models.py"]
_READY_SOURCES = [*_SOURCES, *sorted((ROOT / "geofm" / "models").glob("*.py")), ROOT / "geofm" / "digest.py"]


def _with_ready_copies(published: Path, work: Path) -> None:
    """``published`` linked into ``work``, plus each model's ready copy (``*.geofm.safetensors``) written by
    the product's own first load."""
    from geofm.models.prepared import load_ready_model

    linked_copy(published, work)
    for spec in MODELS.values():
        if (work / spec.filename).is_file():
            load_ready_model(spec, weights_dir=work)


def published_weights_cache() -> Path:
    """~/.cache/geofm-tests/published-weights-ready-<hash>: the published files and their ready copies, built once
    per content of their generators and of ``geofm/models`` (a stale copy would be rebuilt by the product anyway)."""
    built = cached_folder("published-weights", _SOURCES, write_published, extra=torch.__version__)
    return cached_folder("published-weights-ready", _READY_SOURCES, lambda work: _with_ready_copies(built, work),
                         extra=torch.__version__)


def link_published_model(model: str, folder: Path) -> Path:
    """Hard-link one model's published-layout file and its ready copy from the cache into ``folder``."""
    from geofm.config import MODELS

    folder.mkdir(parents=True, exist_ok=True)
    for f in published_weights_cache().glob(MODELS[model].filename + "*"):
        os.link(f, folder / f.name)
    return folder


@pytest.fixture(scope="session")
def published_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the task models' files under their published names, full size, random (seeded), and their
    ready copies.

    Generated once per content of the generators (tests/checkpoints.py, the model registry, geofm/models, torch's
    version) into ~/.cache/geofm-tests and hard-linked into a fresh folder per session: a test may add or replace
    files there (the product replaces a copy by renaming a new file over it) without touching the cache.
    """
    return linked_copy(published_weights_cache(), tmp_path_factory.mktemp("published_weights"))


# --------------------------------------------------------------------------------------------------
# Tiny EO-1.0 models: the published window geometry, a small width and depth (plumbing tests)
# --------------------------------------------------------------------------------------------------

#: The four EO-1.0 models the tiny fixture replaces (the EO-2.0 fine-tunes are tiny in both folders).
TINY_MODELS = ("prithvi-eo-1.0-100m", "prithvi-eo-1.0-100m-sen1floods11", "prithvi-eo-1.0-100m-burn-scar",
               "prithvi-eo-1.0-100m-multi-temporal-crop")
#: Seeds of the tiny files (as ``write_published`` seeds the full-size ones).
TINY_SEEDS = {"prithvi-eo-1.0-100m": 0, "prithvi-eo-1.0-100m-sen1floods11": 1,
              "prithvi-eo-1.0-100m-multi-temporal-crop": 2, "prithvi-eo-1.0-100m-burn-scar": 3}
_TINY_CLASSES = {"prithvi-eo-1.0-100m-sen1floods11": (0, 1),
                 "prithvi-eo-1.0-100m-multi-temporal-crop": tuple(range(1, 14)),
                 "prithvi-eo-1.0-100m-burn-scar": ("Unburnt land", "Burn scar")}
_TINY_SOURCES = [*_READY_SOURCES, ROOT / "tests" / "fixtures_models.py"]


def tiny_arch(arch: ViTConfig | SegmenterConfig) -> ViTConfig | SegmenterConfig:
    """``arch`` with its image size, patch size, frames, bands, LayerNorm eps and classes, at a small width and
    depth: a 224-px window costs a few milliseconds instead of 0.4-2.5 s."""
    small = dict(embed_dim=48, depth=2, num_heads=3)
    if isinstance(arch, ViTConfig):  # the MAE: a small decoder too
        return dataclasses.replace(arch, **small, decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=4)
    enc = dataclasses.replace(arch.encoder, **small)
    return dataclasses.replace(arch, encoder=enc, neck_channels=enc.embed_dim * enc.num_frames, head_channels=16)


def tiny_specs() -> dict[str, ModelSpec]:
    """The registry entries of the four EO-1.0 models with their tiny architectures (nothing else changed)."""
    return {name: dataclasses.replace(MODELS[name], arch=tiny_arch(MODELS[name].arch)) for name in TINY_MODELS}


def write_tiny_published(folder: Path) -> Path:
    """The tiny EO-1.0 files under their published names and layouts (plus the tiny EO-2.0 fine-tunes, as in
    ``write_published``), and each ready copy written by the product's own first load of the tiny spec."""
    from geofm.models.prepared import load_ready_model

    folder.mkdir(parents=True, exist_ok=True)
    for name, spec in tiny_specs().items():
        if spec.checkpoint_layout == "mae":
            write_mae_checkpoint(folder / spec.filename, spec.arch, TINY_SEEDS[name])
        else:
            write_mmseg_checkpoint(folder / spec.filename, spec.arch, TINY_SEEDS[name], classes=_TINY_CLASSES[name])
        load_ready_model(spec, weights_dir=folder)
    write_terratorch_published(folder, "prithvi-eo-2.0-300m-tl-sen1floods11", tiny_upernet(), 4)
    write_terratorch_published(folder, "prithvi-eo-2.0-300m-burn-scars", tiny_upernet(), 5)
    return folder


def tiny_weights_cache() -> Path:
    """~/.cache/geofm-tests/tiny-weights-<hash>: built once per content of its generators."""
    return cached_folder("tiny-weights", _TINY_SOURCES, write_tiny_published, extra=torch.__version__)


@pytest.fixture(scope="session")
def _tiny_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return linked_copy(tiny_weights_cache(), tmp_path_factory.mktemp("tiny_weights"))


@pytest.fixture
def tiny_models(_tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """For one test, the four EO-1.0 registry entries with tiny architectures (same 224-px windows, 16-px
    patches, frames, bands and classes) and a folder of their files in the published layouts and names.

    For plumbing tests (chunking, outputs, evaluation, pages) that run the model in this process; a subprocess
    sees the full-size registry. The models loaded while the registry was patched leave the process's model
    cache with the test (the cache is keyed by name, weights file and device; these files are tiny, but a test
    may link them into a folder of its own), so nothing tiny outlives it.
    """
    from geofm.inference import model_cache

    with model_cache._LOCK:
        before = set(model_cache._CACHE)
    for name, spec in tiny_specs().items():
        monkeypatch.setitem(MODELS, name, spec)
    yield _tiny_weights_dir
    with model_cache._LOCK:
        for key in set(model_cache._CACHE) - before:
            del model_cache._CACHE[key]
