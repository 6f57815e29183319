"""Write the stand-in's COGs, Fmask, thumbnails and STAC items into a folder, shaped like NASA's HLS v2 files:
int16 reflectance (fill -9999, ``scale_factor`` 0.0001 except on granules written without it), uint8 Fmask
(fill 255), deflate with predictor 2, 256-px blocks, overviews with 128-px blocks, the CRS written as NASA's
files carry it (UTM on the WGS 84 ellipsoid, northern zone, no EPSG code), JPEG thumbnails.
Takes a few seconds; the result is reused when the folder already holds it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
import shapely
from PIL import Image
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.features import rasterize
from rasterio.io import MemoryFile
from shapely.geometry import MultiPolygon, Polygon, box, mapping

from tests.standin.layout import (
    BAY_DN,
    BLOCK,
    BURN_DN,
    BURN_ELLIPSE,
    FLOOD_BELT,
    FLOOD_ELLIPSE,
    FMASK_ADJACENT,
    FMASK_CLOUD,
    FMASK_SHADOW,
    FMASK_WATER,
    HERMITS_TILE,
    LAKE_ELLIPSE,
    OVERVIEW_BLOCK,
    SF_BAY,
    SF_TILE,
    SINDH_TILE,
    WATER_DN,
    WATER_LON,
    SceneDate,
    Tile,
    item_id,
    noise_bit,
    position_code,
    scenes,
)

LAYOUT_VERSION = 11
L30_ASSETS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B09", "B10", "B11")
S30_ASSETS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
ANGLE_ASSETS = ("SZA", "SAA", "VZA", "VAA")
MODEL_ASSETS = {"L30": ("B02", "B03", "B04", "B05", "B06", "B07"), "S30": ("B02", "B03", "B04", "B8A", "B11", "B12")}
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
BAND_TITLES = {"B01": "Coastal Aerosol", "B02": "Blue", "B03": "Green", "B04": "Red", "B05": "Red-Edge 1",
               "B06": "Red-Edge 2", "B07": "Red-Edge 3", "B08": "NIR Broad", "B8A": "NIR Narrow", "B09": "Water Vapor",
               "B10": "Cirrus", "B11": "SWIR 1", "B12": "SWIR 2"}
L30_TITLES = {"B05": "NIR", "B06": "SWIR 1", "B07": "SWIR 2", "B09": "Cirrus", "B10": "Thermal Infrared 1",
              "B11": "Thermal Infrared 2"}
ANGLE_TITLES = {"SZA": "Sun Zenith", "SAA": "Sun Azimuth", "VZA": "View Zenith", "VAA": "View Azimuth"}
DOI = {"L30": "10.5067/HLS/HLSL30.002", "S30": "10.5067/HLS/HLSS30.002"}
INSTRUMENTS = {"L30": ["oli", "tirs"], "S30": ["msi"]}
#: Templates in stored hrefs, filled in by the server per mode: {pc} = Planetary Computer blob container
#: (path style, with an epoch segment), {prot} / {pub} = the Earthdata data host's protected / public roots.
PC_HREF, PROT_HREF, PUB_HREF = "{pc}", "{prot}", "{pub}"


def file_name(iid: str, asset: str) -> str:
    return f"{iid}.{asset}.tif"


def thumbnail_name(iid: str) -> str:
    return f"{iid}.jpg"


def blob_dir(date: SceneDate, tile: Tile, iid: str) -> str:
    """The folder of a granule in Planetary Computer's hls2 container: S30/15/T/TG/2022/03/22/{id}."""
    z, band, sq = tile.name[:2], tile.name[2], tile.name[3:]
    return f"{date.sensor}/{z}/{band}/{sq}/{date.when:%Y/%m/%d}/{iid}"


def lp_dir(date: SceneDate, iid: str) -> str:
    """The folder of a granule on LP DAAC's data host: HLSS30.020/{id}."""
    return f"HLS{date.sensor}.020/{iid}"


def _tile_geometry(tile: Tile) -> Polygon:
    x0, y1 = tile.left, tile.top
    x1, y0 = x0 + tile.size * 30.0, y1 - tile.size * 30.0
    to_ll = Transformer.from_crs(tile.epsg, 4326, always_xy=True)
    return shapely.transform(box(x0, y0, x1, y1).segmentize(3000.0), to_ll.transform, interleaved=False)


def _rasterize_ll(tile: Tile, shapes_ll: list[Any]) -> np.ndarray:
    to_utm = Transformer.from_crs(4326, tile.epsg, always_xy=True)
    geoms = [shapely.transform(g, to_utm.transform, interleaved=False) for g in shapes_ll]
    return rasterize(geoms, out_shape=(tile.size, tile.size), transform=tile.transform, dtype="uint8").astype(bool)


