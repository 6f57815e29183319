"""A ready-to-run copy of a published checkpoint: keys normalised, segmenters folded, stored as safetensors.

The published files are pickled PyTorch checkpoints (read through a restricted unpickler) and the
segmenters need their neck/head folded after loading (``geofm.models.fold``), which costs seconds on
a CPU. The first load therefore writes the finished state dict beside the original file
(``<file>.geofm.safetensors``; under ``$GEOFM_CACHE_DIR/prepared`` when that folder is not writable),
atomically (temporary file + rename). Its metadata records the sha256 of the source file, the model name
and a digest of the tensors themselves (``tensor_digest``: sha256 over every tensor's name, dtype, shape and
bytes, bound to the model name and the source checksum). A copy is written only when its tensors pass the
same NaN/Inf/zeroed-span checks as the source checkpoint; a later load hashes the source again and uses the
copy only when the checksum, the model name and the format match and the tensors read back have the
recorded digest (so they are the checked ones, byte for byte; the value scan itself, about 10 s for the
flood copy on a loaded 2-core machine against 1 s for the digest, is not repeated) — otherwise the copy is
damaged or stale and is rebuilt from the source (the source must be there: without it the load stops with the usual
one-line "weights not found"). A copy holding another model's tensors, or this model's tensors under another
layout, never has the digest recorded in its header. The copy is read with safetensors only (never
unpickled), into a model built on the meta device (folded structure, no fold arithmetic), with
``assign=True`` (no copy).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from geofm.config import ModelSpec
from geofm.digest import file_sha256 as sha256_file
from geofm.models.checkpoints import check_values
from geofm.models.factory import _construct, as_spec, reset_fixed_buffers
from geofm.models.fold import FoldedUpsampleHead, MergedUpsample, fold_segmenter
from geofm.models.weights import load_model, resolve_weights
from geofm.settings import settings

log = logging.getLogger(__name__)

SUFFIX = ".geofm.safetensors"
#: Bump when the stored layout changes (module structure, fold arithmetic): older copies are rebuilt.
FORMAT = "geofm-prepared-2"


@dataclass
class LoadTimes:
    """Seconds per cold-start stage of one model load (what ``bench/model_cold_start.py`` reports)."""

    seconds: dict[str, float] = field(default_factory=dict)
    prepared: str = ""  # "used", "written", "stale" or "damaged" (rebuilt), "unwritable" or "" (not tried)
    copy: Path | None = None  # the ready copy's path

    def add(self, stage: str, started: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started


def _writable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def prepared_path(source: str | Path, digest: str = "") -> Path:
    """Where the ready copy of ``source`` lives: beside it, or in geofm's cache when that folder is read-only."""
    source = Path(source)
    beside = source.with_name(source.name + SUFFIX)
    if _writable(source.parent) or beside.is_file():
        return beside
    root = settings().cache_dir / "prepared"
    return root / f"{(digest or 'nodigest')[:16]}-{source.name}{SUFFIX}"


def _metadata(spec: ModelSpec, source_sha256: str, folded: bool) -> dict[str, str]:
    return {"format": FORMAT, "model": spec.name, "source_sha256": source_sha256, "folded": str(int(folded)),
            "torch": torch.__version__.split("+")[0]}


