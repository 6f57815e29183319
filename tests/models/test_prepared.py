"""The ready copy of a checkpoint (folded, safetensors): written once, verified by checksum, rebuilt when stale."""

from __future__ import annotations

import dataclasses
import os
import pickle

import torch

from geofm.config import MODELS
from geofm.models.fold import FoldedUpsampleHead, fold_segmenter
from geofm.models.prepared import (SUFFIX, LoadTimes, load_ready_model, prepared_path, read_metadata,
                                   sha256_file)
from geofm.models.weights import load_model
from tests.checkpoints import tiny_segmenter, tiny_vit, write_mae_checkpoint, write_mmseg_checkpoint

FLOOD = dataclasses.replace(MODELS["prithvi-eo-1.0-100m-sen1floods11"], arch=tiny_segmenter(num_classes=2))
MAE = dataclasses.replace(MODELS["prithvi-eo-1.0-100m"], arch=tiny_vit(num_frames=3))


def _flood_file(folder, seed=0):
    return write_mmseg_checkpoint(folder / FLOOD.filename, FLOOD.arch, seed, classes=(0, 1))


def _logits(model, seed=0):
    x = torch.randn(2, 6, 1, 64, 64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model(x)


def test_first_load_writes_the_folded_copy_and_the_next_load_uses_it(tmp_path):
    source = _flood_file(tmp_path)
    first = LoadTimes()
    model = load_ready_model(FLOOD, weights_dir=tmp_path, times=first)
    assert first.prepared == "written" and {"checksum", "weights", "fold", "write copy"} <= set(first.seconds)
    copy = tmp_path / (FLOOD.filename + SUFFIX)
    assert copy.is_file()
    meta = read_metadata(copy)
    assert meta["source_sha256"] == sha256_file(source) and meta["model"] == FLOOD.name and meta["folded"] == "1"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # atomic: no leftovers

    second = LoadTimes()
    again = load_ready_model(FLOOD, weights_dir=tmp_path, times=second)
    assert second.prepared == "used" and "fold" not in second.seconds
    assert isinstance(again.decode_head, FoldedUpsampleHead)
    reference = fold_segmenter(load_model(FLOOD, weights_dir=tmp_path), inplace=True)
    expected = _logits(reference)
    assert expected.shape == (2, 2, 64, 64)
    torch.testing.assert_close(_logits(again), expected, rtol=0, atol=0)
    torch.testing.assert_close(_logits(model), expected, rtol=0, atol=0)


def test_changed_source_rebuilds_the_copy(tmp_path):
    _flood_file(tmp_path, seed=0)
    old = _logits(load_ready_model(FLOOD, weights_dir=tmp_path))
    source = _flood_file(tmp_path, seed=7)  # new weights under the same name
    times = LoadTimes()
    new = load_ready_model(FLOOD, weights_dir=tmp_path, times=times)
    assert times.prepared == "stale"
    assert read_metadata(tmp_path / (FLOOD.filename + SUFFIX))["source_sha256"] == sha256_file(source)
    expected = _logits(fold_segmenter(load_model(FLOOD, weights_dir=tmp_path), inplace=True))
    torch.testing.assert_close(_logits(new), expected, rtol=0, atol=0)
    assert not torch.equal(_logits(new), old)


def test_a_copy_that_is_not_safetensors_is_never_unpickled(tmp_path, monkeypatch):
    _flood_file(tmp_path)
    copy = tmp_path / (FLOOD.filename + SUFFIX)

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    copy.write_bytes(pickle.dumps(Boom()))
    times = LoadTimes()
    load_ready_model(FLOOD, weights_dir=tmp_path, times=times)
    assert times.prepared == "damaged" and not (tmp_path / "pwned").exists()
    assert read_metadata(copy)["folded"] == "1"  # replaced by a real copy


def test_mae_copy_is_plain_and_read_only_folders_use_the_cache(tmp_path, monkeypatch):
    weights = tmp_path / "ro"
    weights.mkdir()
    write_mae_checkpoint(weights / MAE.filename, MAE.arch, seed=3)
    monkeypatch.setenv("GEOFM_CACHE_DIR", str(tmp_path / "cache"))
    weights.chmod(0o555)
    try:
        if os.access(weights, os.W_OK):  # root ignores permissions: pretend the folder is read-only
            monkeypatch.setattr("geofm.models.prepared._writable", lambda folder: folder != weights)
        times = LoadTimes()
        model = load_ready_model(MAE, weights_dir=weights, times=times)
        target = prepared_path(weights / MAE.filename, sha256_file(weights / MAE.filename))
        assert target.parent == tmp_path / "cache" / "prepared" and target.is_file()
        assert read_metadata(target)["folded"] == "0" and times.prepared == "written"
        times = LoadTimes()
        again = load_ready_model(MAE, weights_dir=weights, times=times)
        assert times.prepared == "used"
        for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
            assert torch.equal(a, b), k
    finally:
        weights.chmod(0o755)


def test_unwritable_copy_is_not_fatal(tmp_path, monkeypatch):
    _flood_file(tmp_path)

    def refuse(*a, **k):  # noqa: ANN002, ANN003
        raise PermissionError("read-only file system")

    monkeypatch.setattr("geofm.models.prepared.write_prepared", refuse)
    times = LoadTimes()
    model = load_ready_model(FLOOD, weights_dir=tmp_path, times=times)
    assert times.prepared == "unwritable" and isinstance(model.decode_head, FoldedUpsampleHead)
    assert not (tmp_path / (FLOOD.filename + SUFFIX)).exists()
