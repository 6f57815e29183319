"""Outputs that are never half-written: check paths up front, write to a private temporary name, verify, rename.

``check_outputs`` refuses output paths that collide with each other or with an input and folders that cannot
be written, before any work is done. ``atomic_output`` yields a temporary path inside a private hidden folder
next to the target (same file system, so the final ``os.replace`` is atomic); the caller writes there, the
file is fsynced and checked, and only then renamed over the target. Any failure — a full disk, a signal, an
exception — leaves the previous file untouched and removes the temporary folder (a SIGKILL leaves only a
hidden ``.geofm-write-*`` folder, never a file at the target that looks valid). A writer holds a lock on
its folder while it works; the next write to the same folder removes the folders (and probe files) that
killed writers left, once they are older than ``STALE_AFTER_S`` and nobody holds their lock.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from geofm.errors import OutputError

log = logging.getLogger(__name__)

TEMP_PREFIX = ".geofm-write-"
#: A temporary write folder untouched for this long, whose lock nobody holds, was left by a killed writer.
STALE_AFTER_S = 3600.0
_LOCK_NAME = ".lock"


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _why(err: OSError) -> str:
    reasons = {errno.ENOSPC: "the disk is full", errno.EFBIG: "the file is larger than this system allows",
               errno.EDQUOT: "the disk quota is used up", errno.EROFS: "the file system is read-only",
               errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.ENOTDIR: "a part of the path is a file, not a folder",
               errno.ENOENT: "the folder does not exist"}
    return reasons.get(err.errno or 0, err.strerror or type(err).__name__)


def check_writable_folder(path: Path, flag: str) -> None:
    """Create ``path``'s folder if needed and prove a file can be created there (then remove it)."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"Cannot write {flag} {path}: {folder} is a file, not a folder.") from None
    except OSError as err:
        raise OutputError(f"Cannot write {flag} {path}: cannot create the folder {folder} ({_why(err)}).") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"Cannot write {flag} {path}: the folder {folder} is not writable ({_why(err)}).") from None


def check_outputs(outputs: Sequence[tuple[str, Path | None]], inputs: Sequence[Path] = ()) -> None:
    """Refuse outputs that collide (with each other or an input), are folders or cannot be written."""
    given = [(flag, Path(p)) for flag, p in outputs if p is not None]
    for flag, path in given:
        for inp in inputs:
            if _same(path, Path(inp)):
                raise OutputError(f"{flag} {path} is also an input; writing it would destroy the input. "
                                  "Give another output name.")
    for i, (flag, path) in enumerate(given):
        for other_flag, other in given[:i]:
            if _same(path, other):
                raise OutputError(f"{other_flag} and {flag} are the same file ({path}); give each output its "
                                  "own name.")
    for flag, path in given:
        if path.is_dir():
            raise OutputError(f"{flag} {path} is a folder; give a file name.")
        check_writable_folder(path, flag)


def _in_use(work: Path) -> bool:
    """Whether a live writer holds ``work``'s lock (a folder without one is judged by its age alone)."""
    try:
        fd = os.open(work / _LOCK_NAME, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock we may have taken
    return False


def remove_stale(folder: Path, *, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the ``.geofm-write-*`` folders and probe files killed writers left in ``folder``; returns them."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(TEMP_PREFIX)]
    except OSError:
        return removed
    for entry in entries:
        path = Path(entry.path)
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < older_than_s:
                continue
            if entry.is_dir(follow_symlinks=False):
                if _in_use(path):
                    continue
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as err:
            log.info("could not remove the stale temporary %s: %s", path, err)
            continue
        log.info("removed %s, left by a write that was killed", path)
        removed.append(path)
    return removed


def umask_mode() -> int:
    """The mode a newly created file gets under this process's umask (0o666 less the umask)."""
    try:  # Linux: read it without changing it (os.umask would change it for every thread for a moment)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def publish(tmp: str | Path, path: str | Path) -> None:
    """Rename the finished temporary file ``tmp`` over ``path`` with the user's usual file mode.

    Temporary files from ``tempfile.mkstemp`` are private (0600); an output must look like any other file
    the user creates (0644 under the common umask 022), so the mode is set from the umask before the rename.
    """
    os.chmod(tmp, umask_mode())
    os.replace(tmp, path)


@contextmanager
def atomic_output(path: str | Path, *, verify: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to; on success fsync, ``verify`` and rename into place.

    ``verify(tmp)`` raises if the written file is not complete. On any error (OSError becomes OutputError)
    the target keeps its previous content and the temporary files are removed.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    lock = -1
    try:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale(folder)
        work = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=folder))
    except OSError as err:
        raise OutputError(f"Cannot write {path}: {_why(err)}.") from None
    tmp = work / path.name
    try:
        lock = os.open(work / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield tmp
        if not tmp.is_file():
            raise OutputError(f"Writing {path} failed: nothing was written.")
        _fsync(tmp)
        if verify is not None:
            verify(tmp)
        os.replace(tmp, path)
        _fsync_dir(folder)
    except OSError as err:
        kept = " The previous file was kept." if path.exists() else ""
        raise OutputError(f"Writing {path} failed: {_why(err)}.{kept}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if lock >= 0:
            os.close(lock)


def write_text(path: str | Path, text: str) -> Path:
    """``text`` to ``path`` (UTF-8) atomically: the old file or the whole new one, never a part."""
    path = Path(path)
    with atomic_output(path, verify=lambda tmp: _same_size(tmp, len(text.encode()))) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    return path


def _same_size(path: Path, size: int) -> None:
    if path.stat().st_size != size:
        raise OutputError(f"Writing {path.name} failed: the file on disk is incomplete (is the disk full?).")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
