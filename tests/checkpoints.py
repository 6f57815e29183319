"""Writers of synthetic checkpoints in the exact published layouts (random, seeded; any architecture).

Key names and shapes are spelled out here from the published facts (not taken from geofm's modules), so
loading these files strictly checks the models' parameter names independently:

* MAE (``Prithvi_EO_V1_100M.pt``): plain ``torch.save(state_dict)``, keys ``encoder.*`` / ``decoder.*``;
  the old ``Prithvi_100M.pt`` holds the same tensors under flat keys.
* mmseg fine-tunes (``*.pth``): ``{"meta", "state_dict", "optimizer"}``; ``meta`` carries a numpy float64
  (pickled as ``numpy.core.multiarray.scalar``, as mmcv 1.6 did), a CLASSES tuple and the config text; the
  state dict has ``backbone.``, ``neck.``, ``decode_head.`` and ``auxiliary_head.`` keys, BN buffers included.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from geofm.config import MODELS, SegmenterConfig, UperNetSegmenterConfig, ViTConfig
from geofm.models.pos_embed import sincos_3d

Tensors = dict[str, torch.Tensor]


def tiny_vit(**overrides) -> ViTConfig:  # noqa: ANN003
    """A small ViT/MAE config for fast tests (32 px, 8-px patches, T=2)."""
    base = dict(img_size=32, patch_size=8, num_frames=2, embed_dim=32, depth=2, num_heads=4,
                decoder_embed_dim=32, decoder_depth=2, decoder_num_heads=4)
    base.update(overrides)
    return ViTConfig(**base)


def tiny_segmenter(num_frames: int = 1, num_classes: int = 3, **overrides) -> SegmenterConfig:  # noqa: ANN003
    """A small mmseg-style segmenter config: 16-px patches (the neck upsamples x16), 64 px, LayerNorm eps 1e-5."""
    enc = tiny_vit(num_frames=num_frames, ln_eps=1e-5, **{"img_size": 64, "patch_size": 16, **overrides})
    return SegmenterConfig(encoder=enc, num_classes=num_classes, neck_channels=enc.embed_dim * num_frames,
                           head_channels=16)


class _Random:
    """Seeded, fan-in scaled random tensors (uniform, variance ~ gain/fan_in) so deep outputs stay finite."""

    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(seed)

    def uniform(self, shape: tuple[int, ...], half_width: float) -> torch.Tensor:
        return torch.rand(shape, generator=self.gen).mul_(2 * half_width).sub_(half_width)

    def weight(self, shape: tuple[int, ...], fan_in: int, gain: float = 1.0) -> torch.Tensor:
        return self.uniform(shape, (3.0 * gain / fan_in) ** 0.5)

    def bias(self, n: int) -> torch.Tensor:
        return self.uniform((n,), 0.02)

    def norm_weight(self, n: int) -> torch.Tensor:
        return self.uniform((n,), 0.1).add_(1.0)


def _block(r: _Random, prefix: str, d: int, mlp_ratio: float) -> Tensors:
    hidden = int(d * mlp_ratio)
    return {
        f"{prefix}norm1.weight": r.norm_weight(d), f"{prefix}norm1.bias": r.bias(d),
        f"{prefix}attn.qkv.weight": r.weight((3 * d, d), d), f"{prefix}attn.qkv.bias": r.bias(3 * d),
        f"{prefix}attn.proj.weight": r.weight((d, d), d, 0.5), f"{prefix}attn.proj.bias": r.bias(d),
        f"{prefix}norm2.weight": r.norm_weight(d), f"{prefix}norm2.bias": r.bias(d),
        f"{prefix}mlp.fc1.weight": r.weight((hidden, d), d), f"{prefix}mlp.fc1.bias": r.bias(hidden),
        f"{prefix}mlp.fc2.weight": r.weight((d, hidden), hidden, 0.5), f"{prefix}mlp.fc2.bias": r.bias(d),
    }


def _grid(cfg: ViTConfig) -> tuple[int, int, int]:
    g = cfg.img_size // cfg.patch_size
    return (cfg.num_frames // cfg.tubelet_size, g, g)


def encoder_tensors(cfg: ViTConfig, r: _Random, prefix: str) -> Tensors:
    """Encoder keys (``cls_token``, ``pos_embed``, ``patch_embed.proj``, ``blocks.i``, ``norm``) under ``prefix``."""
    d, p, tub = cfg.embed_dim, cfg.patch_size, cfg.tubelet_size
    fan_in = cfg.in_chans * tub * p * p
    out: Tensors = {
        f"{prefix}cls_token": r.uniform((1, 1, d), 0.03),
        f"{prefix}pos_embed": sincos_3d(d, _grid(cfg)),
        f"{prefix}patch_embed.proj.weight": r.weight((d, cfg.in_chans, tub, p, p), fan_in),
        f"{prefix}patch_embed.proj.bias": r.bias(d),
    }
    if cfg.coords_encoding:
        out[f"{prefix}temporal_embed_enc.scale"] = torch.full((1,), 0.1)
        out[f"{prefix}location_embed_enc.scale"] = torch.full((1,), 0.1)
    for i in range(cfg.depth):
        out.update(_block(r, f"{prefix}blocks.{i}.", d, cfg.mlp_ratio))
    out[f"{prefix}norm.weight"] = r.norm_weight(d)
    out[f"{prefix}norm.bias"] = r.bias(d)
    return out


def decoder_tensors(cfg: ViTConfig, r: _Random, prefix: str) -> Tensors:
    """MAE decoder keys (``decoder_embed``, ``mask_token``, ``decoder_pos_embed``, ...) under ``prefix``."""
    d = cfg.decoder_embed_dim
    out_dim = cfg.tubelet_size * cfg.patch_size**2 * cfg.in_chans
    out: Tensors = {
        f"{prefix}decoder_embed.weight": r.weight((d, cfg.embed_dim), cfg.embed_dim),
        f"{prefix}decoder_embed.bias": r.bias(d),
        f"{prefix}mask_token": r.uniform((1, 1, d), 0.03),
        f"{prefix}decoder_pos_embed": sincos_3d(d, _grid(cfg)),
    }
    if cfg.coords_encoding:
        out[f"{prefix}temporal_embed_dec.scale"] = torch.full((1,), 0.1)
        out[f"{prefix}location_embed_dec.scale"] = torch.full((1,), 0.1)
    for i in range(cfg.decoder_depth):
        out.update(_block(r, f"{prefix}decoder_blocks.{i}.", d, cfg.mlp_ratio))
    out[f"{prefix}decoder_norm.weight"] = r.norm_weight(d)
    out[f"{prefix}decoder_norm.bias"] = r.bias(d)
    out[f"{prefix}decoder_pred.weight"] = r.weight((out_dim, d), d)
    out[f"{prefix}decoder_pred.bias"] = r.bias(out_dim)
    return out


def mae_state_dict(cfg: ViTConfig, seed: int = 0, *, flat: bool = False) -> Tensors:
    """All MAE tensors; ``flat=True`` gives the old ``Prithvi_100M.pt`` key names (no ``encoder.``/``decoder.``)."""
    r = _Random(seed)
    sd = encoder_tensors(cfg, r, "" if flat else "encoder.")
    sd.update(decoder_tensors(cfg, r, "" if flat else "decoder."))
    return sd


def _fcn_head(r: _Random, prefix: str, cin: int, channels: int, k: int, num_convs: int) -> Tensors:
    out: Tensors = {}
    for i in range(num_convs):
        c_in = cin if i == 0 else channels
        p = f"{prefix}convs.{i}."
        out[f"{p}conv.weight"] = r.weight((channels, c_in, 3, 3), c_in * 9, 2.0)
        out[f"{p}bn.weight"] = r.norm_weight(channels)
        out[f"{p}bn.bias"] = r.uniform((channels,), 0.1)
        out[f"{p}bn.running_mean"] = r.uniform((channels,), 0.1)
        out[f"{p}bn.running_var"] = r.uniform((channels,), 0.4).add_(1.0)
        out[f"{p}bn.num_batches_tracked"] = torch.tensor(30800, dtype=torch.int64)
    out[f"{prefix}conv_seg.weight"] = r.weight((k, channels, 1, 1), channels)
    out[f"{prefix}conv_seg.bias"] = r.uniform((k,), 0.1)
    return out


def mmseg_state_dict(cfg: SegmenterConfig, seed: int = 0) -> Tensors:
    """The mmseg ``state_dict`` of a fine-tune: backbone, neck, decode_head and the training-only auxiliary_head."""
    r = _Random(seed)
    sd = encoder_tensors(cfg.encoder, r, "backbone.")
    c = cfg.neck_channels
    for fpn in ("fpn1", "fpn2"):
        sd[f"neck.{fpn}.0.weight"] = r.weight((c, c, 2, 2), c)
        sd[f"neck.{fpn}.0.bias"] = r.bias(c)
        sd[f"neck.{fpn}.1.ln.weight"] = r.norm_weight(c)
        sd[f"neck.{fpn}.1.ln.bias"] = r.bias(c)
        sd[f"neck.{fpn}.3.weight"] = r.weight((c, c, 2, 2), c)
        sd[f"neck.{fpn}.3.bias"] = r.bias(c)
    sd.update(_fcn_head(r, "decode_head.", c, cfg.head_channels, cfg.num_classes, 1))
    sd.update(_fcn_head(r, "auxiliary_head.", c, cfg.head_channels, cfg.num_classes, 2))
    return sd


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------

class _Mmcv16Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes numpy scalars under the numpy 1.x global ``numpy.core.multiarray.scalar``, as the real files do."""

    def save_global(self, obj, name=None):  # noqa: ANN001
        if obj is np._core.multiarray.scalar:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\nscalar\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


