"""What a user may ask for: input limits, the fair queue's admission limits, the explore page's defaults."""

from __future__ import annotations

from dataclasses import dataclass

from geofm.settings import Settings, from_environment, settings

_SETTINGS = Settings()  # the operator settings' defaults, named once in geofm.settings


@dataclass(frozen=True)
class QueueLimits:
    """Admission control of the shared model queue (fair use of one accelerator by many visitors)."""

    max_waiting: int = _SETTINGS.queue_max  # runs in line behind the running one
    runs_per_minute: int = _SETTINGS.runs_per_minute  # per browser session, counted when a run joins the line
    jobs_per_session: int = _SETTINGS.jobs_per_session  # queued or running at once, per browser session
    job_seconds: float = _SETTINGS.job_seconds  # first guess of one run's time in the slot (then measured)

    @classmethod
    def from_env(cls, env: "dict[str, str] | None" = None) -> "QueueLimits":
        """Limits from the operator's settings (``env``: parse these variables instead of the environment);
        a bad value raises SettingsError naming the variable."""
        s = settings() if env is None else from_environment(env)
        return cls(max_waiting=s.queue_max, runs_per_minute=s.runs_per_minute, jobs_per_session=s.jobs_per_session,
                   job_seconds=s.job_seconds)


@dataclass(frozen=True)
class InputLimits:
    """What a local or uploaded raster may be, checked from its header before any pixel is decoded."""

    #: Bytes of working memory per band sample while reading and preparing (int16/float32 copies and masks),
    #: on top of the sample's own size in the file's dtype.
    work_bytes_per_sample: int = 16
    #: Memory an upload may take to decode, MB (the app's server is shared by every session).
    upload_budget_mb: float = 1024.0
    #: Memory a command-line input may take to decode, MB; at most half of the machine's memory.
    cli_budget_mb: float = 8192.0
    #: Pixel sizes further than this factor from HLS's 30 m are refused (the models cannot be right there).
    refuse_pixel_factor: float = 10.0
    #: Pixel sizes further than this factor from 30 m are run with a warning.
    warn_pixel_factor: float = 1.5
    #: Side of the blocks a command-line input over its memory budget is segmented in, px (plus the windows' halo).
    block_px: int = 1024
    #: Sample types a GeoTIFF of HLS DN or reflectance can hold.
    dtype_kinds: str = "iuf"  # numpy kinds: signed, unsigned, float (not complex, not bool)


INPUT_LIMITS = InputLimits()


#: The explore page's default dates: the last this many days (finds scenes anywhere HLS is collected).
DEFAULT_SEARCH_DAYS: int = 90

