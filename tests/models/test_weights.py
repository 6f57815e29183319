"""Weight look-up (folder, $GEOFM_WEIGHTS_DIR, Hugging Face cache), offline download errors, CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from geofm.cli import main
from geofm.config import MODELS
from geofm.errors import ServiceError, WeightsNotFoundError
from geofm.models import download_weights, load_model, resolve_weights
from geofm.models.pos_embed import sincos_3d
from tests.checkpoints import tiny_segmenter, tiny_vit, write_mae_checkpoint, write_mmseg_checkpoint
from tests.models.hf_cache import _put_in_hf_cache, isolated_env  # noqa: F401  (autouse fixture)

MAE = MODELS["prithvi-eo-1.0-100m"]
FLOOD = MODELS["prithvi-eo-1.0-100m-sen1floods11"]


def test_weights_dir_then_env_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    for folder in (explicit, env):
        folder.mkdir()
        write_mae_checkpoint(folder / MAE.filename, tiny_vit())
    monkeypatch.setenv("GEOFM_WEIGHTS_DIR", str(env))
    assert resolve_weights(MAE, explicit) == explicit / MAE.filename
    assert resolve_weights("reconstruct") == env / MAE.filename
    assert resolve_weights("reconstruct", tmp_path / "empty") == env / MAE.filename


def test_alias_name_in_folder(tmp_path: Path) -> None:
    write_mae_checkpoint(tmp_path / "Prithvi_100M.pt", tiny_vit(), flat=True)
    assert resolve_weights(MAE, tmp_path) == tmp_path / "Prithvi_100M.pt"


def test_found_in_hf_cache_current_and_alias(isolated_env: Path) -> None:
    path = _put_in_hf_cache(isolated_env, FLOOD.hf_repo, FLOOD.filename,
                            lambda p: write_mmseg_checkpoint(p, tiny_segmenter()))
    assert resolve_weights("flood") == path
    old_repo, old_name = MAE.aliases[0]
    old = _put_in_hf_cache(isolated_env, old_repo, old_name,
                           lambda p: write_mae_checkpoint(p, tiny_vit(), flat=True))
    assert resolve_weights("reconstruct") == old
    model = load_model("reconstruct", arch=tiny_vit())  # flat keys from the old repo name load strictly
    assert model.encoder.pos_embed.shape == (1, 1 + 2 * 4 * 4, 32)
    one_frame = load_model("reconstruct", arch=tiny_vit(num_frames=1))  # stored T=2 tables replaced
    assert torch.equal(one_frame.encoder.pos_embed, sincos_3d(32, (1, 4, 4)))
    assert torch.equal(one_frame.decoder.decoder_pos_embed, sincos_3d(32, (1, 4, 4)))


def test_missing_weights_message_says_what_and_how() -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights("flood")
    text = info.value.user_message()
    for part in (FLOOD.name, FLOOD.filename, FLOOD.hf_repo, "python -m geofm weights download", "GEOFM_WEIGHTS_DIR"):
        assert part in text


def test_download_offline_is_a_clear_service_error() -> None:
    with pytest.raises(ServiceError, match="offline mode") as info:
        download_weights("crops")
    assert "multi_temporal_crop_classification_Prithvi_100M.pth" in str(info.value)


def test_download_returns_cached_file_without_network(isolated_env: Path) -> None:
    import dataclasses

    path = _put_in_hf_cache(isolated_env, MAE.hf_repo, MAE.filename,
                            lambda p: write_mae_checkpoint(p, tiny_vit()))
    unpinned = dataclasses.replace(MAE, sha256=None, size_bytes=0)  # a tiny stand-in, not the published file
    assert download_weights(unpinned) == path


def test_load_model_on_device_eval(tmp_path: Path) -> None:
    write_mmseg_checkpoint(tmp_path / FLOOD.filename, tiny_segmenter(), seed=2)
    model = load_model("flood", weights_dir=tmp_path, device="cpu", arch=tiny_segmenter())
    assert not model.training
    with torch.no_grad():
        assert model(torch.randn(1, 6, 1, 64, 64)).shape == (1, 3, 64, 64)


def test_cli_list_shows_found_and_missing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_mae_checkpoint(tmp_path / MAE.filename, tiny_vit())
    assert main(["weights", "list", "--weights-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    mae_block = out.split(MAE.name + " [reconstruct]")[1].split("\n")[1:3]
    assert f"found: {tmp_path / MAE.filename}" in mae_block[1]
    flood_block = out.split(FLOOD.name + " [flood]")[1].split("\n")[1:3]
    assert "found: missing" in flood_block[1]


def test_cli_download_offline_and_unknown(capsys: pytest.CaptureFixture) -> None:
    assert main(["weights", "download", "flood"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("geofm: error: Cannot download sen1floods11_Prithvi_100M.pth") and "offline" in err
    assert main(["weights", "download", "flood", "no-such-model"]) == 2
    assert "Unknown model or task 'no-such-model'" in capsys.readouterr().err


def test_download_without_a_network_says_so_within_seconds(isolated_env: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: no network to the hub
    started = time.perf_counter()
    with pytest.raises(ServiceError) as info:
        download_weights("flood")
    took = time.perf_counter() - started
    message = info.value.user_message()
    assert took < 10, took
    assert "127.0.0.1 cannot be reached (no network?)" in message and FLOOD.filename in message
    assert "not on Hugging Face under any known name" not in message


def test_hf_cache_folder_follows_the_environment_after_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub fixes its default cache folder at first import; the look-up reads the variables each time
    (a file left in the folder named at import time is not found once the variables name another)."""
    import huggingface_hub  # noqa: F401  (imported now, with whatever HF_HUB_CACHE the fixture set)

    first = tmp_path / "first"
    _put_in_hf_cache(first, FLOOD.hf_repo, FLOOD.filename, lambda p: write_mmseg_checkpoint(p, tiny_segmenter()))
    monkeypatch.setenv("HF_HUB_CACHE", str(first))
    assert resolve_weights("flood").is_relative_to(first)
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    with pytest.raises(WeightsNotFoundError):
        resolve_weights("flood")
    _put_in_hf_cache(tmp_path / "home" / "hub", FLOOD.hf_repo, FLOOD.filename,
                     lambda p: write_mmseg_checkpoint(p, tiny_segmenter()))
    assert resolve_weights("flood").is_relative_to(tmp_path / "home" / "hub")
