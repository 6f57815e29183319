"""EO-2.0 fine-tunes (TerraTorch task checkpoints): strict loading of the published layouts, the config as the
authority, and equality with TerraTorch 1.2's own modules built from the same config on the same weights."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import Tensor, nn

from geofm.config import MODELS
from geofm.errors import CheckpointError
from geofm.models.checkpoints import load_checkpoint
from geofm.models.factory import empty_model
from geofm.models.upernet import UperNetSegmenter
from geofm.models.weights import load_model
from tests.checkpoints import (
    terratorch_config,
    terratorch_model_args,
    terratorch_state_dict,
    tiny_upernet,
    write_terratorch_checkpoint,
    write_terratorch_published,
)
from tests.models.terratorch_reference import terratorch_prithvi_mae, terratorch_segmentation_parts

FLOOD = "prithvi-eo-2.0-300m-tl-sen1floods11"
BURN = "prithvi-eo-2.0-300m-burn-scars"
WRAPPER = "model.encoder._timm_module."


def _terratorch_model(cfg, sd: dict[str, Tensor]) -> nn.Module:
    """TerraTorch 1.2's arrangement of the same weights: PrithviViT, SelectIndices, ReshapeTokensToImage,
    LearnedInterpolateToPyramidal (the scale modules as a neck), UperNetDecoder, SegmentationHead."""
    tt = terratorch_segmentation_parts()
    enc = cfg.encoder
    vit = terratorch_prithvi_mae().PrithviViT(
        img_size=enc.img_size, patch_size=(1, enc.patch_size, enc.patch_size), num_frames=enc.num_frames,
        in_chans=enc.in_chans, embed_dim=enc.embed_dim, depth=enc.depth, num_heads=enc.num_heads,
        mlp_ratio=enc.mlp_ratio, coords_encoding=["time", "location"], coords_scale_learn=True)
    dims = [enc.embed_dim] * 4

    class Reference(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = vit
            self.select = tt.SelectIndices(vit.out_channels, list(cfg.indices))
            self.reshape = tt.ReshapeTokensToImage(dims)
            self.neck = tt.LearnedInterpolateToPyramidal(dims)
            self.decoder = tt.UperNetDecoder(self.neck.process_channel_list(dims), channels=cfg.channels)
            self.head = tt.SegmentationHead(cfg.channels, cfg.num_classes, dropout=cfg.head_dropout)

        def forward(self, x: Tensor, **coords: Tensor) -> Tensor:
            feats = self.neck(self.reshape(self.select(self.encoder.forward_features(x, **coords))))
            out = self.head(self.decoder(feats))
            return torch.nn.functional.interpolate(out, size=x.shape[-2:], mode="bilinear")

    ref = Reference()
    mapped = {}
    for k, v in sd.items():  # published keys -> TerraTorch 1.2's arrangement
        k = k[len("model."):]
        k = k.replace("encoder._timm_module.", "encoder.")
        if k.startswith(("decoder.fpn1.", "decoder.fpn2.")):
            k = "neck." + k[len("decoder."):]
        mapped[k] = v
    ref.load_state_dict(mapped, strict=True)
    return ref.eval()


def _inputs(cfg, n: int = 3, seed: int = 5) -> tuple[Tensor, dict[str, Tensor]]:
    g = torch.Generator().manual_seed(seed)
    size = cfg.encoder.img_size
    x = torch.randn(n, 6, 1, size, size, generator=g)
    coords = {"temporal_coords": torch.tensor([[[2021.0, 200.0]], [[2019.0, 45.0]], [[2024.0, 300.0]]])[:n],
              "location_coords": torch.tensor([[29.7, -95.4], [-3.1, 120.2], [51.5, 7.0]])[:n]}
    return x, coords


def _geofm(cfg, sd: dict[str, Tensor], tmp_path: Path, resize: int = 0) -> UperNetSegmenter:
    spec = dataclasses.replace(MODELS[FLOOD], resize=resize)
    model = empty_model(spec, cfg)
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": sd}, path)
    load_checkpoint(model, path, "terratorch")
    return model.eval()


@pytest.mark.parametrize("renamed", [False, True], ids=["timm-wrapper-layout", "renamed-layout"])
def test_published_layouts_load_strictly_and_equal_terratorch(tmp_path: Path, renamed: bool) -> None:
    cfg = tiny_upernet()
    write_terratorch_published(tmp_path, FLOOD, cfg, seed=3, renamed=renamed)
    model = load_model(FLOOD, weights_dir=tmp_path)
    assert isinstance(model, UperNetSegmenter) and model.cfg.indices == (0, 1, 2, 3)
    sd = terratorch_state_dict(cfg, seed=3)
    assert len(model.state_dict()) == len(sd)  # every published key, nothing more
    model.resize = 0  # the equality is of the network; the window resize is tested below
    ref = _terratorch_model(cfg, sd)
    x, coords = _inputs(cfg)
    with torch.no_grad():
        ours, theirs = model(x, **coords), ref(x, **coords)
    assert ours.shape == (3, 2, 64, 64)
    assert float((ours - theirs).abs().max()) <= 1e-4
    assert torch.equal(ours.argmax(1), theirs.argmax(1))
    # the coordinates matter (the test would not notice them missing otherwise)
    with torch.no_grad():
        assert float((model(x) - ours).abs().max()) > 1e-3


def test_other_indices_and_larger_input_equal_terratorch(tmp_path: Path) -> None:
    """Indices that skip the last block (no final norm on any level), and ones that end before it."""
    cfg = dataclasses.replace(tiny_upernet(depth=6), indices=(1, 2, 3, 5))
    sd = terratorch_state_dict(cfg, seed=8)
    model = _geofm(cfg, sd, tmp_path)
    ref = _terratorch_model(cfg, sd)
    x, coords = _inputs(cfg, 2)
    with torch.no_grad():
        assert float((model(x, **coords) - ref(x, **coords)).abs().max()) <= 1e-4
    cfg2 = dataclasses.replace(tiny_upernet(depth=6), indices=(1, 2, 3, 4))
    sd2 = terratorch_state_dict(cfg2, seed=9)
    model2 = _geofm(cfg2, sd2, tmp_path)
    ref2 = _terratorch_model(cfg2, sd2)
    with torch.no_grad():
        a, b = model2(x, **coords), ref2(x, **coords)
    assert float((a - b).abs().max()) <= 1e-4


def test_window_resize_matches_resizing_first(tmp_path: Path) -> None:
    """A 96-px window with resize 64: the model sees the bilinear 64-px image and its logits come back to 96 px."""
    cfg = tiny_upernet()
    sd = terratorch_state_dict(cfg, seed=4)
    model = _geofm(cfg, sd, tmp_path, resize=64)
    ref = _terratorch_model(cfg, sd)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 6, 1, 96, 96, generator=g)
    _, coords = _inputs(cfg, 2)
    small = torch.nn.functional.interpolate(x[:, :, 0], size=(64, 64), mode="bilinear", align_corners=False)
    with torch.no_grad():
        expected = torch.nn.functional.interpolate(ref(small[:, :, None], **coords), size=(96, 96),
                                                   mode="bilinear", align_corners=False)
        got = model(x, **coords)
    assert got.shape == (2, 2, 96, 96)
    assert float((got - expected).abs().max()) <= 1e-4


def _write(tmp_path: Path, spec: str, **change) -> Path:
    cfg = tiny_upernet()
    args = terratorch_model_args(cfg)
    args.update(backbone_embed_dim=32, backbone_depth=4, backbone_num_heads=4, backbone_img_size=64)
    doc = terratorch_config(args)
    for key, value in change.items():
        if value is None:
            doc["model"]["init_args"]["model_args"].pop(key)
        else:
            doc["model"]["init_args"]["model_args"][key] = value
    return write_terratorch_published(tmp_path, spec, cfg, config=doc, optimizer=False)


@pytest.mark.parametrize("change, named", [
    ({"decoder": "UNetDecoder"}, "decoder UNetDecoder"),
    ({"decoder_scale_modules": None}, "decoder_scale_modules"),
    ({"backbone": "prithvi_eo_v2_tiny_tl"}, "backbone prithvi_eo_v2_tiny_tl"),
    ({"necks": [{"name": "SelectIndices", "indices": [0, 1, 2, 3]}, {"name": "ReshapeTokensToImage"},
                {"name": "LearnedInterpolateToPyramidal"}]}, "LearnedInterpolateToPyramidal"),
    ({"peft_config": {"method": "LORA"}}, "model_args peft_config"),
    ({"num_classes": 3}, "num_classes 3"),
    ({"backbone_bands": ["RED", "GREEN", "BLUE", "NIR_NARROW", "SWIR_1", "SWIR_2"]}, "backbone_bands"),
], ids=["decoder", "no-scale-modules", "backbone", "neck", "peft", "classes", "bands"])
def test_unsupported_config_is_refused_in_one_line_naming_it(tmp_path: Path, change: dict, named: str) -> None:
    _write(tmp_path, FLOOD, **change)
    with pytest.raises(CheckpointError) as err:
        load_model(FLOOD, weights_dir=tmp_path)
    text = str(err.value)
    assert named in text and "config.yaml" in text and "\n" not in text


def test_config_decides_the_architecture_and_metadata(tmp_path: Path) -> None:
    """Burn scars: burn_scars_config.yaml's indices and use_metadata: false reach the model."""
    cfg = dataclasses.replace(tiny_upernet(depth=6), indices=(1, 3, 4, 5))
    args = terratorch_model_args(cfg, nir="NIR_BROAD")
    args.update(backbone_embed_dim=32, backbone_depth=6, backbone_num_heads=4, backbone_img_size=64)
    doc = terratorch_config(args, datamodule="FireScarsNonGeoDataModule", use_metadata=False)
    write_terratorch_published(tmp_path, BURN, cfg, seed=2, config=doc)
    assert (tmp_path / "burn_scars_config.yaml").is_file()
    assert yaml.safe_load((tmp_path / "burn_scars_config.yaml").read_text())["model"]["init_args"]["model_args"][
        "necks"][0]["indices"] == [1, 3, 4, 5]
    model = load_model(BURN, weights_dir=tmp_path)
    assert model.cfg.indices == (1, 3, 4, 5) and model.cfg.encoder.depth == 6 and not model.cfg.use_coords
    model.resize = 0
    x, coords = _inputs(cfg, 2)
    with torch.no_grad():  # without use_metadata the coordinates are not fed: same logits with or without
        assert torch.equal(model(x, **coords), model(x))


