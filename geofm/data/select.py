"""Choosing scenes for a task: the clearest date over the area, or three dates spread over the window."""

from __future__ import annotations

from datetime import date
from itertools import groupby

import numpy as np

from geofm.config import HLS_RESOLUTION_M, TaskSpec, get_task
from geofm.data.fmask import clear as clear_mask  # not via geofm.data: its __init__ imports this
from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.data.reader import fill_clear_fractions, frame_order, read_fmask
from geofm.data.scene import Scene
from geofm.errors import AllCloudyError, InputError, NoScenesError
from geofm.progress import Progress, null_progress

#: A date is usable when at least this fraction of the area is clear in its mosaic.
MIN_CLEAR_FRACTION = 0.3
THIRD_NAMES = ("early", "middle", "late")


def group_by_day(scenes: list[Scene]) -> list[list[Scene]]:
    """Scenes of the same UTC day and sensor (neighbouring tiles) form one frame; frames in time order."""
    keyf = lambda s: (s.date, s.sensor)  # noqa: E731
    return [list(g) for _, g in groupby(sorted(scenes, key=lambda s: (keyf(s), s.id)), key=keyf)]


def frame_clear_fraction(frame: list[Scene], grid: Grid, area: np.ndarray) -> float:
    """Fraction of the area clear in at least one of the frame's scenes."""
    ok = np.zeros(grid.shape, dtype=bool)
    for s in frame:
        ok |= clear_mask(read_fmask(s, grid))
    n = int(area.sum())
    return float((ok & area).sum()) / n if n else 0.0


def day_frames(scenes: list[Scene], aoi: AOI) -> list[tuple[list[Scene], float]]:
    """One entry per date and sensor: the day's scenes (its mosaic over the area) and their clear share."""
    grid = Grid.for_aoi(aoi, HLS_RESOLUTION_M)
    area = grid.area_mask(aoi)
    return [(frame, frame_clear_fraction(frame, grid, area)) for frame in group_by_day(scenes)]


def thirds(start: date, end: date) -> list[tuple[date, date]]:
    span = (end - start).days + 1
    cuts = [start.toordinal() + round(span * k / 3) for k in range(4)]
    return [(date.fromordinal(cuts[k]), date.fromordinal(cuts[k + 1] - 1)) for k in range(3)]


def _check_task(task: str) -> TaskSpec:
    return get_task(task)


def _named_frames(scenes: list[Scene], task: TaskSpec, aoi: AOI, scene_ids: list[str], grid: Grid,
                  area: np.ndarray) -> list[list[Scene]]:
    by_id = {s.id: s for s in scenes}
    unknown = [i for i in scene_ids if i not in by_id]
    if unknown:
        raise InputError(f"Unknown scene id{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.",
                         hint="Copy ids from `geofm search` or the app's scene list.")
    chosen = [by_id[i] for i in dict.fromkeys(scene_ids)]
    for s in chosen:
        if not np.any((read_fmask(s, grid) != 255) & area):
            raise InputError(f"Scene {s.id} (tile {s.tile}) does not cover the area {aoi}.")
    frames = group_by_day(chosen)
    want, most = task.date_span()
    if not want <= len(frames) <= most:
        need = f"{want}" if want == most else f"{want} to {most}"
        raise InputError(f"The task {task.name} takes {need} date{'s' if most > 1 else ''}; the scene ids name "
                         f"{len(frames)} ({', '.join(str(f[0].date) for f in frames)}).")
    return [frame_order(f) for f in frames]


def choose_scenes(scenes: list[Scene], task: str, aoi: AOI, *, scene_ids: list[str] | None = None,
                  start: date | None = None, end: date | None = None,
                  min_clear: float = MIN_CLEAR_FRACTION, progress: Progress = null_progress) -> list[list[Scene]]:
    """Frames (one list of same-day scenes per date) for ``task``; fills each scene's clear_fraction.

    The task's ``scene_choice`` (geofm.config.TASKS): "clearest" takes the date whose mosaic is clearest
    over the area; "spread" takes the clearest in each third of [start, end] (default: the scenes' first
    and last dates). Named ``scene_ids`` are used as given (grouped by day). Raises AllCloudyError /
    NoScenesError / InputError.
    """
    spec = _check_task(task)
    if not scenes:
        raise NoScenesError("There are no scenes to choose from.", hint="Try wider dates or allow more cloud.")
    grid = Grid.for_aoi(aoi, HLS_RESOLUTION_M)
    area = grid.area_mask(aoi)
    if scene_ids:
        frames = _named_frames(scenes, spec, aoi, list(scene_ids), grid, area)
        fill_clear_fractions([s for f in frames for s in f], aoi, progress=progress)
        return frames
    fill_clear_fractions(scenes, aoi, progress=progress)
    groups = [(frame_clear_fraction(g, grid, area), g) for g in group_by_day(scenes)]

    def best(cands: list[tuple[float, list[Scene]]], where: str) -> list[Scene]:
        frac, frame = max(cands, key=lambda c: (round(c[0], 4), -max(s.cloud_cover for s in c[1]),
                                                c[1][0].datetime.timestamp()))
        if frac < min_clear:
            raise AllCloudyError(
                f"The clearest scene {where}over the area ({frame[0].date}, {frame[0].sensor}) is only "
                f"{frac:.0%} clear; at least {min_clear:.0%} is needed.",
                hint="Try a wider date range or allow more cloud (--max-cloud).")
        return frame_order(frame)

    if spec.scene_choice == "clearest":
        return [best(groups, "")]
    d0 = start or min(s.date for s in scenes)
    d1 = end or max(s.date for s in scenes)
    frames = []
    for name, (a, b) in zip(THIRD_NAMES, thirds(d0, d1)):
        cands = [c for c in groups if a <= c[1][0].date <= b]
        if not cands:
            raise NoScenesError(f"No scene in the {name} third of the window ({a} to {b}); "
                                f"{spec.title.lower()} needs three dates spread over the season.",
                                hint="Try a wider date range or allow more cloud (--max-cloud).")
        frames.append(best(cands, f"in the {name} third ({a} to {b}) "))
    return frames
