"""Safe, strict checkpoint loading: published layouts load; wrong, damaged or unsafe files are refused."""

from __future__ import annotations

import os
import pickletools
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from geofm.config import MODELS
from geofm.errors import CheckpointError
from geofm.models import create_model, load_model
from geofm.models.checkpoints import load_checkpoint, read_checkpoint
from geofm.models.pos_embed import sincos_3d
from tests.checkpoints import (mae_state_dict, mmseg_state_dict, tiny_segmenter, tiny_vit, write_mae_checkpoint,
                               write_mmseg_checkpoint)

MAE_CFG = tiny_vit()
SEG_CFG = tiny_segmenter(num_frames=3, num_classes=5)


def _pickle_globals(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as z:
        data = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    return {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


@pytest.mark.parametrize("flat", [False, True])
def test_mae_layouts_load_strictly(tmp_path: Path, flat: bool) -> None:
    path = write_mae_checkpoint(tmp_path / "mae.pt", MAE_CFG, seed=3, flat=flat)
    model = create_model("reconstruct", arch=MAE_CFG)
    report = load_checkpoint(model, path, "mae")
    expected = mae_state_dict(MAE_CFG, seed=3)
    assert report.loaded == len(expected) == len(model.state_dict())
    assert any("flat" in n for n in report.notes) == flat
    for key in ("encoder.blocks.1.attn.qkv.weight", "decoder.mask_token", "decoder.decoder_pred.bias"):
        assert torch.equal(model.state_dict()[key], expected[key])


def test_mmseg_wrapper_loads_and_drops_auxiliary_head(tmp_path: Path) -> None:
    path = write_mmseg_checkpoint(tmp_path / "seg.pth", SEG_CFG, seed=4, classes=tuple(range(1, 6)))
    assert "numpy.core.multiarray scalar" in _pickle_globals(path)  # the mmcv-era global, as published
    obj = read_checkpoint(path)
    assert set(obj) == {"meta", "state_dict", "optimizer"}
    assert obj["meta"]["CLASSES"] == (1, 2, 3, 4, 5)
    best = obj["meta"]["hook_msgs"]["best_score"]
    assert isinstance(best, np.float64) and best == np.float64(0.5906)
    model = create_model("crops", arch=SEG_CFG)
    report = load_checkpoint(model, path, "segmenter")
    assert "dropped 14 auxiliary_head tensors (training only)" in report.notes
    expected = mmseg_state_dict(SEG_CFG, seed=4)
    sd = model.state_dict()
    assert sd["decode_head.convs.0.bn.num_batches_tracked"].dtype == torch.int64
    for key in ("neck.fpn2.3.weight", "decode_head.convs.0.bn.running_var", "backbone.blocks.0.mlp.fc2.weight"):
        assert torch.equal(sd[key], expected[key])


def test_module_prefix_and_safetensors(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    sd = {"module." + k: v.contiguous() for k, v in mae_state_dict(MAE_CFG, seed=1).items()}
    path = tmp_path / "mae.safetensors"
    save_file(sd, str(path))
    model = create_model("reconstruct", arch=MAE_CFG)
    report = load_checkpoint(model, path, "mae")
    assert "stripped the 'module.' prefix" in report.notes
    assert torch.equal(model.encoder.cls_token, sd["module.encoder.cls_token"])


def test_pos_embed_of_another_grid_is_recomputed(tmp_path: Path) -> None:
    path = write_mae_checkpoint(tmp_path / "mae.pt", MAE_CFG)  # T=2 tables
    one_frame = tiny_vit(num_frames=1)
    model = create_model("reconstruct", arch=one_frame)
    report = load_checkpoint(model, path, "mae")
    assert any("recomputed encoder.pos_embed" in n for n in report.notes)
    assert torch.equal(model.encoder.pos_embed, sincos_3d(32, (1, 4, 4)))


def _save_and_load(tmp_path: Path, sd: dict) -> CheckpointError:
    path = tmp_path / "bad.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(create_model("reconstruct", arch=MAE_CFG), path, "mae")
    assert str(path) in str(info.value)
    return info.value


def test_missing_key_is_named(tmp_path: Path) -> None:
    sd = mae_state_dict(MAE_CFG)
    del sd["encoder.blocks.1.norm2.bias"]
    err = _save_and_load(tmp_path, sd)
    assert "missing keys (1): encoder.blocks.1.norm2.bias" in str(err)


def test_unexpected_keys_are_named_with_count(tmp_path: Path) -> None:
    sd = mae_state_dict(MAE_CFG)
    for i in range(7):
        sd[f"encoder.extra.{i}"] = torch.zeros(1)
    err = _save_and_load(tmp_path, sd)
    assert "unexpected keys (7): encoder.extra.0" in str(err) and "and 2 more" in str(err)


def test_misshaped_key_is_named(tmp_path: Path) -> None:
    sd = mae_state_dict(MAE_CFG)
    sd["encoder.norm.weight"] = torch.ones(33)
    err = _save_and_load(tmp_path, sd)
    assert "encoder.norm.weight (33,) vs (32,)" in str(err)


def test_segmenter_file_into_mae_is_refused(tmp_path: Path) -> None:
    path = write_mmseg_checkpoint(tmp_path / "seg.pth", SEG_CFG)
    with pytest.raises(CheckpointError, match="does not match the PrithviMAE"):
        load_checkpoint(create_model("reconstruct", arch=MAE_CFG), path, "mae")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_file_is_refused_naming_the_file(tmp_path: Path, damage: str) -> None:
    path = write_mae_checkpoint(tmp_path / "mae.pt", MAE_CFG)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": os.urandom(4096), "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="corrupt or truncated") as info:
        load_checkpoint(create_model("reconstruct", arch=MAE_CFG), path, "mae")
    assert str(path) in str(info.value)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.pt")


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {self.marker}",))


def test_pickle_with_disallowed_global_is_refused_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"encoder.cls_token": torch.zeros(1)}, "x": _Exploit(marker)}, path)
    assert any("system" in g for g in _pickle_globals(path))
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    assert f"{os.system.__module__}.system" in str(info.value)
    assert str(info.value).startswith("Refusing to unpickle") and str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_protocol4_pickle_with_exploit_is_refused_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / "evil4.pt"
    torch.save({"x": _Exploit(marker)}, path, pickle_protocol=4)  # STACK_GLOBAL/FRAME: unsupported, refused
    with pytest.raises(CheckpointError, match="can be read safely"):
        read_checkpoint(path)
    assert not marker.exists()


