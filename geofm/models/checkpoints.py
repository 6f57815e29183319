"""Safe checkpoint reading (no arbitrary unpickling), key normalisation and strict loading.

Files are read with ``torch.load(weights_only=True)`` plus an explicit allow-list of the numpy globals that
mmseg/mmcv checkpoints carry in their ``meta`` (a numpy float64 score); anything else is refused.
``.safetensors`` files are read with safetensors.
"""

from __future__ import annotations

import _codecs
import logging
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from geofm.errors import CheckpointError

log = logging.getLogger(__name__)

_np_scalar = np._core.multiarray.scalar  # type: ignore[attr-defined]  # numpy 2 location, not in the stubs
#: The only non-torch globals a checkpoint may reference: what mmcv 1.6 pickles for a numpy scalar in ``meta``.
SAFE_NUMPY_GLOBALS: list[Any] = [
    (_np_scalar, "numpy.core.multiarray.scalar"),  # name written by numpy 1.x
    _np_scalar,  # numpy 2.x name
    np.dtype,
    np.dtypes.Float64DType,
    np.dtypes.Float32DType,
    np.dtypes.Int64DType,
    np.dtypes.Int32DType,
    _codecs.encode,
]

_GLOBAL_RE = re.compile(r"GLOBAL ([\w.]+)")
_UNPICKLER_DETAIL_RE = re.compile(r"WeightsUnpickler error:\s*(.+?)(?:\n\n|$)", re.S)
_MAX_LISTED = 5
_REDOWNLOAD_HINT = "Delete the file and fetch it again (python -m geofm weights download <model>)."


@dataclass
class LoadReport:
    """What loading a checkpoint did: tensors loaded and anything dropped or recomputed."""

    path: Path
    loaded: int = 0
    notes: list[str] = field(default_factory=list)


def read_checkpoint(path: str | Path) -> Any:
    """The object stored in ``path`` (.pt/.pth via a restricted unpickler, or .safetensors)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint file {path} does not exist.")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    use_mmap = zipfile.is_zipfile(path)
    try:
        with torch.serialization.safe_globals(SAFE_NUMPY_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=use_mmap)
    except pickle.UnpicklingError as err:
        match = _GLOBAL_RE.search(str(err))
        if match:
            raise CheckpointError(
                f"Refusing to unpickle {match.group(1)} from {path}: checkpoint files may hold only tensors and "
                "plain data, so this file was not loaded.",
                hint="Use the official weights file (python -m geofm weights download <model>).") from None
        detail = _UNPICKLER_DETAIL_RE.search(str(err))
        reason = detail.group(1).strip() if detail else _short(err)
        raise CheckpointError(f"Checkpoint {path} is corrupt or truncated, or not a PyTorch weights file "
                              f"that can be read safely ({reason[:160]}).", hint=_REDOWNLOAD_HINT) from None
    except Exception as err:  # torch raises RuntimeError/EOFError/zip errors for damaged files
        raise CheckpointError(f"Checkpoint {path} is corrupt or truncated ({_short(err)}).",
                              hint=_REDOWNLOAD_HINT) from None


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except Exception as err:
        raise CheckpointError(f"Checkpoint {path} is not a readable safetensors file ({_short(err)}).",
                              hint=_REDOWNLOAD_HINT) from None


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:160]


def extract_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint: ``obj["state_dict"]`` (mmseg/Lightning wrapper) or ``obj`` itself."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"Checkpoint {path} holds no state dict (found {type(obj).__name__}).")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"Checkpoint {path} is not a state dict: {_listing([str(k) for k in bad])} "
                              "are not tensors.")
    return dict(obj)


#: TerraTorch 0.99's timm wrapper around the backbone: ``model.encoder._timm_module.*`` in the published files
TIMM_WRAPPER = "encoder._timm_module."


def normalise_keys(sd: dict[str, torch.Tensor], kind: Literal["mae", "segmenter", "terratorch"]
                   ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Strip ``module.``, map flat MAE keys to ``encoder.``/``decoder.``, drop ``auxiliary_head.*``;
    TerraTorch task checkpoints: strip Lightning's ``model.`` and the timm wrapper's ``_timm_module.``."""
    notes: list[str] = []
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
        notes.append("stripped the 'module.' prefix")
    if kind == "terratorch":
        if all(k.startswith("model.") for k in sd):
            sd = {k[len("model."):]: v for k, v in sd.items()}
        wrapped = sum(k.startswith(TIMM_WRAPPER) for k in sd)
        if wrapped:
            sd = {("encoder." + k[len(TIMM_WRAPPER):] if k.startswith(TIMM_WRAPPER) else k): v for k, v in sd.items()}
            notes.append(f"unwrapped {wrapped} backbone keys (TerraTorch 0.99 '_timm_module.')")
    elif kind == "mae":
        renamed = {}
        flat = 0
        for k, v in sd.items():
            if not k.startswith(("encoder.", "decoder.")):
                flat += 1
                k = ("decoder." if ("decoder" in k or "_dec" in k or k == "mask_token") else "encoder.") + k
            renamed[k] = v
        if flat:
            notes.append(f"mapped {flat} flat MAE keys to encoder./decoder.")
        sd = renamed
    else:
        aux = [k for k in sd if k.startswith("auxiliary_head.")]
        if aux:
            sd = {k: v for k, v in sd.items() if not k.startswith("auxiliary_head.")}
            notes.append(f"dropped {len(aux)} auxiliary_head tensors (training only)")
    return sd, notes