def test_missing_config_says_how_to_get_it(tmp_path: Path) -> None:
    write_terratorch_checkpoint(tmp_path / MODELS[FLOOD].filename, tiny_upernet(), optimizer=False)
    from geofm.errors import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError, match="config.yaml"):
        load_model(FLOOD, weights_dir=tmp_path)


def test_registry_models_join_their_tasks() -> None:
    from geofm.config import task_models

    assert task_models("flood") == ("prithvi-eo-1.0-100m-sen1floods11", FLOOD)
    assert task_models("burn-scars") == ("prithvi-eo-1.0-100m-burn-scar", BURN)
    assert MODELS[FLOOD].classes == MODELS["prithvi-eo-1.0-100m-sen1floods11"].classes
    assert np.isclose(MODELS[FLOOD].norm.mean[3], 0.30902815)


def test_cpu_fast_path_and_shared_batches_equal_the_plain_model(tmp_path: Path) -> None:
    """The CPU fast path (oneDNN linears) gives the plain model's logits; windows of two runs sharing batches give
    each run's own class map (the coordinates travel with each run's windows)."""
    import copy
    from datetime import datetime

    from affine import Affine
    from rasterio.crs import CRS

    from geofm.inference.device import tune_for_device
    from geofm.inference.segment import segment_stack, segment_stacks
    from geofm.stack import HLSStack

    cfg = tiny_upernet()
    sd = terratorch_state_dict(cfg, seed=6)
    model = _geofm(cfg, sd, tmp_path, resize=64)
    fast = tune_for_device(copy.deepcopy(model), torch.device("cpu"))
    x, coords = _inputs(cfg)
    with torch.no_grad():
        plain, tuned = model(x, **coords), fast(x, **coords)
    assert float((plain - tuned).abs().max()) <= 1e-4 and torch.equal(plain.argmax(1), tuned.argmax(1))
    spec = dataclasses.replace(MODELS[FLOOD], window=96, stride=96, resize=64)
    rng = np.random.default_rng(0)

    def stack(lon_shift: float, when: datetime) -> HLSStack:
        return HLSStack(data=rng.integers(200, 3000, (1, 6, 150, 170)).astype(np.float32),
                        valid=np.ones((1, 150, 170), bool), crs=CRS.from_epsg(32615),
                        transform=Affine(30, 0, 500000 + lon_shift, 0, -30, 3300000), times=[when], scene_ids=["s"])

    a, b = stack(0, datetime(2021, 8, 1)), stack(900000, datetime(2019, 2, 10))
    cpu = torch.device("cpu")
    together = segment_stacks(fast, spec, [a, b], device=cpu, batch_size=3, probabilities=True)
    for st, res in zip((a, b), together):
        alone = segment_stack(fast, spec, st, device=cpu, batch_size=3, probabilities=True)
        assert np.array_equal(alone.classes, res.classes)
        assert np.abs(alone.probabilities - res.probabilities).max() <= 1e-5


