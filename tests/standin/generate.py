"""Write the stand-in's COGs (int16, nodata -9999, UTM, 256-px blocks, overviews), Fmask, thumbnails and
STAC items into a folder. Takes a few seconds; the result is reused when the folder already holds it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from PIL import Image
from pyproj import Transformer
from rasterio.features import rasterize
from shapely.geometry import Polygon, box, mapping
import shapely

from tests.standin.layout import (BLOCK, DATES, FMASK_ADJACENT, FMASK_CLOUD, FMASK_SHADOW, FMASK_WATER,
                                  TILE_PX, TILES, WATER_LON, SceneDate, Tile, item_id, noise_bit,
                                  position_code)

LAYOUT_VERSION = 4
L30_ASSETS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B09", "B10", "B11")
S30_ASSETS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
MODEL_ASSETS = {"L30": ("B02", "B03", "B04", "B05", "B06", "B07"), "S30": ("B02", "B03", "B04", "B8A", "B11", "B12")}
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


def file_name(iid: str, asset: str) -> str:
    return f"{iid}.{asset}.tif"


def _tile_geometry(tile: Tile) -> Polygon:
    x0, y1 = tile.left, tile.top
    x1, y0 = x0 + TILE_PX * 30.0, y1 - TILE_PX * 30.0
    to_ll = Transformer.from_crs(tile.epsg, 4326, always_xy=True)
    return shapely.transform(box(x0, y0, x1, y1).segmentize(3000.0), to_ll.transform, interleaved=False)


def _fmask(tile: Tile, date: SceneDate, water: np.ndarray) -> np.ndarray:
    fm = np.where(water, FMASK_WATER, 0).astype(np.uint8)
    to_utm = Transformer.from_crs(4326, tile.epsg, always_xy=True)
    cloud = np.zeros(fm.shape, bool)
    adjacent = np.zeros(fm.shape, bool)
    shadow = np.zeros(fm.shape, bool)
    for c in date.clouds:
        cx, cy = to_utm.transform(c.lon, c.lat)
        r = c.radius_km * 1000.0
        reach = r + 4000.0  # covers the adjacency ring and the shadow
        c0 = max(0, int((cx - reach - tile.left) // 30))
        c1 = min(TILE_PX, int((cx + reach - tile.left) // 30) + 1)
        r0 = max(0, int((tile.top - cy - reach) // 30))
        r1 = min(TILE_PX, int((tile.top - cy + reach) // 30) + 1)
        if c0 >= c1 or r0 >= r1:
            continue
        xs = tile.left + (np.arange(c0, c1) + 0.5) * 30.0
        ys = tile.top - (np.arange(r0, r1) + 0.5) * 30.0
        dx, dy = (xs - cx)[None, :], (ys - cy)[:, None]
        d2 = dx ** 2 + dy ** 2
        win = (slice(r0, r1), slice(c0, c1))
        cloud[win] |= d2 < r * r
        adjacent[win] |= d2 < (r + 1500.0) ** 2
        shadow[win] |= (dx - 2000.0) ** 2 + (dy + 2000.0) ** 2 < (0.6 * r) ** 2
    fm[cloud] |= FMASK_CLOUD
    fm[adjacent & ~cloud] |= FMASK_ADJACENT
    fm[shadow & ~cloud] |= FMASK_SHADOW
    for t_index, ncols in date.fill_columns:
        if t_index == tile.index:
            fm[:, :ncols] = 255
    return fm


def _write(path: Path, arr: np.ndarray, tile: Tile, nodata: float) -> None:
    with rasterio.open(path, "w", driver="COG", width=TILE_PX, height=TILE_PX, count=1, dtype=arr.dtype.name,
                       crs=f"EPSG:{tile.epsg}", transform=tile.transform, nodata=nodata, blocksize=BLOCK,
                       compress="deflate", overview_resampling="nearest", level=1) as dst:
        dst.write(arr, 1)


def _thumbnail(path: Path, bands: list[np.ndarray], fm: np.ndarray) -> None:
    rgb = np.stack([bands[2][::10, ::10], bands[1][::10, ::10], bands[0][::10, ::10]], axis=-1).astype(float)
    img = np.clip((rgb % 1000) / 1000.0 * 200 + 30, 0, 255).astype(np.uint8)
    small = fm[::10, ::10]
    img[(small & FMASK_CLOUD) != 0] = 250
    img[small == 255] = 0
    Image.fromarray(img).save(path)


def generate(folder: str | Path) -> Path:
    """Write everything into ``folder`` (skipped when already there); returns the catalog path."""
    folder = Path(folder)
    catalog = folder / "catalog.json"
    if catalog.exists() and json.loads(catalog.read_text()).get("version") == LAYOUT_VERSION:
        return catalog
    (folder / "files").mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=4) as pool:  # files are written while the next masks are computed
        writes = []
        for tile in TILES:
            rows, cols = np.mgrid[0:TILE_PX, 0:TILE_PX]
            pattern = (2 * position_code(cols, rows) + noise_bit(cols, rows)).astype(np.int16)
            to_utm = Transformer.from_crs(4326, tile.epsg, always_xy=True)
            strip = box(WATER_LON[0], 40.5, WATER_LON[1], 42.5).segmentize(0.01)
            water = rasterize([shapely.transform(strip, to_utm.transform, interleaved=False)],
                              out_shape=(TILE_PX, TILE_PX), transform=tile.transform, dtype="uint8").astype(bool)
            footprint = _tile_geometry(tile)
            for date in DATES:
                iid = item_id(date, tile)
                fm = _fmask(tile, date, water)
                fill = fm == 255
                bands = []
                for b in range(6):
                    arr = pattern + np.int16(1000 * (b + 1) + 100 * date.index + 50 * tile.index)
                    arr[fill] = -9999
                    bands.append(arr)
                    path = folder / "files" / file_name(iid, MODEL_ASSETS[date.sensor][b])
                    writes.append(pool.submit(_write, path, arr, tile, -9999))
                writes.append(pool.submit(_write, folder / "files" / file_name(iid, "Fmask"), fm, tile, 255))
                _thumbnail(folder / "files" / f"{iid}.thumbnail.png", bands, fm)
                has_data = ~fill
                cover = float(((fm & (FMASK_CLOUD | FMASK_ADJACENT | FMASK_SHADOW)) != 0)[has_data].mean() * 100)
                items.append(_item(iid, date, tile, footprint, round(cover, 2)))
        for w in writes:
            w.result()
    catalog.write_text(json.dumps({"version": LAYOUT_VERSION, "items": items}))
    return catalog


def _item(iid: str, date: SceneDate, tile: Tile, footprint: Polygon, cover: float) -> dict[str, Any]:
    """A STAC item shaped like Planetary Computer's hls2-l30 / hls2-s30 items; hrefs hold {base}."""
    sensor = date.sensor
    keys = L30_ASSETS if sensor == "L30" else S30_ASSETS
    model = MODEL_ASSETS[sensor]
    assets: dict[str, Any] = {}
    for k in keys:
        # Bands geofm does not use are served from the B02 file (so a wrong band mapping shows up in values).
        name = file_name(iid, k if k in model else "B02")
        assets[k] = {"href": "{base}/" + name, "type": COG_TYPE, "roles": ["data"], "title": f"Band {k}"}
    assets["Fmask"] = {"href": "{base}/" + file_name(iid, "Fmask"), "type": COG_TYPE, "roles": ["data"],
                       "title": "Fmask"}
    assets["thumbnail"] = {"href": "{base}/" + f"{iid}.thumbnail.png", "type": "image/png",
                           "roles": ["thumbnail"], "title": "Thumbnail"}
    zone, band_letter, square = tile.name[:2], tile.name[2], tile.name[3:]
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": iid,
        "collection": "hls2-l30" if sensor == "L30" else "hls2-s30",
        "stac_extensions": ["https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                            "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json"],
        "geometry": mapping(footprint), "bbox": list(footprint.bounds),
        "properties": {
            "datetime": date.when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "eo:cloud_cover": cover,
            "proj:epsg": tile.epsg, "mgrs:utm_zone": int(zone), "mgrs:latitude_band": band_letter,
            "mgrs:grid_square": square,
            "platform": "landsat-8" if sensor == "L30" else "sentinel-2a",
            "instruments": ["oli"] if sensor == "L30" else ["msi"],
        },
        "assets": assets, "links": [],
    }
