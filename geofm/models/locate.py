"""Where a model's weights file is on this machine: a weights folder or the Hugging Face cache.

File look-ups only (no torch), so the app can tell whether a model is installed without loading the
deep-learning stack (the start-up preload and the task pages' "weights missing" check use it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from geofm.config import ENV_WEIGHTS_DIR, ModelSpec, get_model_spec
from geofm.errors import WeightsNotFoundError
from geofm.settings import settings

log = logging.getLogger(__name__)


def candidate_files(spec: ModelSpec) -> list[tuple[str, str]]:
    """(repo, filename) pairs for ``spec``: the current published name first, then older aliases."""
    return [(spec.hf_repo, spec.filename), *spec.aliases]


def _hf_cache_dir() -> str:
    """The Hugging Face cache folder as the environment names it now.

    huggingface_hub reads these variables once, when it is first imported; reading them at each call keeps a
    process that changes them later (a test, a Space's start script) from searching a stale folder.
    """
    env = os.environ
    hub = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if hub:
        return os.path.expanduser(os.path.expandvars(hub))
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return os.path.join(os.path.expanduser(os.path.expandvars(home)), "hub")


def find_in_folder(spec: ModelSpec, folder: str | Path) -> Path | None:
    """The spec's file (current or alias name) in ``folder``, or None."""
    for _, filename in candidate_files(spec):
        path = Path(folder).expanduser() / filename
        if path.is_file():
            return path
    return None


def _revisions(spec: ModelSpec) -> list[str | None]:
    """The pinned revision first, then the default branch (a Space preloads ``main``; the hash still decides)."""
    return [spec.revision, None] if spec.revision else [None]


def find_in_hf_cache(spec: ModelSpec) -> Path | None:
    """The spec's file in the local Hugging Face cache (no network), or None."""
    from huggingface_hub import hf_hub_download  # lazy: huggingface_hub

    for repo, filename in candidate_files(spec):
        for revision in _revisions(spec):
            try:
                return Path(hf_hub_download(repo, filename, revision=revision, local_files_only=True,
                                            cache_dir=_hf_cache_dir()))
            except Exception as err:  # not cached (LocalEntryNotFoundError) or an unusable cache entry
                log.debug("%s/%s@%s not in the HF cache: %s", repo, filename, revision, err)
    return None


def resolve_weights(spec: ModelSpec | str, weights_dir: str | Path | None = None) -> Path:
    """Path of the spec's weights file on this machine; WeightsNotFoundError when it is nowhere."""
    spec = get_model_spec(spec) if isinstance(spec, str) else spec
    folders = [Path(d) for d in (weights_dir, settings().weights_dir) if d]
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
