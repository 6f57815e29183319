"""A STAC Item (1.0) describing a region run's result: the mosaic, the manifest and the tiles."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from geofm.data.aoi import AOI
from geofm.data.grid import Grid

STAC_VERSION = "1.0.0"
PROJ_EXT = "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


def region_item(item_id: str, aoi: AOI, task: str, model: str, start: date, end: date, *,
                mosaic: Path | None, mosaic_grid: Grid, tiles: list[Path], folder: Path,
                properties: dict[str, Any]) -> dict[str, Any]:
    """The Item as a dict (asset hrefs relative to the run folder)."""
    assets: dict[str, Any] = {
        "manifest": {"href": "./manifest.json", "type": "application/json", "roles": ["metadata"],
                     "title": "Chunks, scenes, status and checksums"},
    }
    if mosaic is not None:
        t = mosaic_grid.transform
        assets["mosaic"] = {"href": f"./{mosaic.relative_to(folder).as_posix()}", "type": COG_TYPE,
                            "roles": ["data"], "title": f"{task} mosaic",
                            "proj:code": f"EPSG:{mosaic_grid.crs.to_epsg()}",
                            "proj:shape": [mosaic_grid.height, mosaic_grid.width],
                            "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f]}
    for tile in tiles:
        assets[f"tile-{tile.stem}"] = {"href": f"./{tile.relative_to(folder).as_posix()}", "type": COG_TYPE,
                                       "roles": ["data", "tile"]}
    return {
        "type": "Feature", "stac_version": STAC_VERSION, "stac_extensions": [PROJ_EXT], "id": item_id,
        "geometry": aoi.to_geojson(), "bbox": list(aoi.bounds),
        "properties": {"datetime": None, "start_datetime": f"{start.isoformat()}T00:00:00Z",
                       "end_datetime": f"{end.isoformat()}T23:59:59Z",
                       "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "geofm:task": task, "geofm:model": model, **properties},
        "links": [], "assets": assets,
    }
