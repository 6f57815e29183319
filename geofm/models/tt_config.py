"""The published TerraTorch config of an EO-2.0 fine-tune (``config.yaml``, ``burn_scars_config.yaml``).

The config beside the checkpoint is the authority for the architecture: backbone, neck indices, decoder
channels, classes, coordinates. geofm reads it at load time and builds the model from it; anything in it that
geofm does not implement is refused with one line naming it (``CheckpointError``), never ignored.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import yaml

from geofm.config import ModelSpec, UperNetSegmenterConfig
from geofm.errors import CheckpointError

log = logging.getLogger(__name__)

#: TerraTorch backbones geofm builds: name -> (embed_dim, depth, heads, patch, coordinates in the name)
BACKBONES: dict[str, tuple[int, int, int, int, bool]] = {
    "prithvi_eo_v2_300": (1024, 24, 16, 16, False),
    "prithvi_eo_v2_300_tl": (1024, 24, 16, 16, True),
    "prithvi_eo_v2_600": (1280, 32, 16, 14, False),
    "prithvi_eo_v2_600_tl": (1280, 32, 16, 14, True),
}
#: The six HLS bands in geofm's order; position 3 is the NIR band (narrow B8A/B05, or Sentinel-2's broad B08).
BANDS: tuple[tuple[str, ...], ...] = (("BLUE",), ("GREEN",), ("RED",), ("NIR_NARROW", "NIR_BROAD"), ("SWIR_1",),
                                      ("SWIR_2",))
#: ``model_args`` keys that only matter for training (read and ignored).
TRAINING_ONLY = {"backbone_pretrained", "backbone_drop_path", "backbone_drop_rate", "backbone_drop_path_rate"}


def read_config(path: str | Path) -> dict[str, Any]:
    """The YAML document at ``path`` (safe loader)."""

    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise CheckpointError(f"The model config {path} cannot be read ({type(err).__name__}: {err}).") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"The model config {path} is not a TerraTorch config (no mapping at the top).")
    return doc


def _refuse(path: str | Path, what: str) -> CheckpointError:
    return CheckpointError(f"The model config {Path(path).name} asks for {what}, which geofm does not support.")


def _init_args(doc: dict, section: str) -> dict:
    node = doc.get(section) or {}
    args = node.get("init_args", {}) if isinstance(node, dict) else {}
    return args if isinstance(args, dict) else {}


def arch_from_config(doc: dict[str, Any], spec: ModelSpec, path: str | Path = "config.yaml"
                     ) -> UperNetSegmenterConfig:
    """The architecture the config describes; CheckpointError naming the first thing geofm cannot build."""
    if not isinstance(spec.arch, UperNetSegmenterConfig):
        raise TypeError(f"{spec.name} is not a TerraTorch fine-tune")
    model = doc.get("model") or {}
    task_class = model.get("class_path", "") if isinstance(model, dict) else ""
    if task_class and task_class.rsplit(".", 1)[-1] != "SemanticSegmentationTask":
        raise _refuse(path, f"the task {task_class}")
    task_args = _init_args(doc, "model")
    factory = task_args.get("model_factory", "EncoderDecoderFactory")
    if factory != "EncoderDecoderFactory":
        raise _refuse(path, f"model_factory {factory}")
    args = dict(task_args.get("model_args") or {})
    for key in TRAINING_ONLY:
        args.pop(key, None)
    backbone = args.pop("backbone", None)
    if backbone not in BACKBONES:
        raise _refuse(path, f"backbone {backbone}")
    embed, depth, heads, patch, tl = BACKBONES[backbone]
    # TerraTorch lets backbone_* arguments override the backbone's own configuration
    embed = int(args.pop("backbone_embed_dim", embed))
    depth = int(args.pop("backbone_depth", depth))
    heads = int(args.pop("backbone_num_heads", heads))
    coords = args.pop("backbone_coords_encoding", ["time", "location"] if tl else [])
    if sorted(coords or []) not in ([], ["location", "time"]):
        raise _refuse(path, f"backbone_coords_encoding {coords}")
    frames = args.pop("backbone_num_frames", 1)
    if frames != spec.num_frames:
        raise _refuse(path, f"backbone_num_frames {frames}")
    img = args.pop("backbone_img_size", 224)
    bands = args.pop("backbone_bands", None)
    if bands is not None and (len(bands) != len(BANDS) or any(b not in ok for b, ok in zip(bands, BANDS))):
        raise _refuse(path, f"backbone_bands {bands}")
    decoder = args.pop("decoder", None)
    if decoder != "UperNetDecoder":
        raise _refuse(path, f"decoder {decoder}")
    if args.pop("decoder_scale_modules", False) is not True:
        raise _refuse(path, "a UperNet decoder without decoder_scale_modules: true")
    if args.pop("decoder_align_corners", True) is not True:
        raise _refuse(path, "decoder_align_corners: false")
    if args.pop("rescale", True) is not True:
        raise _refuse(path, "rescale: false")
    channels = args.pop("decoder_channels", 256)
    pool_scales = tuple(args.pop("decoder_pool_scales", (1, 2, 3, 6)))
    num_classes = args.pop("num_classes", None)
    if num_classes != len(spec.classes):
        raise _refuse(path, f"num_classes {num_classes} (this task has {len(spec.classes)} classes)")
    dropout = float(args.pop("head_dropout", 0.0))
    necks = args.pop("necks", None) or []
    names = [n.get("name") if isinstance(n, dict) else n for n in necks]
    if names != ["SelectIndices", "ReshapeTokensToImage"]:
        raise _refuse(path, f"the necks {names} (geofm builds SelectIndices then ReshapeTokensToImage)")
    if set(necks[1]) - {"name"}:
        raise _refuse(path, f"ReshapeTokensToImage options {sorted(set(necks[1]) - {'name'})}")
    indices = tuple(int(i) for i in necks[0].get("indices", ()))
    if len(indices) != 4 or any(not 0 <= i < depth for i in indices):
        raise _refuse(path, f"SelectIndices {list(indices)} (4 block indices below {depth} needed)")
    if args:
        raise _refuse(path, f"model_args {', '.join(sorted(args))}")
    data = _init_args(doc, "data")
    use_coords = bool(coords) and data.get("use_metadata", True) is not False
    enc = dataclasses.replace(spec.encoder, embed_dim=embed, depth=depth, num_heads=heads, patch_size=patch,
                              img_size=int(img), num_frames=int(frames), coords_encoding=bool(coords),
                              coords_scale_learn=bool(coords))
    return UperNetSegmenterConfig(encoder=enc, num_classes=int(num_classes), indices=indices,
                                  channels=int(channels), pool_scales=pool_scales, head_dropout=dropout,
                                  use_coords=use_coords)


def load_arch(spec: ModelSpec, path: str | Path) -> UperNetSegmenterConfig:
    """Read the config file at ``path`` and return its architecture (logged)."""
    arch = arch_from_config(read_config(path), spec, path)
    log.info("%s: %s", Path(path).name, arch)
    return arch
