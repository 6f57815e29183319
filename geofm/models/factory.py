"""Building a model for a spec: randomly initialised, or empty (to be filled from a checkpoint)."""

from __future__ import annotations

import torch
from torch import nn

from geofm.config import ModelSpec, SegmenterConfig, UperNetSegmenterConfig, ViTConfig, get_model_spec
from geofm.models.mae import MAEDecoder, PrithviMAE, init_mae_weights
from geofm.models.pos_embed import sincos_3d
from geofm.models.segmenter import PrithviSegmenter, init_segmenter_weights
from geofm.models.upernet import UperNetSegmenter, init_upernet_weights
from geofm.models.vit import LocationEncoder, PrithviViT, TemporalEncoder


def as_spec(spec: ModelSpec | str) -> ModelSpec:
    return get_model_spec(spec) if isinstance(spec, str) else spec


Arch = ViTConfig | SegmenterConfig | UperNetSegmenterConfig


def _construct(spec: ModelSpec, arch: Arch) -> nn.Module:
    if isinstance(arch, UperNetSegmenterConfig):
        return UperNetSegmenter(arch, resize=spec.resize)
    if spec.kind == "mae":
        if not isinstance(arch, ViTConfig):
            raise TypeError(f"{spec.name} needs a ViTConfig, got {type(arch).__name__}")
        return PrithviMAE(arch)
    if not isinstance(arch, SegmenterConfig):
        raise TypeError(f"{spec.name} needs a SegmenterConfig, got {type(arch).__name__}")
    return PrithviSegmenter(arch)


def reset_fixed_buffers(model: nn.Module) -> None:
    """Refill the deterministic buffers: sin-cos position tables and non-learnt coordinate scales."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, PrithviViT):
                m.pos_embed.copy_(sincos_3d(m.pos_embed.shape[-1], m.grid_size))
            elif isinstance(m, MAEDecoder):
                m.decoder_pos_embed.copy_(sincos_3d(m.decoder_pos_embed.shape[-1], m.grid_size))
            elif isinstance(m, (TemporalEncoder, LocationEncoder)) and not isinstance(m.scale, nn.Parameter):
                m.scale.fill_(1.0)


def random_model(spec: ModelSpec | str, arch: Arch | None = None) -> nn.Module:
    """A randomly initialised model (published init recipe), eval mode, on CPU."""
    spec = as_spec(spec)
    model = _construct(spec, spec.arch if arch is None else arch)
    if isinstance(model, PrithviMAE):
        init_mae_weights(model)
    elif isinstance(model, UperNetSegmenter):
        init_upernet_weights(model)
    else:
        init_segmenter_weights(model)
    return model.eval()


def empty_model(spec: ModelSpec | str, arch: Arch | None = None) -> nn.Module:
    """A model with uninitialised parameters (cheap to build) and correct fixed buffers, eval mode, on CPU."""
    spec = as_spec(spec)
    with torch.device("meta"):
        model = _construct(spec, spec.arch if arch is None else arch)
    model = model.to_empty(device="cpu")
    reset_fixed_buffers(model)
    return model.eval()
