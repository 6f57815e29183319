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
    #: admitted runs searching and reading at the same time (the catalogue, the COGs)
    reads_at_once: int = _SETTINGS.reads_at_once

    @classmethod
    def from_env(cls, env: "dict[str, str] | None" = None) -> "QueueLimits":
        """Limits from the operator's settings (``env``: parse these variables instead of the environment);
        a bad value raises SettingsError naming the variable."""
        s = settings() if env is None else from_environment(env)
        return cls(max_waiting=s.queue_max, runs_per_minute=s.runs_per_minute, jobs_per_session=s.jobs_per_session,
                   job_seconds=s.job_seconds, reads_at_once=s.reads_at_once)


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


@dataclass(frozen=True)
class RunEstimate:
    """The app's time estimate before Run: model windows / windows per second + the time to search and read.

    The rates are measured per device (CPU, or the GPU's name) from the app's own runs and kept in
    ``GEOFM_CACHE_DIR/run-rates.json``; until a device has run a task these first guesses are used (CPU: the
    README's measured rows, ``bench/inference.py --device cpu`` on a shared 2-core VM; GPU: the README's L4
    estimate row).
    """

    cpu_windows_per_s: tuple[tuple[str, float], ...] = (
        ("flood", 0.27), ("burn-scars", 0.27), ("crops", 0.12), ("reconstruct", 0.25))
    gpu_windows_per_s: float = 150.0
    read_s: float = 4.0  #: first guess of searching and reading a few-km area
    long_s: float = 60.0  #: a run estimated over this is announced as long before it starts
    ewma: float = 0.5  #: weight of the newest run in the measured rates
    file_name: str = "run-rates.json"


RUN_ESTIMATE = RunEstimate()
#: The app's finished runs kept on disk (GEOFM_CACHE_DIR/results) so a restart keeps them; least recently used
#: entries go first beyond this size.
APP_RESULTS_MAX_MB = 1024


@dataclass(frozen=True)
class GeoJSONLimits:
    """What untrusted GeoJSON text (a shared link's ``geojson``, a file) may be, checked before it is parsed."""

    max_bytes: int = 256 * 1024  # a drawn area is a few KB
    max_depth: int = 16  # nesting of [ and {: a MultiPolygon in a one-feature FeatureCollection needs 8
    max_vertices: int = 10_000
    file_max_bytes: int = 64 * 2**20  # a GeoJSON file named on the command line
    file_max_vertices: int = 2_000_000


GEOJSON_LIMITS = GeoJSONLimits()


@dataclass(frozen=True)
class ControlRanges:
    """What the app's controls accept, and so what a shared link may set (larger values are clamped)."""

    mask_ratio: tuple[float, float] = (0.05, 0.95)
    mask_ratio_step: float = 0.05
    seed_max: int = 2**31 - 1
    cloud: tuple[float, float] = (0.0, 100.0)
    first_date: str = "2013-04-01"  # the date picker's earliest day (HLS L30 begins 2013-04-11)
    link_scenes: int = 50  # scene ids a link may name
    scene_id_chars: int = 120  # longest scene id (HLS ids are about 40 characters)


CONTROLS = ControlRanges()


#: The explore page's default dates: the last this many days (finds scenes anywhere HLS is collected).
DEFAULT_SEARCH_DAYS: int = 90

