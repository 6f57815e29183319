"""Issue 9, point 10: damaged weights (NaN/Inf, zeroed spans) are refused; every result records the checkpoint's
SHA-256 in its provenance (COG tags)."""

from __future__ import annotations

import hashlib

import pytest
import rasterio
import torch

from geofm.cli import main
from geofm.config import MODELS
from geofm.errors import CheckpointError
from geofm.models.weights import load_model
from tests.checkpoints import mae_state_dict, write_mae_checkpoint
from tests.geotiff_helpers import hls_like, write_tif

SPEC = MODELS["prithvi-eo-2.0-tiny-tl"]


def _damaged(tmp_path, how: str):
    sd = mae_state_dict(SPEC.arch, 3)
    key = next(k for k, v in sd.items() if v.dim() == 2 and v.numel() >= 20_000)
    flat = sd[key].reshape(-1)
    if how == "nan":
        flat[17] = float("nan")
    elif how == "inf":
        flat[-1] = float("inf")
    else:  # a zeroed 16 KB block, as a failed download or a bad disk leaves
        flat[1024:1024 + 4096] = 0.0
    torch.save(sd, tmp_path / SPEC.filename)
    return key


@pytest.mark.parametrize("how", ["nan", "inf", "zeros"])
def test_damaged_weights_are_refused(how, tmp_path):
    key = _damaged(tmp_path, how)
    with pytest.raises(CheckpointError) as info:
        load_model(SPEC, weights_dir=tmp_path)
    text = str(info.value)
    assert key in text and "it is damaged" in text
    assert ("NaN or infinite" in text) if how != "zeros" else ("zeroed spans" in text and "4096 zeros" in text)


def test_damaged_weights_are_one_cli_line(tmp_path, capsys):
    _damaged(tmp_path, "nan")
    scene = write_tif(tmp_path / "s.tif", hls_like(1, 40, 40)[0])
    code = main(["run", "reconstruct", "--model", SPEC.name, "--input", str(scene), "--out", str(tmp_path / "r.tif"),
                 "--weights-dir", str(tmp_path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "r.tif").exists()
    assert [line for line in err.splitlines() if line.startswith("geofm: error:")][0].endswith(
        "Delete the file and fetch it again (python -m geofm weights download <model>).")


def test_sound_weights_load_and_results_record_their_sha256(tmp_path, capsys):
    path = write_mae_checkpoint(tmp_path / SPEC.filename, SPEC.arch, seed=3)
    scene = write_tif(tmp_path / "s.tif", hls_like(1, 40, 40)[0])
    out = tmp_path / "r.tif"
    code = main(["run", "reconstruct", "--model", SPEC.name, "--input", str(scene), "--out", str(out),
                 "--weights-dir", str(tmp_path), "--device", "cpu"])
    assert code == 0, capsys.readouterr()
    with rasterio.open(out) as src:
        assert src.tags()["CHECKPOINT_SHA256"] == hashlib.sha256(path.read_bytes()).hexdigest()
