"""Finding, downloading and loading the published Prithvi weights.

Look-up order: an explicit ``weights_dir``, then ``$GEOFM_WEIGHTS_DIR`` (files under their published names
or the older alias names), then the Hugging Face cache (``hf_hub_download(..., local_files_only=True)``).
Downloads use the registry's pinned ``revision``; a file that came from Hugging Face (download or cache) is
checked against the registry's ``sha256`` before it is loaded, so a re-upload cannot silently change results.
Files an operator put in a weights folder are taken as they are.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import torch
from torch import nn

from geofm.config import ENV_WEIGHTS_DIR, ModelSpec
from geofm.digest import file_sha256, remembered_sha256
from geofm.errors import CheckpointError, ServiceError, WeightsNotFoundError
from geofm.models.checkpoints import load_checkpoint
from geofm.models.factory import Arch, as_spec, empty_model
from geofm.models.hub import hf_offline, hub_problem
from geofm.models.locate import _hf_cache_dir, candidate_files, find_in_hf_cache, resolve_weights
from geofm.models.tt_config import load_arch
from geofm.settings import settings

log = logging.getLogger(__name__)


_VERIFIED: set[tuple[str, int, float, str]] = set()  # (path, size, mtime, sha256) already checked
_VERIFY_LOCK = threading.Lock()


def weights_sha256(path: str | Path) -> str:
    """SHA-256 of a weights file, hashed once per (file, size, mtime) per process: results record it."""
    return remembered_sha256(path)


def _published(spec: ModelSpec, path: str | Path) -> bool:
    """Whether the registry's size and hash describe ``path``: the current published name (an older alias
    name may hold another layout of the same weights, with its own bytes)."""
    return Path(path).name == spec.filename


def verify_size(spec: ModelSpec, path: str | Path) -> None:
    """CheckpointError when ``path`` is not the published file's size (a truncated or padded copy)."""
    if not spec.size_bytes or not _published(spec, path):
        return
    size = os.stat(path).st_size
    if size != spec.size_bytes:
        what = "incomplete" if size < spec.size_bytes else "not the published one"
        raise CheckpointError(
            f"The weights file {Path(path).name} for {spec.title} is {what} ({size:,} bytes, expected "
            f"{spec.size_bytes:,}).",
            hint=f"Delete it and download it again with `python -m geofm weights download {spec.name}`.")


def verify_sha256(spec: ModelSpec, path: str | Path) -> None:
    """CheckpointError when ``path`` is not the published file: its size (when known) first, then its SHA-256
    (when known). Each (file, size, mtime) is hashed once per process.
    """
    verify_size(spec, path)
    if not spec.sha256 or not _published(spec, path):
        return
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime, spec.sha256)
    with _VERIFY_LOCK:
        if key in _VERIFIED:
            return
        got = file_sha256(path)
        if got != spec.sha256.lower():
            raise CheckpointError(
                f"The weights file {Path(path).name} for {spec.title} is not the published one "
                f"(SHA-256 {got[:12]}…, expected {spec.sha256[:12]}…).",
                hint=f"Delete it and download it again with `python -m geofm weights download {spec.name}`.")
        _VERIFIED.add(key)


def _in_folders(path: Path, weights_dir: str | Path | None) -> bool:
    folders = [Path(d).expanduser().resolve() for d in (weights_dir, settings().weights_dir) if d]
    return Path(path).resolve().parent in folders


