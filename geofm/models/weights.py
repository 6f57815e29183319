"""Finding, downloading and loading the published Prithvi weights.

Look-up order: an explicit ``weights_dir``, then ``$GEOFM_WEIGHTS_DIR`` (files under their published names
or the older alias names), then the Hugging Face cache (``hf_hub_download(..., local_files_only=True)``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from geofm.config import ENV_WEIGHTS_DIR, ModelSpec, SegmenterConfig, ViTConfig
from geofm.errors import ServiceError, WeightsNotFoundError
from geofm.models.checkpoints import load_checkpoint
from geofm.models.factory import as_spec, empty_model

log = logging.getLogger(__name__)


def candidate_files(spec: ModelSpec) -> list[tuple[str, str]]:
    """(repo, filename) pairs for ``spec``: the current published name first, then older aliases."""
    return [(spec.hf_repo, spec.filename), *spec.aliases]


def _hf_cache_dir() -> str | None:
    return os.environ.get("HF_HUB_CACHE") or None


def find_in_folder(spec: ModelSpec, folder: str | Path) -> Path | None:
    """The spec's file (current or alias name) in ``folder``, or None."""
    for _, filename in candidate_files(spec):
        path = Path(folder).expanduser() / filename
        if path.is_file():
            return path
    return None


def find_in_hf_cache(spec: ModelSpec) -> Path | None:
    """The spec's file in the local Hugging Face cache (no network), or None."""
    from huggingface_hub import hf_hub_download

    for repo, filename in candidate_files(spec):
        try:
            return Path(hf_hub_download(repo, filename, local_files_only=True, cache_dir=_hf_cache_dir()))
        except Exception as err:  # not cached (LocalEntryNotFoundError) or an unusable cache entry
            log.debug("%s/%s not in the HF cache: %s", repo, filename, err)
    return None


def resolve_weights(spec: ModelSpec | str, weights_dir: str | Path | None = None) -> Path:
    """Path of the spec's weights file on this machine; WeightsNotFoundError when it is nowhere."""
    spec = as_spec(spec)
    folders = [Path(d) for d in (weights_dir, os.environ.get(ENV_WEIGHTS_DIR)) if d]
    for folder in folders:
        found = find_in_folder(spec, folder)
        if found:
            return found
    found = find_in_hf_cache(spec)
    if found:
        return found
    searched = ", ".join(str(f) for f in folders) + (", " if folders else "") + "the Hugging Face cache"
    raise WeightsNotFoundError(
        f"Weights for {spec.title} ({spec.name}) were not found: {spec.filename} from "
        f"huggingface.co/{spec.hf_repo} is not in {searched}.",
        hint=f"Get it with `python -m geofm weights download {spec.name}` (about {spec.size_mb} MB), "
             f"or copy {spec.filename} into the folder named by {ENV_WEIGHTS_DIR}.")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def download_weights(spec: ModelSpec | str, *, tqdm_class: type | None = None,
                     endpoint: str | None = None) -> Path:
    """Download the spec's file into the Hugging Face cache (or return it if already there).

    ``tqdm_class`` receives the byte progress (``geofm.models.download.byte_progress_class``);
    ``endpoint`` overrides the Hub URL (default: huggingface_hub's, i.e. ``HF_ENDPOINT`` at import).
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    spec = as_spec(spec)
    cached = find_in_hf_cache(spec)
    if cached:
        return cached
    where = f"{spec.filename} from huggingface.co/{spec.hf_repo}"
    if _offline():
        raise ServiceError(f"Cannot download {where}: Hugging Face offline mode is on (HF_HUB_OFFLINE).",
                           hint=f"Unset HF_HUB_OFFLINE, or copy the file into {ENV_WEIGHTS_DIR}.")
    last: Exception | None = None
    for repo, filename in candidate_files(spec):
        try:
            return Path(hf_hub_download(repo, filename, cache_dir=_hf_cache_dir(), tqdm_class=tqdm_class,
                                        endpoint=endpoint))
        except (EntryNotFoundError, RepositoryNotFoundError) as err:  # renamed upstream: try the next name
            last = err
        except Exception as err:
            raise ServiceError(f"Could not download {where}: {_reason(err)}.",
                               hint=f"Check the internet connection, or copy the file into "
                                    f"{ENV_WEIGHTS_DIR}.") from None
    raise ServiceError(f"Could not download {where}: the file is not on Hugging Face under any known name "
                       f"({_reason(last)}).", hint=f"Copy the file into {ENV_WEIGHTS_DIR}.")


def _reason(err: Exception | None) -> str:
    if err is None:
        return "unknown error"
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text[:160]}" if text else type(err).__name__


def load_model(spec: ModelSpec | str, *, weights_dir: str | Path | None = None,
               device: str | torch.device = "cpu", arch: ViTConfig | SegmenterConfig | None = None
               ) -> nn.Module:
    """Resolve the weights file, load it safely and strictly, and return the model in eval mode on ``device``."""
    spec = as_spec(spec)
    path = resolve_weights(spec, weights_dir)
    model = empty_model(spec, arch)
    report = load_checkpoint(model, path, spec.kind)
    log.info("loaded %s from %s (%d tensors)", spec.name, path, report.loaded)
    return model.to(device).eval()