def _ellipse(centre: tuple[float, float], a_km: float, b_km: float) -> Polygon:
    lon, lat = centre
    t = np.linspace(0, 2 * np.pi, 181)
    k = 1 / (111.32 * np.cos(np.radians(lat)))
    return Polygon(np.c_[lon + a_km * k * np.cos(t), lat + b_km / 110.57 * np.sin(t)])


def _water(tile: Tile, extent: float = 1.0) -> np.ndarray:
    """Where the tile is water on a date: the Sindh flood shrinks from its largest (``extent`` 1) towards the
    lake; the bay off San Francisco; elsewhere a river strip (Nebraska)."""
    if tile.index == SINDH_TILE.index:
        centre, a_km, b_km = FLOOD_ELLIPSE
        _, lake_a, lake_b = LAKE_ELLIPSE
        ellipse = _ellipse(centre, lake_a + extent * (a_km - lake_a), lake_b + extent * (b_km - lake_b))
        (w, e), (s, n) = FLOOD_BELT
        shapes = [ellipse, box(w, s, e if extent >= 1 else w + extent * (e - w), n)]
        return _rasterize_ll(tile, shapes)
    if tile.index == SF_TILE.index:
        return _rasterize_ll(tile, [box(*SF_BAY).segmentize(0.01)])
    return _rasterize_ll(tile, [box(WATER_LON[0], 40.5, WATER_LON[1], 42.5).segmentize(0.01)])


def _burn(tile: Tile, extent: float = 1.0) -> np.ndarray:
    """The burn scar on a date (Hermits Peak only): its rim greens as ``extent`` falls below 1."""
    if tile.index != HERMITS_TILE.index:
        return np.zeros((tile.size, tile.size), bool)
    centre, a_km, b_km = BURN_ELLIPSE
    return _rasterize_ll(tile, [_ellipse(centre, a_km * extent, b_km * extent)])


