"""HLS through STAC: search, choose scenes, read only the area's pixels, mask clouds, cache."""

from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.data.reader import fill_clear_fractions, read_aoi
from geofm.data.scene import Scene
from geofm.data.select import choose_scenes
from geofm.data.stac import get_scenes, search_hls
from geofm.data.task import load_task_stack

__all__ = ["AOI", "Grid", "Scene", "search_hls", "get_scenes", "read_aoi", "choose_scenes",
           "fill_clear_fractions", "load_task_stack"]
