"""Prithvi models in plain PyTorch, safe checkpoint loading and weight look-up."""

from __future__ import annotations

import torch
from torch import nn

from geofm.config import ModelSpec, SegmenterConfig, ViTConfig, get_model_spec
from geofm.models.mae import PrithviMAE, init_mae_weights
from geofm.models.segmenter import PrithviSegmenter, init_segmenter_weights
from geofm.models.vit import PrithviViT

__all__ = ["PrithviMAE", "PrithviSegmenter", "PrithviViT", "create_model", "load_model", "resolve_weights",
           "download_weights"]


def create_model(spec: ModelSpec | str, *, arch: ViTConfig | SegmenterConfig | None = None) -> nn.Module:
    """A randomly initialised model of ``spec``'s kind (``arch`` overrides ``spec.arch``), in eval mode."""
    if isinstance(spec, str):
        spec = get_model_spec(spec)
    arch = spec.arch if arch is None else arch
    model: nn.Module
    if spec.kind == "mae":
        if not isinstance(arch, ViTConfig):
            raise TypeError(f"{spec.name} needs a ViTConfig, got {type(arch).__name__}")
        model = PrithviMAE(arch)
        init_mae_weights(model)
    else:
        if not isinstance(arch, SegmenterConfig):
            raise TypeError(f"{spec.name} needs a SegmenterConfig, got {type(arch).__name__}")
        model = PrithviSegmenter(arch)
        init_segmenter_weights(model)
    return model.eval()


def __getattr__(name: str):  # lazy: weights/checkpoint helpers import huggingface_hub on use
    if name in ("load_model", "resolve_weights", "download_weights"):
        from geofm.models import weights

        return getattr(weights, name)
    raise AttributeError(name)
