"""One call from (task, area, dates) to a stack: search, choose the scenes, read the area."""

from __future__ import annotations

from datetime import date

from geofm.config import DEFAULTS
from geofm.data.aoi import AOI
from geofm.data.reader import read_aoi
from geofm.data.scene import Scene
from geofm.data.select import _check_task, choose_scenes
from geofm.data.stac import date_range, get_scenes, search_hls
from geofm.progress import Progress, null_progress
from geofm.stack import HLSStack


def load_task_stack(task: str, aoi: AOI, start: date | str, end: date | str, *,
                    max_cloud: float = DEFAULTS.max_cloud, stac_url: str | None = None,
                    scene_ids: list[str] | None = None,
                    progress: Progress = null_progress) -> tuple[HLSStack, list[Scene]]:
    """Search HLS, pick the task's scenes (or the named ``scene_ids``), read the area; returns the stack
    and the scenes used (frames in time order, each frame's scenes clearest first)."""
    _check_task(task)
    d0, d1 = date_range(start, end)
    if scene_ids:
        progress("search", f"looking up {len(scene_ids)} scene ids", None)
        scenes = get_scenes(list(scene_ids), stac_url=stac_url)
    else:
        progress("search", f"searching HLS scenes {d0} to {d1}", None)
        scenes = search_hls(aoi, d0, d1, max_cloud=max_cloud, stac_url=stac_url)
    progress("search", f"{len(scenes)} scenes found; checking clouds over the area", None)
    frames = choose_scenes(scenes, task, aoi, scene_ids=scene_ids, start=d0, end=d1, progress=progress)
    frames = sorted(frames, key=lambda f: f[0].datetime)
    stack = read_aoi(frames, aoi, progress=progress)
    return stack, [s for f in frames for s in f]