_MMCV_PICKLE = SimpleNamespace(Pickler=_Mmcv16Pickler, __name__="pickle")


def write_mae_checkpoint(path: str | Path, cfg: ViTConfig, seed: int = 0, *, flat: bool = False) -> Path:
    """``torch.save(state_dict)`` of an MAE (prefixed layout, or the old flat layout with ``flat=True``)."""
    path = Path(path)
    torch.save(mae_state_dict(cfg, seed, flat=flat), path)
    return path


def mmseg_meta(cfg: SegmenterConfig, classes: tuple) -> dict:
    """A ``meta`` dict shaped like mmcv 1.6.2 / mmseg 0.30.0 ``save_checkpoint`` writes."""
    enc = cfg.encoder
    config_text = (
        f"num_frames = {enc.num_frames}\nimg_size = {enc.img_size}\nnum_layers = {enc.depth}\n"
        f"num_heads = {enc.num_heads}\nmodel = dict(type='TemporalEncoderDecoder', backbone=dict("
        f"type='TemporalViTEncoder', embed_dim={enc.embed_dim}), neck=dict(type="
        f"'ConvTransformerTokensToEmbeddingNeck', embed_dim={cfg.neck_channels}), decode_head=dict("
        f"type='FCNHead', num_classes={cfg.num_classes}), test_cfg=dict(mode='slide', stride=(112, 112), "
        f"crop_size=(224, 224)))\n"
    )
    return {
        "env_info": "sys.platform: linux\nPython: 3.8.16\nPyTorch: 1.11.0\nMMCV: 1.6.2",
        "config": config_text,
        "seed": 1234,
        "exp_name": "config.py",
        "mmseg_version": "0.30.0",
        "mmcv_version": "1.6.2",
        "CLASSES": classes,
        "PALETTE": None,
        "epoch": 80,
        "iter": 30800,
        "time": "Sun Jul 30 12:00:00 2023",
        "hook_msgs": {"last_ckpt": "/work/latest.pth", "best_score": np.float64(0.5906),
                      "best_ckpt": "/work/best_mIoU_epoch_80.pth"},
    }


