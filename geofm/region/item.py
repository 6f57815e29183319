"""A STAC Item describing a region run's result: the mosaic, the manifest and the tiles."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.io.stac import Asset, Projection, item_dict, make_item

def region_item(item_id: str, aoi: AOI, task: str, model: str, start: date, end: date, *,
                mosaic: Path | None, mosaic_grid: Grid, tiles: list[Path], folder: Path,
                properties: dict[str, Any]) -> dict[str, Any]:
    """The Item as a dict (asset hrefs relative to the run folder)."""
    assets: dict[str, Asset] = {
        "manifest": Asset(href="./manifest.json", media_type="application/json", roles=("metadata",),
                          title="Chunks, scenes, status and checksums"),
    }
    if mosaic is not None:
        assets["mosaic"] = Asset(href=f"./{mosaic.relative_to(folder).as_posix()}", title=f"{task} mosaic",
                                 projection=Projection(mosaic_grid.crs, mosaic_grid.transform,
                                                       (mosaic_grid.height, mosaic_grid.width)))
    for tile in tiles:
        assets[f"tile-{tile.stem}"] = Asset(href=f"./{tile.relative_to(folder).as_posix()}", roles=("data", "tile"))
    item = make_item(item_id, aoi.to_geojson(), list(aoi.bounds),
                     start=datetime.combine(start, time(0, 0, 0)), end=datetime.combine(end, time(23, 59, 59)),
                     properties={"geofm:task": task, "geofm:model": model, **properties}, assets=assets)
    return item_dict(item)