def test_other_numpy_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "array.pt"
    torch.save({"meta": {"scores": np.arange(3.0)}, "state_dict": {}}, path)  # ndarray reconstruct: not allowed
    with pytest.raises(CheckpointError, match="Refusing to unpickle numpy"):
        read_checkpoint(path)


# ---------------------------------------------------------------------------------------------------------
# Full size: the three published files (session fixture) and the old flat MAE file
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("task,n_file,n_model", [("reconstruct", 254, 254), ("flood", 184, 170),
                                                  ("crops", 112, 98)])
def test_published_files_load_strictly_full_size(published_weights_dir: Path, task: str, n_file: int,
                                                 n_model: int) -> None:
    spec = MODELS[{"reconstruct": "prithvi-eo-1.0-100m", "flood": "prithvi-eo-1.0-100m-sen1floods11",
                   "crops": "prithvi-eo-1.0-100m-multi-temporal-crop"}[task]]
    path = published_weights_dir / spec.filename
    obj = read_checkpoint(path)
    sd = obj["state_dict"] if spec.checkpoint_layout == "mmseg" else obj
    assert len(sd) == n_file
    model = load_model(task, weights_dir=published_weights_dir)
    own = model.state_dict()
    assert len(own) == n_model
    prefix = "encoder." if task == "reconstruct" else "backbone."
    assert own[prefix + "pos_embed"].shape == sd[prefix + "pos_embed"].shape
    assert torch.equal(own[prefix + "blocks.5.attn.qkv.weight"], sd[prefix + "blocks.5.attn.qkv.weight"])
    if task == "crops":
        assert own["neck.fpn1.0.weight"].shape == (2304, 2304, 2, 2)
        assert own["decode_head.conv_seg.weight"].shape == (13, 256, 1, 1)
        assert len(model.backbone.blocks) == 6 and model.backbone.blocks[0].attn.num_heads == 8


@pytest.mark.slow
def test_old_flat_mae_file_loads_under_its_alias_name(tmp_path: Path) -> None:
    spec = MODELS["prithvi-eo-1.0-100m"]
    write_mae_checkpoint(tmp_path / "Prithvi_100M.pt", spec.arch, seed=9, flat=True)
    model = load_model(spec, weights_dir=tmp_path)
    flat = read_checkpoint(tmp_path / "Prithvi_100M.pt")
    assert len(flat) == 254 and "decoder_pos_embed" in flat and "blocks.11.mlp.fc2.bias" in flat
    assert torch.equal(model.decoder.decoder_blocks[7].mlp.fc1.weight, flat["decoder_blocks.7.mlp.fc1.weight"])
    assert torch.equal(model.encoder.patch_embed.proj.weight, flat["patch_embed.proj.weight"])