def write_mmseg_checkpoint(path: str | Path, cfg: SegmenterConfig, seed: int = 0,
                           classes: tuple | None = None) -> Path:
    """An mmseg checkpoint ``{"meta", "state_dict", "optimizer"}`` for ``cfg``."""
    path = Path(path)
    classes = tuple(range(cfg.num_classes)) if classes is None else classes
    obj = {"meta": mmseg_meta(cfg, classes), "state_dict": mmseg_state_dict(cfg, seed), "optimizer": {}}
    torch.save(obj, path, pickle_module=_MMCV_PICKLE)
    return path


def write_published(folder: str | Path, seed: int = 0) -> Path:
    """Write ``Prithvi_EO_V1_100M.pt``, ``sen1floods11_Prithvi_100M.pth``, the crop ``.pth``,
    ``burn_scars_Prithvi_100M.pth`` and (tiny) the two EO-2.0 fine-tunes with their configs into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mae = MODELS["prithvi-eo-1.0-100m"]
    flood = MODELS["prithvi-eo-1.0-100m-sen1floods11"]
    crop = MODELS["prithvi-eo-1.0-100m-multi-temporal-crop"]
    write_mae_checkpoint(folder / mae.filename, mae.arch, seed)
    write_mmseg_checkpoint(folder / flood.filename, flood.arch, seed + 1, classes=(0, 1))
    write_mmseg_checkpoint(folder / crop.filename, crop.arch, seed + 2, classes=tuple(range(1, 14)))
    burn = MODELS["prithvi-eo-1.0-100m-burn-scar"]
    write_mmseg_checkpoint(folder / burn.filename, burn.arch, seed + 3, classes=("Unburnt land", "Burn scar"))
    # the EO-2.0 fine-tunes in their published layout and config, at a tiny size (plumbing; the full-size
    # architecture is checked in tests/models/test_eo2_finetunes.py)
    write_terratorch_published(folder, "prithvi-eo-2.0-300m-tl-sen1floods11", tiny_upernet(), seed + 4)
    write_terratorch_published(folder, "prithvi-eo-2.0-300m-burn-scars", tiny_upernet(), seed + 5)
    return folder


# --------------------------------------------------------------------------------------------------
# EO-2.0 fine-tunes: TerraTorch task checkpoints (Lightning) and their config.yaml
# --------------------------------------------------------------------------------------------------

def tiny_upernet(num_classes: int = 2, **overrides) -> UperNetSegmenterConfig:  # noqa: ANN003
    """A small EO-2.0 fine-tune: 64 px, 16-px patches, 4 blocks (indices 0-3), TL coordinates, 16 channels."""
    base = dict(num_frames=1, img_size=64, patch_size=16, depth=4, ln_eps=1e-5, coords_encoding=True,
                coords_scale_learn=True)
    enc = tiny_vit(**{**base, **overrides})
    return UperNetSegmenterConfig(encoder=enc, num_classes=num_classes, indices=(0, 1, 2, 3), channels=16)


def _bn(r: _Random, prefix: str, n: int) -> Tensors:
    return {f"{prefix}weight": r.norm_weight(n), f"{prefix}bias": r.uniform((n,), 0.1),
            f"{prefix}running_mean": r.uniform((n,), 0.1), f"{prefix}running_var": r.uniform((n,), 0.4).add_(1.0),
            f"{prefix}num_batches_tracked": torch.tensor(12345, dtype=torch.int64)}


def _conv_module(r: _Random, prefix: str, cin: int, cout: int, k: int) -> Tensors:
    """TerraTorch decoder ConvModule: ``conv`` (no bias) and ``norm`` (BatchNorm2d)."""
    return {f"{prefix}conv.weight": r.weight((cout, cin, k, k), cin * k * k, 2.0), **_bn(r, f"{prefix}norm.", cout)}


def terratorch_state_dict(cfg: UperNetSegmenterConfig, seed: int = 0, *, renamed: bool = False) -> Tensors:
    """The Lightning ``state_dict`` of an EO-2.0 fine-tune as TerraTorch 0.99.7 writes it.

    ``model.encoder._timm_module.*`` (the timm wrapper; ``renamed=True``: ``model.encoder.*`` as the model
    cards' inference.py renames it), ``model.decoder.fpn1/fpn2`` scale modules and the UperNet of
    ``decoder_scale_modules: true``, ``model.head.head.2`` (Identity, Dropout, Conv2d 1x1).
    """
    r = _Random(seed)
    enc = cfg.encoder
    sd = encoder_tensors(enc, r, "model.encoder." if renamed else "model.encoder._timm_module.")
    d, c, k = enc.embed_dim * enc.num_frames, cfg.channels, cfg.num_classes
    p = "model.decoder."
    sd[f"{p}fpn1.0.weight"] = r.weight((d, d // 2, 2, 2), d)
    sd[f"{p}fpn1.0.bias"] = r.bias(d // 2)
    sd.update(_bn(r, f"{p}fpn1.1.", d // 2))
    sd[f"{p}fpn1.3.weight"] = r.weight((d // 2, d // 4, 2, 2), d // 2)
    sd[f"{p}fpn1.3.bias"] = r.bias(d // 4)
    sd[f"{p}fpn2.0.weight"] = r.weight((d, d // 2, 2, 2), d)
    sd[f"{p}fpn2.0.bias"] = r.bias(d // 2)
    levels = [d // 4, d // 2, d, d]
    for i, _ in enumerate(cfg.pool_scales):
        sd.update(_conv_module(r, f"{p}psp_modules.{i}.1.", d, c, 1))
    sd.update(_conv_module(r, f"{p}bottleneck.", d + len(cfg.pool_scales) * c, c, 3))
    for i in range(3):
        sd.update(_conv_module(r, f"{p}lateral_convs.{i}.", levels[i], c, 1))
    for i in range(3):
        sd.update(_conv_module(r, f"{p}fpn_convs.{i}.", c, c, 3))
    sd.update(_conv_module(r, f"{p}fpn_bottleneck.", 4 * c, c, 3))
    sd["model.head.head.2.weight"] = r.weight((k, c, 1, 1), c)
    sd["model.head.head.2.bias"] = r.uniform((k,), 0.1)
    return sd


def terratorch_model_args(cfg: UperNetSegmenterConfig, backbone: str = "prithvi_eo_v2_300_tl",
                          nir: str = "NIR_NARROW") -> dict:
    """``model.init_args.model_args`` as the sample configs (NASA-IMPACT/Prithvi-EO-2.0 configs/*.yaml) write it."""
    return {
        "backbone_pretrained": False, "backbone": backbone, "decoder": "UperNetDecoder",
        "decoder_channels": cfg.channels, "decoder_scale_modules": True,
        "backbone_coords_encoding": ["time", "location"], "num_classes": cfg.num_classes, "rescale": True,
        "backbone_bands": ["BLUE", "GREEN", "RED", nir, "SWIR_1", "SWIR_2"], "head_dropout": 0.1,
        "necks": [{"name": "SelectIndices", "indices": list(cfg.indices)}, {"name": "ReshapeTokensToImage"}],
    }


def terratorch_config(model_args: dict, *, datamodule: str = "Sen1Floods11NonGeoDataModule",
                      use_metadata: bool = True, resize: int = 224) -> dict:
    """A TerraTorch ``config.yaml`` document (trainer, data, model, optimizer) around ``model_args``."""
    transform = [{"class_path": "albumentations.Resize", "init_args": {"height": resize, "width": resize}},
                 {"class_path": "ToTensorV2"}]
    return {
        "seed_everything": 0,
        "trainer": {"accelerator": "auto", "precision": "16-mixed", "max_epochs": 50},
        "data": {"class_path": f"terratorch.datamodules.{datamodule}", "init_args": {
            "data_root": "<dataset_dir>", "batch_size": 16, "constant_scale": 0.0001, "no_data_replace": 0,
            "no_label_replace": -1, "use_metadata": use_metadata, "test_transform": transform}},
        "model": {"class_path": "terratorch.tasks.SemanticSegmentationTask", "init_args": {
            "model_args": model_args, "loss": "ce", "ignore_index": -1, "freeze_backbone": False,
            "freeze_decoder": False, "model_factory": "EncoderDecoderFactory"}},
        "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 5.0e-5, "weight_decay": 0.05}},
        "lr_scheduler": {"class_path": "CosineAnnealingLR", "init_args": {"T_max": 50}},
    }


def write_terratorch_checkpoint(path: str | Path, cfg: UperNetSegmenterConfig, seed: int = 0, *,
                                renamed: bool = False, model_args: dict | None = None,
                                optimizer: bool = True) -> Path:
    """A Lightning checkpoint ``{"epoch", "global_step", "pytorch-lightning_version", "state_dict", "loops",
    "callbacks", "optimizer_states", "lr_schedulers", "hparams_name", "hyper_parameters"}``."""
    from collections import OrderedDict

    path = Path(path)
    sd = terratorch_state_dict(cfg, seed, renamed=renamed)
    floats = [v for v in sd.values() if v.is_floating_point()]
    state = {i: {"step": torch.tensor(1000.0), "exp_avg": torch.zeros_like(v), "exp_avg_sq": torch.zeros_like(v)}
             for i, v in enumerate(floats)} if optimizer else {}
    obj = {
        "epoch": 49, "global_step": 1000, "pytorch-lightning_version": "2.4.0",
        "state_dict": OrderedDict(sd),
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 50, "completed": 49}}}},
        "callbacks": {"ModelCheckpoint{'monitor': None}": {"best_model_score": None, "dirpath": "/work/ckpt",
                                                           "best_k_models": {}}},
        "optimizer_states": [{"state": state, "param_groups": [{"lr": 5e-5, "weight_decay": 0.05,
                                                                "betas": (0.9, 0.999), "eps": 1e-8,
                                                                "params": list(range(len(floats)))}]}],
        "lr_schedulers": [{"T_max": 50, "eta_min": 0.0, "base_lrs": [5e-5], "last_epoch": 49}],
        "hparams_name": "kwargs",
        "hyper_parameters": {"model_args": model_args or terratorch_model_args(cfg), "model_factory":
                             "EncoderDecoderFactory", "loss": "ce", "ignore_index": -1, "lr": 5e-5},
    }
    torch.save(obj, path)
    return path


def write_terratorch_published(folder: str | Path, spec_name: str, cfg: UperNetSegmenterConfig, seed: int = 0, *,
                               renamed: bool = False, config: dict | None = None, optimizer: bool = True) -> Path:
    """The weights file and its config (under the published names of ``spec_name``) in ``folder``."""
    import yaml

    spec = MODELS[spec_name]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nir = "NIR_BROAD" if "burn" in spec_name else "NIR_NARROW"
    args = terratorch_model_args(cfg, nir=nir)
    full = spec.arch.encoder
    enc = cfg.encoder
    if (enc.embed_dim, enc.depth, enc.num_heads, enc.img_size) != (full.embed_dim, full.depth, full.num_heads,
                                                                   full.img_size):
        args.update(backbone_embed_dim=enc.embed_dim, backbone_depth=enc.depth, backbone_num_heads=enc.num_heads,
                    backbone_img_size=enc.img_size)
    doc = config or terratorch_config(args, datamodule="FireScarsNonGeoDataModule" if "burn" in spec_name
                                      else "Sen1Floods11NonGeoDataModule")
    (folder / spec.config_file).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return write_terratorch_checkpoint(folder / spec.filename, cfg, seed, renamed=renamed, model_args=args,
                                       optimizer=optimizer)
