"""Prithvi models in plain PyTorch, safe checkpoint loading and weight look-up.

Names are imported on first use, so ``from geofm.models import resolve_weights`` (a file look-up) does not
load torch; the model classes and loaders do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geofm.lazy import lazy_exports

if TYPE_CHECKING:
    from torch import nn

    from geofm.config import ModelSpec, SegmenterConfig, ViTConfig
    from geofm.models.locate import resolve_weights
    from geofm.models.mae import PrithviMAE
    from geofm.models.segmenter import PrithviSegmenter
    from geofm.models.vit import PrithviViT
    from geofm.models.weights import download_weights, load_model

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "PrithviMAE": "geofm.models.mae", "PrithviSegmenter": "geofm.models.segmenter", "PrithviViT": "geofm.models.vit",
    "load_model": "geofm.models.weights", "download_weights": "geofm.models.weights",
    "resolve_weights": "geofm.models.locate",
}

__all__ = ["PrithviMAE", "PrithviSegmenter", "PrithviViT", "create_model", "load_model", "resolve_weights",
           "download_weights"]


__getattr__ = lazy_exports("geofm.models", _EXPORTS, globals())


def create_model(spec: ModelSpec | str, *, arch: ViTConfig | SegmenterConfig | None = None) -> nn.Module:
    """A randomly initialised model of ``spec``'s kind (``arch`` overrides ``spec.arch``), in eval mode."""
    from geofm.models.factory import random_model  # lazy: torch

    return random_model(spec, arch)
