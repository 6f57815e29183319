"""Progress reporting shared by the CLI, the app and the Python API."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Called by long stages: ``stage`` is one of search, read, infer, render."""

    def __call__(self, stage: str, message: str, fraction: float | None = None) -> None: ...


def null_progress(stage: str, message: str, fraction: float | None = None) -> None:
    """A Progress that ignores everything."""
