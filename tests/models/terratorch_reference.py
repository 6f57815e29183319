"""TerraTorch's ``prithvi_mae.py`` as an independent reference, loaded by file path (test-only).

terratorch and timm are installed without their dependencies; torchvision is not installed and must not
be. timm imports torchvision at import time (for layers the Prithvi code never uses), so while timm is
imported a meta-path finder serves empty stand-in ``torchvision`` modules; afterwards the finder and the
stand-ins are removed again. The terratorch package itself is never imported (its ``__init__`` pulls in
much more); only the one file is executed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import sys
import types
from functools import lru_cache


class _Placeholder(type):
    """A class whose attributes are further placeholder classes (enough for ``from x import Y``)."""

    def __getattr__(cls, name: str) -> type:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder(name, (), {})


class _PlaceholderModule(types.ModuleType):
    def __getattr__(self, name: str) -> type:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder(name, (), {})


class _TorchvisionStandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):  # noqa: ANN001
        if fullname == "torchvision" or fullname.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):  # noqa: ANN001
        return _PlaceholderModule(spec.name)

    def exec_module(self, module):  # noqa: ANN001
        module.__path__ = []


def _import_timm_without_torchvision() -> None:
    try:
        import timm.models.vision_transformer  # noqa: F401

        return
    except ModuleNotFoundError as err:
        if "torchvision" not in str(err):
            raise
    for name in [m for m in sys.modules if m == "timm" or m.startswith("timm.")]:
        del sys.modules[name]  # drop the half-imported package
    finder = _TorchvisionStandIn()
    sys.meta_path.insert(0, finder)
    try:
        import timm.models.vision_transformer  # noqa: F401,F811
    finally:
        sys.meta_path.remove(finder)
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]


@lru_cache(maxsize=1)
def terratorch_prithvi_mae() -> types.ModuleType:
    """The module ``terratorch/models/backbones/prithvi_mae.py`` (classes PrithviMAE, PrithviViT, ...)."""
    _import_timm_without_torchvision()
    dist = importlib.metadata.distribution("terratorch")
    path = dist.locate_file("terratorch/models/backbones/prithvi_mae.py")
    spec = importlib.util.spec_from_file_location("terratorch_reference_prithvi_mae", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Registry:
    """Stand-in for TerraTorch's registries: ``@REGISTRY.register`` leaves the class as it is."""

    def register(self, cls: type) -> type:
        return cls


def _exec_file(relpath: str, name: str, extra: dict[str, types.ModuleType]) -> types.ModuleType:
    """Execute ``terratorch/<relpath>`` as module ``name`` with the modules in ``extra`` importable meanwhile."""
    dist = importlib.metadata.distribution("terratorch")
    path = dist.locate_file(f"terratorch/{relpath}")
    saved = {k: sys.modules.get(k) for k in extra}
    sys.modules.update(extra)
    finder = _TorchvisionStandIn()
    sys.meta_path.insert(0, finder)
    try:
        spec = importlib.util.spec_from_file_location(name, str(path))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.meta_path.remove(finder)
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
        for k in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[k]
    return module


@lru_cache(maxsize=1)
def terratorch_segmentation_parts() -> types.SimpleNamespace:
    """TerraTorch 1.2's UperNetDecoder, necks (SelectIndices, ReshapeTokensToImage, LearnedInterpolateToPyramidal)
    and SegmentationHead, each executed from its file (the package itself is never imported)."""
    registry = types.ModuleType("terratorch.registry")
    for reg in ("TERRATORCH_DECODER_REGISTRY", "NECK_REGISTRY", "TERRATORCH_NECK_REGISTRY"):
        setattr(registry, reg, _Registry())
    package = types.ModuleType("terratorch")
    package.__path__ = []
    decoders_pkg = types.ModuleType("terratorch_reference_decoders")
    decoders_pkg.__path__ = []
    utils = _exec_file("models/decoders/utils.py", "terratorch_reference_decoders.utils", {})
    upernet = _exec_file("models/decoders/upernet_decoder.py", "terratorch_reference_decoders.upernet_decoder", {
        "terratorch": package, "terratorch.registry": registry, "terratorch_reference_decoders": decoders_pkg,
        "terratorch_reference_decoders.utils": utils})
    necks = _exec_file("models/necks.py", "terratorch_reference_necks",
                       {"terratorch": package, "terratorch.registry": registry})
    head = _exec_file("models/heads/segmentation_head.py", "terratorch_reference_segmentation_head", {})
    return types.SimpleNamespace(UperNetDecoder=upernet.UperNetDecoder, SelectIndices=necks.SelectIndices,
                                 ReshapeTokensToImage=necks.ReshapeTokensToImage,
                                 LearnedInterpolateToPyramidal=necks.LearnedInterpolateToPyramidal,
                                 SegmentationHead=head.SegmentationHead)
