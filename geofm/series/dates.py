"""Which dates a series runs: every date over the area (one mosaic per date, as Explore's table), the ones
clear enough kept, the others left out with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from geofm.config import SERIES, TaskSpec, get_task
from geofm.data import fill_clear_fractions, search_hls
from geofm.data.aoi import AOI, max_aoi_km
from geofm.data.reader import frame_order
from geofm.data.scene import Scene
from geofm.data.select import day_frames
from geofm.data.stac import date_range
from geofm.errors import AllCloudyError, AOIError, InputError
from geofm.progress import Progress, null_progress

SENSOR_NAMES = {"L30": "Landsat 8/9", "S30": "Sentinel-2"}


@dataclass
class SeriesDate:
    """One date of a series: the day's mosaic over the area (its scenes, clearest first) and its clear share."""

    day: date
    sensor: str  # "L30" | "S30"
    scenes: list[Scene]
    clear: float  # 0..1 of the area clear in the mosaic
    reason: str = ""  # why it is left out ("" = kept)
    extra: dict = field(default_factory=dict)

    @property
    def kept(self) -> bool:
        return not self.reason

    @property
    def name(self) -> str:
        """The date's COG name in the series folder."""
        return f"{self.day.isoformat()}.tif"

    @property
    def scene_ids(self) -> list[str]:
        return [s.id for s in self.scenes]


def check_series_task(task: str) -> TaskSpec:
    """The task when a series can run it: a class map from one date (flood, burn scars)."""
    spec = get_task(task)
    if spec.result != "classes":
        raise InputError(f"A series runs class-map tasks; {spec.title.lower()} makes a reconstruction, not a map "
                         f"to follow through time. Use `geofm run {spec.name}` per date.")
    lo, hi = spec.date_span()
    if (lo, hi) != (1, 1):
        raise InputError(f"{spec.name} is not in series yet: each of its results takes {lo} dates spread over a "
                         "season, not one date, so it has no result per date to follow.")
    if spec.view != "target":
        raise InputError(f"A series measures one target class per date; {spec.name} has none.")
    return spec


def check_series_range(start: date | str, end: date | str) -> tuple[date, date]:
    """(start, end): a range of at least two days and at most ``SERIES.max_days``."""

    d0, d1 = date_range(start, end)
    if d0 == d1:
        raise InputError(f"A series needs a range of dates; --start and --end are both {d0}. For one date use "
                         "`geofm run`.")
    days = (d1 - d0).days + 1
    if days > SERIES.max_days:
        raise InputError(f"The range {d0} to {d1} is {days} days; a series covers at most {SERIES.max_days} days "
                         "(a year). Split it into yearly series.")
    return d0, d1


def check_series_area(aoi: AOI) -> AOI:
    """The area when one machine can run it (the same cap as ``geofm run``); larger ones go to ``geofm region``."""
    cap = max_aoi_km()
    width, height = aoi.size_km
    if width > cap or height > cap:
        raise AOIError(f"The area is {width:.1f} x {height:.1f} km; a series runs on one machine up to {cap:g} x "
                       f"{cap:g} km. For a larger area run `geofm region` for each date.")
    return aoi


def find_dates(aoi: AOI, start: date | str, end: date | str, *, max_cloud: float, min_clear: float = SERIES.min_clear,
               stac_url: str | None = None, progress: Progress = null_progress) -> list[SeriesDate]:
    """Every date with scenes over the area, in time order; dates whose mosaic is less than ``min_clear`` clear
    (or a second sensor's mosaic of a day already covered by a clearer one) carry the reason they are left out."""

    d0, d1 = check_series_range(start, end)
    progress("search", f"searching HLS scenes {d0} to {d1}", None)
    scenes = search_hls(aoi, d0, d1, max_cloud=max_cloud, stac_url=stac_url)
    progress("search", f"{len(scenes)} scenes found; checking clouds over the area", None)
    fill_clear_fractions(scenes, aoi, progress=progress)
    dates = [SeriesDate(frame[0].date, frame[0].sensor, frame_order(frame), clear)
             for frame, clear in day_frames(scenes, aoi)]
    best_of_day: dict[date, SeriesDate] = {}
    for d in dates:
        other = best_of_day.get(d.day)
        if other is None or (d.clear, d.sensor) > (other.clear, other.sensor):
            best_of_day[d.day] = d
    for d in dates:
        best = best_of_day[d.day]
        if d is not best:
            d.reason = (f"same day as a clearer {SENSOR_NAMES.get(best.sensor, best.sensor)} mosaic "
                        f"({100 * best.clear:.0f}% clear)")
        elif d.clear < min_clear:
            d.reason = f"cloudy: {100 * d.clear:.0f}% clear over the area, at least {100 * min_clear:.0f}% needed"
    return sorted(dates, key=lambda d: (d.day, d.sensor))


def check_kept(dates: list[SeriesDate], d0: date, d1: date, min_clear: float) -> list[SeriesDate]:
    """The kept dates, when there are at least two and at most ``SERIES.max_frames``."""
    kept = [d for d in dates if d.kept]
    if not kept:
        clearest = max(dates, key=lambda d: d.clear, default=None)
        best = f" (the clearest, {clearest.day}, is {100 * clearest.clear:.0f}% clear)" if clearest else ""
        raise AllCloudyError(f"None of the {len(dates)} dates between {d0} and {d1} is at least {100 * min_clear:.0f}% "
                             f"clear over the area{best}.",
                             hint="Widen the dates, allow more cloud (--max-cloud) or lower --min-clear.")
    if len(kept) == 1:
        raise InputError(f"Only one date between {d0} and {d1} is at least {100 * min_clear:.0f}% clear over the area "
                         f"({kept[0].day}); a series needs two or more. For one date use `geofm run`, or widen "
                         "the dates.")
    if len(kept) > SERIES.max_frames:
        raise InputError(f"{len(kept)} clear dates would make {len(kept)} timelapse frames; a series makes at most "
                         f"{SERIES.max_frames}. Shorten the range or raise --min-clear.")
    return kept
