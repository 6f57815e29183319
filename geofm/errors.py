"""Errors that carry a message meant for the user (CLI and app show it instead of a traceback).

Callers can catch them generically: bad input is also a ``ValueError``, a missing weights file also a
``FileNotFoundError``, and a service error carries the HTTP status (``status_code``) when there was one.
"""

from __future__ import annotations


class GeofmError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing sentence."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def user_message(self) -> str:
        return f"{self} {self.hint}".strip()


class InputError(GeofmError, ValueError):
    """A file, band count, argument or area the user supplied is unusable."""


class WeightsNotFoundError(GeofmError, FileNotFoundError):
    """Model weights are not on disk and cannot be downloaded."""


class CheckpointError(GeofmError):
    """A checkpoint file is corrupt, unsafe, or does not match the architecture."""


class AOIError(InputError):
    """The area of interest is empty, invalid, out of range or too large."""


class NoScenesError(GeofmError):
    """The search found no scenes for the area and dates."""


class CoverageError(NoScenesError):
    """The dates lie outside what the service holds (e.g. Planetary Computer's HLS starts in 2020)."""


class AllCloudyError(GeofmError):
    """Scenes exist but none has enough clear pixels over the area."""


class ServiceError(GeofmError):
    """A remote service (STAC API, COG host) failed, timed out or refused us.

    ``status_code`` is the HTTP status of the failed response (None: no response, e.g. a timeout).
    ``plain``: the same failure in words any user understands, without the service's address or status (the
    app shows it and logs the full message for the operator); "" = none given.
    """

    def __init__(self, message: str, hint: str = "", *, status_code: int | None = None, plain: str = "") -> None:
        super().__init__(message, hint)
        self.status_code = status_code
        self.plain = plain


#: Plain sentences for service failures (ServiceError.plain): what the user sees in the app.
CATALOGUE_DOWN = "The satellite image catalogue cannot be reached right now; try again in a minute."
CATALOGUE_BUSY = "The satellite image catalogue is busy right now; try again in a few minutes."
IMAGES_DOWN = "The satellite images cannot be read right now; try again in a minute."
IMAGES_BUSY = "The satellite image service is busy right now; try again in a few minutes."


class AuthError(ServiceError):
    """The service needs a login or the signed token expired."""


class DeviceOutOfMemoryError(GeofmError):
    """The accelerator ran out of memory even at batch size 1."""


class BusyError(GeofmError):
    """The shared model queue cannot take this run now (full, or the session's own limits)."""


class QueueFullError(BusyError):
    """Too many runs are waiting for the model."""


class SessionLimitError(BusyError):
    """This browser session already has a run queued or running, or started too many runs lately."""


class OutputError(GeofmError):
    """An output file cannot be written (a bad or colliding path, a full disk); the previous file is kept."""
