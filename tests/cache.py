"""Session fixtures built once and kept between test runs, keyed by the hash of what generates them.

``cached_folder("weights", sources, build)`` returns ``~/.cache/geofm-tests/weights-<hash>``: the hash covers the
generator sources' bytes (and any extra text, e.g. library versions), so a change to a generator builds a new
folder and an unchanged one is reused. A folder is built under a temporary name beside its final one and renamed
into place when complete, so a run that is interrupted, or two runs at once, never see half of one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path.home() / ".cache" / "geofm-tests"
DONE = ".complete"


def content_hash(sources: Iterable[Path], extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for path in sorted(Path(p).resolve() for p in sources):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cached_folder(kind: str, sources: Iterable[Path], build: Callable[[Path], object], extra: str = "",
                  cache: Path = CACHE) -> Path:
    """The folder ``build`` fills, built once per content hash of ``sources`` (+ ``extra``) and reused after."""
    key = content_hash(sources, extra)
    final = cache / f"{kind}-{key}"
    if (final / DONE).is_file():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{kind}-{key}-", dir=cache))
    try:
        build(work)
        (work / DONE).write_text(key)
        try:
            os.rename(work, final)
        except OSError:  # another run renamed its complete copy into place first
            if not (final / DONE).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def linked_copy(source: Path, target: Path) -> Path:
    """``target`` with a hard link (a copy across file systems) of each file of ``source``: tests may add files
    to it and replace files in it without touching the cache."""
    target.mkdir(parents=True, exist_ok=True)
    for f in source.iterdir():
        if f.is_file() and f.name != DONE:
            try:
                os.link(f, target / f.name)
            except OSError:
                shutil.copy2(f, target / f.name)
    return target