def _tensor_sha256(tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().reshape(-1)
    data = flat.view(torch.uint8) if flat.numel() else torch.empty(0, dtype=torch.uint8)
    return hashlib.sha256(memoryview(data.numpy())).digest()  # hashlib releases the GIL: threads add up


def tensor_digest(tensors: dict[str, torch.Tensor], model: str, source_sha256: str) -> str:
    """Hex sha256 binding ``tensors`` (every name, dtype, shape and byte) to ``model`` and its source file.

    Per-tensor hashes are computed on a few threads and combined in key order, so a copy's check costs
    about a fifth of a second per GB on one core of a recent CPU (SHA extensions) and less on several.
    """
    names = sorted(tensors)
    contiguous = [tensors[k].contiguous() for k in names]
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        parts = list(pool.map(_tensor_sha256, contiguous))
    digest = hashlib.sha256(f"{FORMAT}\0{model}\0{source_sha256}\0".encode())
    for name, tensor, part in zip(names, contiguous, parts):
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(part)
    return digest.hexdigest()


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a safetensors file (header only)."""

    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata() or {})


def write_prepared(model: nn.Module, spec: ModelSpec, path: str | Path, source_sha256: str, *,
                   folded: bool) -> Path:
    """Write ``model``'s state dict to ``path`` as safetensors with the source checksum, atomically."""

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    check_values(tensors, path)  # never store what the source check would refuse (a fold gone wrong)
    metadata = _metadata(spec, source_sha256, folded) | {
        "tensor_digest": tensor_digest(tensors, spec.name, source_sha256)}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _empty_buffers(module: nn.Module, shapes: dict[str, tuple[int, ...]]) -> nn.Module:
    nn.Module.__init__(module)
    for name, shape in shapes.items():
        module.register_buffer(name, torch.empty(shape, device="meta"))
    return module


def _materialise(model: nn.Module) -> nn.Module:
    """Give tensors still on the meta device (buffers the copy does not store) uninitialised CPU memory.

    ``torch.empty(shape)`` rather than ``to_empty``: the latter's first call imports torch's symbolic
    shape machinery (about 0.3 s of a cold start).
    """
    return model._apply(lambda t: torch.empty(tuple(t.shape), dtype=t.dtype) if t.is_meta else t)


def _skeleton(spec: ModelSpec, folded: bool) -> nn.Module:
    """The model's module structure (folded when asked) on the meta device: no memory, no arithmetic.

    The folded modules get buffers of the shapes ``fold_segmenter`` gives them, without the fold's
    arithmetic; a shape that disagrees with the stored copy fails the strict load, and the copy is rebuilt.
    """

    with torch.device("meta"):
        model = _construct(spec, spec.arch).eval()
    if not folded:
        return model
    up, first, second = model.neck.fpn2[3], model.neck.fpn1[3], model.neck.fpn2[0]
    conv, classifier = model.decode_head.convs[0].conv, model.decode_head.conv_seg
    co, cin, k = int(conv.out_channels), int(up.in_channels), int(classifier.out_channels)
    head = _empty_buffers(FoldedUpsampleHead.__new__(FoldedUpsampleHead), {
        "weight": (4 * co, cin, 2, 2), "ones_kernel": (4 * co, 1, 2, 2), "bias": (4 * co,),
        "cls_weight": (4 * k, co, 1, 1), "cls_bias": (4 * k,)})
    head.num_classes = k
    head._bias_maps = {}
    cout = int(second.out_channels)
    merged = _empty_buffers(MergedUpsample.__new__(MergedUpsample), {
        "weight": (16 * cout, int(first.in_channels)), "bias": (16 * cout,)})  # one GEMM: (16 * Cout, Cin)
    merged.cout = cout
    model.decode_head = head
    model.neck.fpn2[3] = nn.Identity()
    model.neck.fpn1[3] = merged
    model.neck.fpn2[0] = nn.Identity()
    return model.eval()


def load_prepared(spec: ModelSpec | str, path: str | Path, source_sha256: str, *,
                  folded: bool, why: list[str] | None = None) -> nn.Module | None:
    """The model from a ready copy, or None when there is none or it does not match the source.

    ``why`` (when given) receives ``"stale"`` (another source, model or format: an expected rebuild) or
    ``"damaged"`` (unreadable, tensors not those recorded, NaN/Inf or zeroed spans, layout not this model's).
    """

    spec = as_spec(spec)
    path = Path(path)
    why = why if why is not None else []
    if not path.is_file():
        return None
    try:
        meta = read_metadata(path)
    except Exception as err:  # truncated / not safetensors: rebuild it
        log.warning("ignoring unreadable prepared weights %s: %s", path, err)
        why.append("damaged")
        return None
    expected = _metadata(spec, source_sha256, folded)
    if {k: meta.get(k) for k in expected if k != "torch"} != {k: v for k, v in expected.items() if k != "torch"}:
        log.info("prepared weights %s are stale (source or format changed): rebuilding", path)
        why.append("stale")
        return None
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as err:  # noqa: BLE001 - safetensors' own errors for a damaged body
        log.warning("prepared weights %s cannot be read (%s): rebuilding them from the source", path, err)
        why.append("damaged")
        return None
    if meta.get("tensor_digest") != tensor_digest(tensors, spec.name, source_sha256):
        log.warning("prepared weights %s are damaged or are not %s's (their tensors do not match the digest "
                    "recorded when they were written): rebuilding them from the source", path, spec.name)
        why.append("damaged")
        return None
    model = _skeleton(spec, folded)
    try:
        model.load_state_dict(tensors, strict=True, assign=True)
    except Exception as err:
        log.warning("prepared weights %s do not fit %s (%s): rebuilding", path, spec.name, err)
        why.append("damaged")
        return None
    model = _materialise(model)
    reset_fixed_buffers(model)  # non-persistent tables are not stored
    return model.eval()


def load_ready_model(spec: ModelSpec | str, *, weights_dir: str | Path | None = None,
                     times: LoadTimes | None = None, fold: bool | None = None) -> nn.Module:
    """The model on CPU in eval mode (segmenters folded), from the ready copy when it matches the source.

    Without a matching copy: load the published file, fold, and write the copy for the next start
    (a failure to write is logged, never fatal).
    """

    spec = as_spec(spec)
    times = times if times is not None else LoadTimes()
    if spec.config_file:  # built from its published config at each load: no ready copy of a fixed skeleton
        started = time.perf_counter()
        model = load_model(spec, weights_dir=weights_dir)
        times.add("weights", started)
        return model
    folded = spec.kind == "segmenter" if fold is None else fold
    source = resolve_weights(spec, weights_dir)
    started = time.perf_counter()
    digest = sha256_file(Path(source).resolve())
    times.add("checksum", started)
    target = prepared_path(source, digest)
    times.copy = target
    started = time.perf_counter()
    why: list[str] = []
    model = load_prepared(spec, target, digest, folded=folded, why=why)
    if model is not None:
        times.add("weights", started)
        times.prepared = "used"
        return model
    rebuilt = why[0] if why else ("stale" if target.is_file() else "")
    started = time.perf_counter()
    model = load_model(spec, weights_dir=weights_dir)
    times.add("weights", started)
    if folded:
        started = time.perf_counter()
        model = fold_segmenter(model, inplace=True)
        times.add("fold", started)
    started = time.perf_counter()
    try:
        write_prepared(model, spec, target, digest, folded=folded)
        times.prepared = rebuilt or "written"
    except Exception as err:  # noqa: BLE001 - OSError, or safetensors' own error on a full disk: never fatal
        log.warning("could not write prepared weights %s: %s", target, err)
        times.prepared = "unwritable"
    times.add("write copy", started)
    return model