def _fmask(tile: Tile, date: SceneDate, water: np.ndarray) -> np.ndarray:
    n = tile.size
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
        c1 = min(n, int((cx + reach - tile.left) // 30) + 1)
        r0 = max(0, int((tile.top - cy - reach) // 30))
        r1 = min(n, int((tile.top - cy + reach) // 30) + 1)
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


def write_cog(path: Path, arr: np.ndarray, tile: Tile, nodata: float, *, scale: float | None = None,
              tags: dict[str, str] | None = None) -> None:
    """A COG laid out like NASA's: deflate + predictor 2, 256-px blocks, overviews (2, 4, 8) with 128-px blocks,
    the CRS without an EPSG code; written to a temporary name and renamed."""
    tmp = path.with_name(path.name + ".part")
    with rasterio.Env(GDAL_TIFF_OVR_BLOCKSIZE=OVERVIEW_BLOCK), MemoryFile() as mem:
        with mem.open(driver="GTiff", width=tile.size, height=tile.size, count=1, dtype=arr.dtype.name,
                      crs=CRS.from_wkt(tile.file_wkt), transform=tile.transform, nodata=nodata) as m:
            m.write(arr, 1)
            if scale is not None:
                m.scales = (scale,)
                m.offsets = (0.0,)
                m.update_tags(1, scale_factor=str(scale), add_offset="0")
            if tags:
                m.update_tags(1, **tags)
            m.build_overviews([2, 4, 8], Resampling.nearest)
        with mem.open() as src:
            rasterio.shutil.copy(src, tmp, driver="GTiff", tiled=True, blockxsize=BLOCK, blockysize=BLOCK,
                                 compress="deflate", zlevel=1, predictor=2, copy_src_overviews=True)
    tmp.replace(path)


def _thumbnail(path: Path, bands: list[np.ndarray], fm: np.ndarray) -> None:
    rgb = np.stack([bands[2][::10, ::10], bands[1][::10, ::10], bands[0][::10, ::10]], axis=-1).astype(float)
    img = np.clip((rgb % 1000) / 1000.0 * 200 + 30, 0, 255).astype(np.uint8)
    small = fm[::10, ::10]
    img[(small & FMASK_WATER) != 0] = (20, 40, 90)
    img[(small & FMASK_CLOUD) != 0] = 250
    img[small == 255] = 0
    Image.fromarray(img).save(path, format="JPEG", quality=85)


def generate(folder: str | Path) -> Path:
    """Write everything into ``folder`` (skipped when already there); returns the catalog path."""
    folder = Path(folder)
    catalog = folder / "catalog.json"
    if catalog.exists() and json.loads(catalog.read_text()).get("version") == LAYOUT_VERSION:
        return catalog
    files = folder / "files"
    files.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    aliases: dict[str, str] = {}  # served name -> file on disk (bands geofm does not use, angle bands)
    cache: dict[int, tuple[np.ndarray, Polygon]] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:  # files are written while the next masks are computed
        writes = []
        for date, tile in scenes():
            if tile.index not in cache:
                rows, cols = np.mgrid[0:tile.size, 0:tile.size]
                pattern = (2 * position_code(cols, rows) + noise_bit(cols, rows)).astype(np.int16)
                cache[tile.index] = (pattern, _tile_geometry(tile))
                angle = (3000 + (cols // 64) + (rows // 64)).astype(np.uint16)
                writes.append(pool.submit(write_cog, files / f"T{tile.name}.angle.tif", angle, tile, 40000,
                                          scale=0.01))
            pattern, footprint = cache[tile.index]
            water, burn = _water(tile, date.extent), _burn(tile, date.extent)
            iid = item_id(date, tile)
            fm = _fmask(tile, date, water)
            fill = fm == 255
            #: pixels whose reflectance is the surface's, not the DN code: flood and bay water, the burn scar
            dark = {SINDH_TILE.index: WATER_DN, SF_TILE.index: BAY_DN}.get(tile.index)
            is_water = water if dark is not None else np.zeros_like(water)
            bands = []
            for b in range(6):
                arr = pattern + np.int16(1000 * (b + 1) + 100 * date.index + 50 * (tile.index % 2))
                if dark is not None:
                    arr[is_water] = dark[b] + (pattern[is_water] & 1)
                arr[burn] = BURN_DN[b] + (pattern[burn] & 1)
                arr[fill] = -9999
                bands.append(arr)
                writes.append(pool.submit(write_cog, files / file_name(iid, MODEL_ASSETS[date.sensor][b]), arr,
                                          tile, -9999, scale=0.0001 if date.scaled else None,
                                          tags={"long_name": MODEL_ASSETS[date.sensor][b]}))
            writes.append(pool.submit(write_cog, files / file_name(iid, "Fmask"), fm, tile, 255,
                                      tags={"long_name": "Fmask"}))
            _thumbnail(files / thumbnail_name(iid), bands, fm)
            keys = L30_ASSETS if date.sensor == "L30" else S30_ASSETS
            for k in keys:
                if k not in MODEL_ASSETS[date.sensor]:
                    aliases[file_name(iid, k)] = file_name(iid, "B02")  # a wrong band mapping shows in values
            for k in ANGLE_ASSETS:
                aliases[file_name(iid, k)] = f"T{tile.name}.angle.tif"
            has_data = ~fill
            cover = float(((fm & (FMASK_CLOUD | FMASK_ADJACENT | FMASK_SHADOW)) != 0)[has_data].mean() * 100)
            items.append(_record(iid, date, tile, footprint, round(cover)))
        for w in writes:
            w.result()
    from tests.standin.references import write_references

    references, ref_aliases = write_references(files, PC_HREF)
    aliases.update(ref_aliases)
    catalog.write_text(json.dumps({"version": LAYOUT_VERSION, "items": items, "aliases": aliases,
                                   "references": references}))
    return catalog


def _record(iid: str, date: SceneDate, tile: Tile, footprint: Polygon, cover: int) -> dict[str, Any]:
    """Both shapes of one granule: ``pc`` (NASA's own STAC item as Planetary Computer serves it, hrefs on
    {pc}) and ``cmr`` (CMR-STAC's item, hrefs on {prot}/{pub}), plus ``cmr_only`` (no PC item)."""
    return {"id": iid, "cmr_only": date.cmr_only, "pc": pc_item(iid, date, tile, footprint, cover),
            "cmr": cmr_item(iid, date, tile, footprint, cover)}


def _times(date: SceneDate, *, millis: bool = False) -> dict[str, str]:
    """datetime and start/end: NASA's items write microseconds, CMR-STAC milliseconds."""
    from datetime import timedelta

    fmt = "%Y-%m-%dT%H:%M:%S.000Z" if millis else "%Y-%m-%dT%H:%M:%S.%fZ"
    return {"datetime": date.when.strftime(fmt), "start_datetime": date.when.strftime(fmt),
            "end_datetime": (date.when + timedelta(seconds=13 if date.sensor == "L30" else 4)).strftime(fmt)}


def pc_item(iid: str, date: SceneDate, tile: Tile, footprint: Polygon, cover: int) -> dict[str, Any]:
    """A STAC item shaped like NASA's HLS v2 items as Planetary Computer's hls2-l30 / hls2-s30 serve them:
    start/end datetimes, lowercase platform, proj:* (EPSG of the northern zone, also south of the equator),
    view:*, sci:doi, MultiPolygon geometry, no mgrs:* properties; bands, Fmask, angle bands, a JPEG thumbnail."""
    sensor = date.sensor
    folder = f"{PC_HREF}/{blob_dir(date, tile, iid)}"
    assets: dict[str, Any] = {}
    titles = {**BAND_TITLES, **(L30_TITLES if sensor == "L30" else {})}
    for k in (L30_ASSETS if sensor == "L30" else S30_ASSETS):
        assets[k] = {"href": f"{folder}/{file_name(iid, k)}", "type": COG_TYPE, "roles": ["data"],
                     "title": f"{titles[k]} - {k}"}
    assets["Fmask"] = {"href": f"{folder}/{file_name(iid, 'Fmask')}", "type": COG_TYPE, "roles": ["data"],
                       "title": "Fmask"}
    for k in ANGLE_ASSETS:
        assets[k] = {"href": f"{folder}/{file_name(iid, k)}", "type": COG_TYPE, "roles": ["data"],
                     "title": ANGLE_TITLES[k]}
    assets["thumbnail"] = {"href": f"{folder}/{thumbnail_name(iid)}", "type": "image/jpeg",
                           "roles": ["thumbnail"], "title": "Thumbnail"}
    size = tile.size
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": iid,
        "collection": "hls2-l30" if sensor == "L30" else "hls2-s30",
        "stac_extensions": ["https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                            "https://stac-extensions.github.io/view/v1.0.0/schema.json",
                            "https://stac-extensions.github.io/scientific/v1.0.0/schema.json"],
        "geometry": mapping(MultiPolygon([footprint])), "bbox": [round(v, 6) for v in footprint.bounds],
        "properties": {
            **_times(date), "eo:cloud_cover": cover, "platform": date.platform, "instruments": INSTRUMENTS[sensor],
            "proj:epsg": tile.epsg, "proj:shape": [size, size],
            "proj:transform": [30.0, 0.0, tile.left, 0.0, -30.0, tile.top, 0.0, 0.0, 1.0],
            "view:azimuth": 102.5 + date.index, "view:incidence_angle": 4.2, "view:sun_azimuth": 141.0 + date.index,
            "view:sun_elevation": 52.0 + date.index, "sci:doi": DOI[sensor],
        },
        "assets": assets, "links": [],
    }


def cmr_item(iid: str, date: SceneDate, tile: Tile, footprint: Polygon, cover: int) -> dict[str, Any]:
    """A STAC item shaped like CMR-STAC's LPCLOUD items: only datetimes, eo:cloud_cover and storage:schemes;
    no proj:*, no platform; asset keys from the file names plus browse and metadata; hrefs on LP DAAC's
    protected data host (the browse image on its public root)."""
    sensor = date.sensor
    folder = f"{PROT_HREF}/{lp_dir(date, iid)}"
    assets: dict[str, Any] = {}
    for k in (L30_ASSETS if sensor == "L30" else S30_ASSETS) + ("Fmask",) + ANGLE_ASSETS:
        assets[k] = {"href": f"{folder}/{file_name(iid, k)}", "title": f"Download {file_name(iid, k)}"}
    browse = f"{PUB_HREF}/{lp_dir(date, iid)}/{thumbnail_name(iid)}"
    assets["browse"] = {"href": browse, "type": "image/jpeg", "title": "Download " + thumbnail_name(iid)}
    assets["thumbnail"] = {"href": browse, "type": "image/jpeg", "roles": ["thumbnail"],
                           "title": "Download " + thumbnail_name(iid)}
    assets["metadata"] = {"href": f"{PROT_HREF}/{lp_dir(date, iid)}/{iid}.cmr.xml", "type": "application/xml"}
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": iid,
        "collection": f"HLS{sensor}_2.0",
        "stac_extensions": ["https://stac-extensions.github.io/eo/v1.0.0/schema.json",
                            "https://stac-extensions.github.io/storage/v2.0.0/schema.json"],
        "geometry": mapping(footprint.simplify(0.001)), "bbox": [round(v, 6) for v in footprint.bounds],
        "properties": {**_times(date, millis=True), "eo:cloud_cover": cover,
                       "storage:schemes": {"aws": {"type": "aws-s3", "platform": "https://{bucket}.s3.{region}"
                                                   ".amazonaws.com", "bucket": "lp-prot", "region": "us-west-2"}}},
        "assets": assets, "links": [],
    }
