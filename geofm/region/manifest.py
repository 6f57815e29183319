"""The run's manifest: what was asked, every chunk with its status, scenes and tile checksum.

Written atomically (temporary file + ``os.replace``) after every finished chunk, so a killed run leaves a
manifest that names exactly the tiles that are complete; ``--resume`` trusts a tile only when its sha256
matches the manifest.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from geofm.config import REGION
from geofm.errors import InputError
from geofm.io.safewrite import publish
from geofm.digest import file_sha256 as sha256_of

MANIFEST_VERSION = 1
DONE, FAILED, PENDING = "done", "failed", "pending"
#: Chunk ids: ``<EPSG>_<row>_<col>`` (``geofm.region.chunks.make_chunks``).
_CHUNK_ID = re.compile(r"[0-9]{4,5}_[0-9]{4,}_[0-9]{4,}")
log = logging.getLogger(__name__)


def tile_name(chunk_id: str) -> str:
    """The one name a chunk's tile has in the manifest: ``tiles/<chunk id>.tif``, relative to the run folder."""
    return f"{REGION.tiles_dir}/{chunk_id}.tif"


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON next to ``path`` under a temporary name, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, indent=1, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@dataclass
class Manifest:
    """In-memory manifest of one region run (one folder)."""

    path: Path
    params: dict[str, Any]
    zones: list[dict[str, Any]] = field(default_factory=list)
    chunks: dict[str, dict[str, Any]] = field(default_factory=dict)
    mosaic: dict[str, Any] | None = None
    #: SHA-256 of the checkpoint that made the tiles (each chunk also records its own).
    checkpoint_sha256: str = ""

    @property
    def folder(self) -> Path:
        return self.path.parent

    def to_json(self) -> dict[str, Any]:
        return {"version": MANIFEST_VERSION, "params": self.params, "zones": self.zones,
                "chunks": list(self.chunks.values()), "mosaic": self.mosaic,
                "checkpoint_sha256": self.checkpoint_sha256,
                "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def save(self) -> None:
        write_json_atomic(self.path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a manifest. Files are trusted only under the names this run gives them (:func:`tile_name`):
        a chunk whose ``file`` is anything else (an absolute path, ``../``, another chunk's tile) is pending."""
        try:
            raw = json.loads(path.read_text())
            chunks = {}
            for c in raw["chunks"]:
                if not isinstance(c, dict) or not isinstance(c.get("id"), str) or not _CHUNK_ID.fullmatch(c["id"]):
                    raise ValueError(f"a chunk record without a valid id: {str(c)[:80]}")
                if c.get("file") is not None and c.get("file") != tile_name(c["id"]):
                    log.warning("manifest %s: chunk %s names the file %r, not its tile; it is run again",
                                path, c["id"], c.get("file"))
                    c = {"id": c["id"], "status": PENDING}
                chunks[c["id"]] = c
            return cls(path, raw["params"], raw.get("zones", []), chunks, raw.get("mosaic"),
                       str(raw.get("checkpoint_sha256") or ""))
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as err:
            raise InputError(f"The run folder's manifest {path.name} cannot be read ({err}); "
                             "start again in an empty folder.") from None

    # ------------------------------------------------------------------ chunk state
    def is_complete(self, chunk_id: str, checkpoint_sha256: str = "") -> bool:
        """True when the chunk is done and its tile (a regular file under its own name in the run folder) is on
        disk with the recorded checksum; made with the checkpoint ``checkpoint_sha256`` when that is given."""
        rec = self.chunks.get(chunk_id)
        if not rec or rec.get("status") != DONE or rec.get("file") != tile_name(chunk_id) or not rec.get("sha256"):
            return False
        if checkpoint_sha256 and rec.get("checkpoint_sha256") != checkpoint_sha256:
            return False
        path = self.folder / tile_name(chunk_id)
        return path.is_file() and not path.is_symlink() and sha256_of(path) == rec["sha256"]

    def record(self, chunk_id: str, result: dict[str, Any]) -> None:
        rec = self.chunks.setdefault(chunk_id, {"id": chunk_id})
        if result.get("status") != DONE:
            for key in ("file", "sha256"):
                rec.pop(key, None)
        rec.update(result)

    def counts(self) -> dict[str, int]:
        out = {DONE: 0, FAILED: 0, PENDING: 0}
        for rec in self.chunks.values():
            out[rec.get("status", PENDING)] = out.get(rec.get("status", PENDING), 0) + 1
        return out

    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.chunks.values() if r.get("status") == FAILED]

    def done(self) -> list[dict[str, Any]]:
        return [r for r in self.chunks.values() if r.get("status") == DONE]


def open_manifest(folder: Path, params: dict[str, Any], *, resume: bool) -> Manifest:
    """A fresh manifest, or (``resume``) the folder's existing one when it was made with the same parameters."""
    path = folder / REGION.manifest_name
    if path.exists():
        if not resume:
            raise InputError(f"{folder} already holds a region run; add --resume to continue it, or choose "
                             "another output folder.")
        old = Manifest.load(path)
        if old.params != params:
            diff = sorted(k for k in set(old.params) | set(params) if old.params.get(k) != params.get(k))
            raise InputError(f"{folder} holds a run with other settings ({', '.join(diff)}); --resume continues "
                             "only the same run.")
        return old
    return Manifest(path, params)
