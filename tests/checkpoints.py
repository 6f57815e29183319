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

from geofm.config import MODELS, SegmenterConfig, ViTConfig
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
    """Write ``Prithvi_EO_V1_100M.pt``, ``sen1floods11_Prithvi_100M.pth``, the crop ``.pth`` and
    ``burn_scars_Prithvi_100M.pth`` into ``folder``."""
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
    return folder