def download_weights(spec: ModelSpec | str, *, tqdm_class: type | None = None,
                     endpoint: str | None = None, force: bool = False) -> Path:
    """Download the spec's file into the Hugging Face cache (or return it if already there).

    ``tqdm_class`` receives the byte progress (``geofm.models.download.byte_progress_class``);
    ``endpoint`` overrides the Hub URL (default: huggingface_hub's, i.e. ``HF_ENDPOINT`` at import);
    ``force`` downloads again over a cached file that failed its size or hash check.
    """
    from huggingface_hub import hf_hub_download  # lazy: huggingface_hub
    from huggingface_hub.errors import (  # lazy: huggingface_hub
        EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError)

    spec = as_spec(spec)
    cached = None if force else find_in_hf_cache(spec)
    if cached:
        verify_sha256(spec, cached)
        _download_config(spec, cached, endpoint)
        return cached
    where = f"{spec.filename} from huggingface.co/{spec.hf_repo}"
    if hf_offline():
        raise ServiceError(f"Cannot download {where}: Hugging Face offline mode is on (HF_HUB_OFFLINE).",
                           hint=f"Unset HF_HUB_OFFLINE, or copy the file into {ENV_WEIGHTS_DIR}.")
    reach = hub_problem(endpoint)
    if reach:
        raise ServiceError(f"Cannot download {where}: {reach}.",
                           hint=f"Check the internet connection, or copy the file into {ENV_WEIGHTS_DIR}.")
    last: Exception | None = None
    for repo, filename in candidate_files(spec):
        try:
            path = Path(hf_hub_download(repo, filename, revision=spec.revision, cache_dir=_hf_cache_dir(),
                                        tqdm_class=tqdm_class, endpoint=endpoint, force_download=force))
        except LocalEntryNotFoundError as err:  # no connection (a subclass of EntryNotFoundError)
            raise ServiceError(f"Could not download {where}: Hugging Face could not be reached ({_reason(err)}).",
                               hint=f"Check the internet connection, or copy the file into "
                                    f"{ENV_WEIGHTS_DIR}.") from None
        except (EntryNotFoundError, RepositoryNotFoundError) as err:  # renamed upstream: try the next name
            last = err
            continue
        except Exception as err:
            status = getattr(getattr(err, "response", None), "status_code", None)
            raise ServiceError(f"Could not download {where}: {_reason(err)}.",
                               hint=f"Check the internet connection, or copy the file into "
                                    f"{ENV_WEIGHTS_DIR}.", status_code=status) from None
        verify_sha256(spec, path)
        _download_config(spec, path, endpoint)
        return path
    raise ServiceError(f"Could not download {where}: the file is not on Hugging Face under any known name "
                       f"({_reason(last)}).", hint=f"Copy the file into {ENV_WEIGHTS_DIR}.")


def _download_config(spec: ModelSpec, weights_path: Path, endpoint: str | None) -> None:
    """TerraTorch fine-tunes: fetch the published config too (a few kB), unless it is already at hand."""
    if not spec.config_file:
        return
    try:
        resolve_config(spec, weights_path)
        return
    except WeightsNotFoundError:
        pass
    from huggingface_hub import hf_hub_download  # lazy: huggingface_hub

    try:
        hf_hub_download(spec.hf_repo, spec.config_file, revision=spec.revision, cache_dir=_hf_cache_dir(),
                        endpoint=endpoint)
    except Exception as err:
        raise ServiceError(f"Could not download {spec.config_file} from huggingface.co/{spec.hf_repo}: "
                           f"{_reason(err)}.", hint="Check the internet connection, or copy the file beside "
                                                    "the weights.") from None


def _reason(err: Exception | None) -> str:
    if err is None:
        return "unknown error"
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text[:160]}" if text else type(err).__name__


def resolve_config(spec: ModelSpec, weights_path: str | Path) -> Path:
    """The spec's published config: beside its weights file, else in the Hugging Face cache."""
    beside = Path(weights_path).parent / spec.config_file
    if beside.is_file():
        return beside
    from huggingface_hub import hf_hub_download  # lazy: huggingface_hub

    for revision in ([spec.revision, None] if spec.revision else [None]):
        try:
            return Path(hf_hub_download(spec.hf_repo, spec.config_file, revision=revision, local_files_only=True,
                                        cache_dir=_hf_cache_dir()))
        except Exception as err:  # not cached
            log.debug("%s/%s not in the HF cache: %s", spec.hf_repo, spec.config_file, err)
    raise WeightsNotFoundError(
        f"The config of {spec.title} ({spec.config_file} from huggingface.co/{spec.hf_repo}) is neither beside "
        f"{Path(weights_path).name} nor in the Hugging Face cache.",
        hint=f"Get it with `python -m geofm weights download {spec.name}`, or copy {spec.config_file} beside "
             "the weights file.")


def load_model(spec: ModelSpec | str, *, weights_dir: str | Path | None = None,
               device: str | torch.device = "cpu", arch: Arch | None = None) -> nn.Module:
    """Resolve the weights file, load it safely and strictly, and return the model in eval mode on ``device``.

    TerraTorch fine-tunes are built from their published config (``spec.config_file``) unless ``arch`` is given.
    """
    spec = as_spec(spec)
    path = resolve_weights(spec, weights_dir)
    if not _in_folders(path, weights_dir):
        verify_sha256(spec, path)
    if spec.config_file and arch is None:
        arch = load_arch(spec, resolve_config(spec, path))
    model = empty_model(spec, arch)
    report = load_checkpoint(model, path, "terratorch" if spec.checkpoint_layout == "terratorch" else spec.kind)
    log.info("loaded %s from %s (%d tensors)", spec.name, path, report.loaded)
    return model.to(device).eval()