@pytest.mark.slow
def test_full_size_published_layout_loads_strictly(tmp_path: Path) -> None:
    """The 300M-TL fine-tune at full size: every key of the published layout (from a config with the 300M
    indices) loads strictly, and the parameter count is the published ~319M."""
    spec = MODELS[FLOOD]
    args = terratorch_model_args(spec.arch)
    doc = terratorch_config(args)
    from geofm.models.tt_config import arch_from_config

    arch = arch_from_config(doc, spec)
    assert arch == spec.arch  # the registry's expectation is what the sample-shaped config says
    sd = terratorch_state_dict(arch, seed=1)
    model = empty_model(spec, arch)
    path = tmp_path / spec.filename
    torch.save({"state_dict": sd}, path)
    del sd
    report = load_checkpoint(model, path, "terratorch")
    params = sum(p.numel() for p in model.parameters())
    assert report.loaded == len(model.state_dict())
    assert 300e6 < params < 330e6, params
    print(f"full-size: {report.loaded} tensors, {params / 1e6:.1f}M parameters")


def test_default_model_per_device_and_the_app_request_keeps_the_choice() -> None:
    from geofm.config import default_model
    from geofm.serve.runs import RunRequest

    # areas: EO-2.0 on CUDA; the CPU keeps EO-1.0 (a few-km area is one window either way, and an EO-2.0 window
    # costs ~6.5x on a 2-core CPU); files: EO-1.0 everywhere (needs no date)
    assert default_model("flood", "cuda") == FLOOD and default_model("burn-scars", "cuda") == BURN
    assert default_model("flood", "cpu") == "prithvi-eo-1.0-100m-sen1floods11"
    assert default_model("burn-scars", "cpu") == "prithvi-eo-1.0-100m-burn-scar"
    for device in ("cpu", "cuda"):
        assert default_model("flood", device, "file") == "prithvi-eo-1.0-100m-sen1floods11"
        assert default_model("crops", device) == "prithvi-eo-1.0-100m-multi-temporal-crop"
    geometry = {"type": "Polygon", "coordinates": [[[0, 0], [0.1, 0], [0.1, 0.1], [0, 0.1], [0, 0]]]}
    a = RunRequest.for_area("flood", geometry, "2022-01-01", "2022-02-01", max_cloud=30, model=FLOOD)
    b = RunRequest.for_area("flood", geometry, "2022-01-01", "2022-02-01", max_cloud=30)
    assert a.model == FLOOD and a != b  # the model is part of the result's cache key
    up = RunRequest.for_upload("flood", [("a.tif", b"x")], model=FLOOD, date="2021-08-01")
    assert up.date == "2021-08-01" and up != RunRequest.for_upload("flood", [("a.tif", b"x")], model=FLOOD)
