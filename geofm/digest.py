"""SHA-256 of a file: the one implementation (``hashlib.file_digest``), and the same remembered per process."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


_REMEMBERED: dict[tuple[str, int, float], str] = {}
_LOCK = threading.Lock()


def remembered_sha256(path: str | Path) -> str:
    """``file_sha256``, hashed once per (file, size, modification time) per process."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime)
    with _LOCK:
        found = _REMEMBERED.get(key)
    if found is None:
        found = file_sha256(path)
        with _LOCK:
            _REMEMBERED[key] = found
    return found
