"""The series folder's manifest: what was asked and every date's COG with its sha256.

Saved (atomically) after every date written, so a killed series leaves a manifest naming exactly the COGs
that are complete; ``--resume`` trusts a COG only when it is a plain name inside the folder and its sha256
matches, as ``geofm region`` does for its tiles.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geofm.config import SERIES
from geofm.errors import InputError
from geofm.io.safewrite import atomic_output
from geofm.region.job import sha256_of

MANIFEST_VERSION = 1
#: The only file names a manifest may point at: a date's COG directly inside the folder.
COG_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}\.tif$")


def write_json(path: Path, obj: Any) -> None:
    """JSON written through ``atomic_output``: never half-written."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, default=str))


@dataclass
class SeriesManifest:
    path: Path
    params: dict[str, Any]
    dates: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def save(self) -> None:
        write_json(self.path, {"version": MANIFEST_VERSION, "params": self.params,
                               "dates": list(self.dates.values())})

    def is_complete(self, day: str) -> bool:
        """True when the date's COG is recorded done, named inside the folder, and matches its sha256."""
        rec = self.dates.get(day)
        if not rec or rec.get("status") != "done":
            return False
        name, digest = rec.get("file"), rec.get("sha256")
        if not isinstance(name, str) or not COG_NAME.match(name) or not isinstance(digest, str):
            return False
        path = self.folder / name
        return path.is_file() and not path.is_symlink() and sha256_of(path) == digest

    def record(self, day: str, file: str, **extra: Any) -> None:
        self.dates[day] = {"date": day, "file": file, "sha256": sha256_of(self.folder / file), "status": "done",
                           **extra}


def _describe(params: dict[str, Any]) -> str:
    return f"{params.get('task', '?')}, {params.get('start', '?')} to {params.get('end', '?')}"


def open_series_manifest(folder: Path, params: dict[str, Any], *, resume: bool) -> SeriesManifest:
    """A fresh manifest, or (``resume``) the folder's own when it holds the same series; another series (or
    a region run) in the folder is refused."""
    path = folder / SERIES.manifest_name
    if (folder / "manifest.json").is_file() and not path.exists():
        raise InputError(f"{folder} holds a region run; choose another folder for the series.")
    if not path.exists():
        return SeriesManifest(path, params)
    try:
        raw = json.loads(path.read_text())
        old = SeriesManifest(path, dict(raw["params"]), {str(d["date"]): dict(d) for d in raw["dates"]})
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{folder} holds a series whose {SERIES.manifest_name} cannot be read; choose another "
                         "folder.") from None
    if not resume:
        raise InputError(f"{folder} already holds a series ({_describe(old.params)}); add --resume to continue it, "
                         "or choose another folder.")
    if old.params != params:
        diff = sorted(k for k in set(old.params) | set(params) if old.params.get(k) != params.get(k))
        raise InputError(f"{folder} holds another series ({_describe(old.params)}; differs in {', '.join(diff)}); "
                         "--resume continues only the same series.")
    return old