def _is_pos_table(key: str) -> bool:
    return key.endswith("pos_embed")


def load_into(model: nn.Module, sd: dict[str, torch.Tensor], path: Path) -> list[str]:
    """Copy ``sd`` into ``model`` strictly; fixed sin-cos tables of another grid are replaced by the model's own."""
    notes: list[str] = []
    own = model.state_dict()
    sd = dict(sd)
    for key in [k for k in sd if _is_pos_table(k) and k in own and sd[k].shape != own[k].shape]:
        notes.append(f"recomputed {key} for this grid (stored {tuple(sd[key].shape)}, "
                     f"model {tuple(own[key].shape)})")
        sd[key] = own[key]
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    misshaped = [f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}"
                 for k in own if k in sd and sd[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"missing keys {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_listing(unexpected)}")
    if misshaped:
        problems.append(f"wrong shapes (file vs model) {_listing(misshaped)}")
    if problems:
        raise CheckpointError(
            f"Checkpoint {path} does not match the {type(model).__name__} architecture: "
            + "; ".join(problems) + ".",
            hint="Is it the right file for this model? The published files load without changes.")
    model.load_state_dict(sd, strict=True)
    return notes


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_LISTED])
    more = f" and {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else ""
    return f"({len(keys)}): {shown}{more}"


#: A run of at least this many exact zeros inside a weight matrix is a zeroed span of the file (16 KB of
#: float32), not training: trained weights are practically never exactly 0.0 that many times in a row.
ZERO_SPAN_VALUES = 4096


def _longest_zero_run(flat: torch.Tensor) -> int:
    zero = (flat == 0).to(torch.int8)
    if not bool(zero.any()):
        return 0
    edges = torch.diff(torch.cat([torch.zeros(1, dtype=torch.int8), zero, torch.zeros(1, dtype=torch.int8)]))
    starts = torch.nonzero(edges == 1).flatten()
    ends = torch.nonzero(edges == -1).flatten()
    return int((ends - starts).max())


def check_values(sd: dict[str, torch.Tensor], path: Path) -> None:
    """Refuse weights that cannot be a trained model: NaN/Inf values, or long runs of zeros in a weight matrix
    (a file with zeroed blocks loads without error and then predicts one class everywhere)."""
    nonfinite = [k for k, v in sd.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if nonfinite:
        raise CheckpointError(f"Checkpoint {path} holds NaN or infinite values in {_listing(nonfinite)}: it is "
                              "damaged.", hint=_REDOWNLOAD_HINT)
    zeroed = []
    for k, v in sd.items():
        if (v.is_floating_point() and v.dim() >= 2 and v.numel() >= ZERO_SPAN_VALUES and not _is_pos_table(k)
                and int((v == 0).sum()) >= ZERO_SPAN_VALUES):
            run = _longest_zero_run(v.reshape(-1))
            if run >= ZERO_SPAN_VALUES:
                zeroed.append(f"{k} ({run} zeros in a row)")
    if zeroed:
        raise CheckpointError(f"Checkpoint {path} has zeroed spans in {_listing(zeroed)}: it is damaged.",
                              hint=_REDOWNLOAD_HINT)


def load_checkpoint(model: nn.Module, path: str | Path, kind: Literal["mae", "segmenter", "terratorch"]
                    ) -> LoadReport:
    """Read ``path`` safely, check its values, normalise its keys for ``kind`` and load it strictly into ``model``."""
    path = Path(path)
    sd = extract_state_dict(read_checkpoint(path), path)
    check_values(sd, path)
    sd, notes = normalise_keys(sd, kind)
    notes += load_into(model, sd, path)
    report = LoadReport(path=path, loaded=len(sd), notes=notes)
    for note in notes:
        log.info("%s: %s", path.name, note)
    return report
