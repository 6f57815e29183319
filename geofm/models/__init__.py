"""Prithvi models in plain PyTorch, safe checkpoint loading and weight look-up."""

from __future__ import annotations

from torch import nn

from geofm.config import ModelSpec, SegmenterConfig, ViTConfig
from geofm.models.factory import random_model
from geofm.models.mae import PrithviMAE
from geofm.models.segmenter import PrithviSegmenter
from geofm.models.vit import PrithviViT
from geofm.models.weights import download_weights, load_model, resolve_weights

__all__ = ["PrithviMAE", "PrithviSegmenter", "PrithviViT", "create_model", "load_model", "resolve_weights",
           "download_weights"]


def create_model(spec: ModelSpec | str, *, arch: ViTConfig | SegmenterConfig | None = None) -> nn.Module:
    """A randomly initialised model of ``spec``'s kind (``arch`` overrides ``spec.arch``), in eval mode."""
    return random_model(spec, arch)
