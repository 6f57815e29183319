"""The stand-in's reference layers, shaped like Planetary Computer's: ``esa-worldcover`` (asset ``map``, uint8
classes 10..100, nodata 0, EPSG:4326 at 1/12000°, ~10 m), ``jrc-gsw`` (assets ``occurrence`` / ``seasonality``
/ ``extent`` ..., uint8, nodata 255, EPSG:4326 at 1/4000°, ~30 m) and ``usda-cdl`` (``cropland`` items with
assets ``cropland`` and ``confidence``, plus ``cultivated`` items; uint8 CDL codes, nodata 0, EPSG:5070 at
30 m on the CDL grid whose edges are at 15 m + k x 30 m)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.io import MemoryFile
from shapely.geometry import box, mapping

from tests.standin.layout import (BLOCK, CDL_CLOUD, CDL_FIELD_CODES, CDL_FIELD_M, CDL_FOREST_M, CDL_NODATA_ROWS,
                                  CDL_YEARS, FLOOD_BELT, FLOOD_ELLIPSE, FLOOD_SEASONALITY, JRC_NODATA_EAST, JRC_TILES,
                                  LAKE_ELLIPSE, OMAHA, OVERVIEW_BLOCK, TILES, WATER_LON, WATER_REF_BOXES,
                                  WORLDCOVER_NODATA_SOUTH, WORLDCOVER_TILES, WORLDCOVER_YEARS)

COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
WC_RES = 1 / 12000
JRC_RES = 1 / 4000
JRC_ASSETS = ("occurrence", "change", "seasonality", "recurrence", "transitions", "extent")


def _write(path: Path, arr: np.ndarray, crs: CRS, transform: Affine, nodata: int) -> None:
    tmp = path.with_name(path.name + ".part")
    with rasterio.Env(GDAL_TIFF_OVR_BLOCKSIZE=OVERVIEW_BLOCK), MemoryFile() as mem:
        with mem.open(driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1, dtype="uint8", crs=crs,
                      transform=transform, nodata=nodata) as m:
            m.write(arr, 1)
            m.build_overviews([2, 4, 8], Resampling.nearest)
        with mem.open() as src:
            rasterio.shutil.copy(src, tmp, driver="GTiff", tiled=True, blockxsize=BLOCK, blockysize=BLOCK,
                                 compress="deflate", predictor=2, copy_src_overviews=True)
    tmp.replace(path)


def _ellipse(lon: np.ndarray, lat: np.ndarray, spec: tuple[tuple[float, float], float, float]) -> np.ndarray:
    (lon0, lat0), a_km, b_km = spec
    kx = 111.32 * np.cos(np.radians(lat0))
    return ((lon - lon0) * kx / a_km) ** 2 + ((lat - lat0) * 110.57 / b_km) ** 2 < 1.0


def _lonlat_grid(bounds: tuple[float, float, float, float], res: float) -> tuple[np.ndarray, np.ndarray, Affine]:
    w, s, e, n = bounds
    width, height = int(round((e - w) / res)), int(round((n - s) / res))
    lon = w + (np.arange(width) + 0.5) * res
    lat = n - (np.arange(height) + 0.5) * res
    return lon[None, :], lat[:, None], Affine(res, 0.0, w, 0.0, -res, n)


def _water_parts(region: str, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(normal water, seasonal flood water) of a region on a lon/lat grid."""
    if region == "sindh":
        lake = _ellipse(lon, lat, LAKE_ELLIPSE)
        (blon, blat) = FLOOD_BELT
        flood = _ellipse(lon, lat, FLOOD_ELLIPSE) | ((lon >= blon[0]) & (lon <= blon[1]) & (lat >= blat[0])
                                                     & (lat <= blat[1]))
        return lake, flood & ~lake
    river = np.broadcast_to((lon >= WATER_LON[0]) & (lon <= WATER_LON[1]), np.broadcast_shapes(lon.shape, lat.shape))
    return river, np.zeros_like(river)


def worldcover_map(region: str) -> tuple[np.ndarray, Affine]:
    """ESA WorldCover classes over a region's box: 80 normal water, 50 built-up (Omaha), 40 cropland elsewhere,
    0 no data in a southern strip (Sindh)."""
    lon, lat, transform = _lonlat_grid(WATER_REF_BOXES[region], WC_RES)
    lake, _ = _water_parts(region, lon, lat)
    out = np.full(lake.shape, 40, np.uint8)
    if region == "nebraska":
        out[_ellipse(lon, lat, (OMAHA, 5.0, 5.0))] = 50
    out[lake] = 80
    if region == "sindh":
        out[np.broadcast_to(lat < WORLDCOVER_NODATA_SOUTH, out.shape)] = 0
    return out, transform


def jrc_layers(region: str) -> tuple[dict[str, np.ndarray], Affine]:
    """JRC GSW layers: seasonality 12 on normal water, FLOOD_SEASONALITY on the 2022 flood area (Sindh), 0 on
    land, 255 no data in an eastern strip (Sindh); occurrence and extent to match."""
    lon, lat, transform = _lonlat_grid(JRC_TILES[region][1], JRC_RES)
    lake, seasonal = _water_parts(region, lon, lat)
    season = np.where(lake, 12, np.where(seasonal, FLOOD_SEASONALITY, 0)).astype(np.uint8)
    occurrence = np.where(lake, 95, np.where(seasonal, 20, 0)).astype(np.uint8)
    extent = (lake | seasonal).astype(np.uint8)
    layers = {"seasonality": season, "occurrence": occurrence, "extent": extent,
              "change": np.full(season.shape, 253, np.uint8), "recurrence": occurrence.copy(),
              "transitions": np.where(lake, 1, np.where(seasonal, 5, 0)).astype(np.uint8)}
    if region == "sindh":
        for arr in layers.values():
            arr[np.broadcast_to(lon > JRC_NODATA_EAST, arr.shape)] = 255
    return layers, transform


def cdl_bounds() -> tuple[float, float, float, float]:
    """The Nebraska tiles' box in EPSG:5070, snapped outwards to the CDL grid (edges at 15 m + k x 30 m)."""
    to_albers = Transformer.from_crs(4326, 5070, always_xy=True)
    xs, ys = [], []
    for tile in TILES:
        to_ll = Transformer.from_crs(tile.epsg, 4326, always_xy=True)
        for x in np.linspace(tile.left, tile.left + tile.size * 30, 9):
            for y in np.linspace(tile.top - tile.size * 30, tile.top, 9):
                ax, ay = to_albers.transform(*to_ll.transform(x, y))
                xs.append(ax)
                ys.append(ay)
    snap = lambda v, up: (np.ceil if up else np.floor)((v - 15) / 30) * 30 + 15  # noqa: E731
    return float(snap(min(xs), False)), float(snap(min(ys), False)), float(snap(max(xs), True)), float(snap(max(ys), True))


def cdl_cropland() -> tuple[np.ndarray, Affine]:
    """CDL codes over both Nebraska tiles (see CDL_FIELD_CODES)."""
    w, s, e, n = cdl_bounds()
    width, height = int(round((e - w) / 30)), int(round((n - s) / 30))
    x = w + (np.arange(width) + 0.5) * 30
    y = n - (np.arange(height) + 0.5) * 30
    fx, fy = (x - w) // CDL_FIELD_M, (n - y) // CDL_FIELD_M
    field = (fx[None, :] + 3 * fy[:, None]).astype(np.int64) % len(CDL_FIELD_CODES)
    out = np.asarray(CDL_FIELD_CODES, np.uint8)[field]
    to_ll = Transformer.from_crs(5070, 4326, always_xy=True)
    xx, yy = np.meshgrid(x, y)
    lon, lat = to_ll.transform(xx, yy)
    kx = 111.32 * np.cos(np.radians(41.4)) * 1000
    river_lon = (WATER_LON[0] + WATER_LON[1]) / 2
    dist_m = np.abs(lon - river_lon) * kx
    half = (WATER_LON[1] - WATER_LON[0]) / 2 * kx
    out[(dist_m > half) & (dist_m <= half + CDL_FOREST_M)] = 141
    out[dist_m <= half] = 111
    out[_ellipse(lon, lat, (OMAHA, 5.0, 5.0)) & (dist_m > half)] = 122
    (clon, clat), r_km = CDL_CLOUD
    out[_ellipse(lon, lat, ((clon, clat), r_km, r_km))] = 81
    out[:CDL_NODATA_ROWS] = 0
    return out, Affine(30.0, 0.0, w, 0.0, -30.0, n)


def _item(iid: str, collection: str, bounds_ll: tuple[float, float, float, float], props: dict[str, Any],
          assets: dict[str, Any], epsg: int, shape: tuple[int, int], transform: Affine) -> dict[str, Any]:
    geom = box(*bounds_ll)
    return {"type": "Feature", "stac_version": "1.0.0", "id": iid, "collection": collection,
            "geometry": mapping(geom), "bbox": [round(v, 6) for v in bounds_ll],
            "properties": {"datetime": None, **props, "proj:epsg": epsg, "proj:shape": list(shape),
                           "proj:transform": list(transform)[:6]},
            "assets": assets, "links": [],
            "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                                "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
                                "https://stac-extensions.github.io/classification/v1.1.0/schema.json"]}


def _asset(href: str, title: str, nodata: int, res: float) -> dict[str, Any]:
    return {"href": href, "type": COG_TYPE, "title": title, "roles": ["data"],
            "raster:bands": [{"nodata": nodata, "data_type": "uint8", "spatial_resolution": res, "sampling": "area"}]}


def write_references(files: Path, href_root: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Write the reference COGs into ``files``; return (STAC items, served-name aliases)."""
    items: list[dict[str, Any]] = []
    aliases: dict[str, str] = {}
    wgs84 = CRS.from_epsg(4326)
    for region, bounds in WATER_REF_BOXES.items():
        wc, wc_t = worldcover_map(region)
        disk = f"ESA_WorldCover_{region}_Map.tif"
        _write(files / disk, wc, wgs84, wc_t, 0)
        for year, version in WORLDCOVER_YEARS.items():
            iid = f"ESA_WorldCover_10m_{year}_{version}_{WORLDCOVER_TILES[region]}"
            name = f"{iid}_Map.tif"
            aliases[name] = disk  # both years hold the same classes here
            items.append(_item(iid, "esa-worldcover", bounds,
                               {"start_datetime": f"{year}-01-01T00:00:00Z", "end_datetime": f"{year}-12-31T23:59:59Z",
                                "esa_worldcover:product_version": version[1:].replace("0", ".", 1) + ".0",
                                "esa_worldcover:product_tile": WORLDCOVER_TILES[region]},
                               {"map": _asset(f"{href_root}/esa-worldcover/{name}", "Land Cover Classes", 0, 10)},
                               4326, wc.shape, wc_t))
        if region not in JRC_TILES:
            continue
        layers, jrc_t = jrc_layers(region)
        tile, jrc_box = JRC_TILES[region]
        assets = {}
        for key in ("occurrence", "change", "seasonality", "recurrence", "transitions", "extent"):
            name = f"{key}_{tile}v1_4_2021.tif"
            _write(files / name, layers[key], wgs84, jrc_t, 255)
            assets[key] = _asset(f"{href_root}/jrc-gsw/{name}", key.title(), 255, 30)
        items.append(_item(f"{tile}", "jrc-gsw", jrc_box, {"start_datetime": "1984-03-01T00:00:00Z",
                                                          "end_datetime": "2020-12-31T23:59:59Z"},
                           assets, 4326, layers["seasonality"].shape, jrc_t))
    cdl, cdl_t = cdl_cropland()
    albers = CRS.from_epsg(5070)
    _write(files / "cdl_cropland.tif", cdl, albers, cdl_t, 0)
    conf = np.where(cdl == 0, 0, 90).astype(np.uint8)
    _write(files / "cdl_confidence.tif", conf, albers, cdl_t, 0)
    w, s, e, n = cdl_bounds()
    to_ll = Transformer.from_crs(5070, 4326, always_xy=True)
    lons, lats = to_ll.transform([w, e, w, e], [s, s, n, n])
    ll = (min(lons), min(lats), max(lons), max(lats))
    for year in CDL_YEARS:
        suffix = f"{year}_{int(w)}_{int(n - 30)}_{int(e - w)}"
        times = {"start_datetime": f"{year}-01-01T00:00:00Z", "end_datetime": f"{year}-12-31T23:59:59Z"}
        aliases[f"{year}_30m_cdls_{suffix}.tif"] = "cdl_cropland.tif"
        aliases[f"{year}_30m_confidence_{suffix}.tif"] = "cdl_confidence.tif"
        aliases[f"{year}_30m_cultivated_{suffix}.tif"] = "cdl_confidence.tif"
        items.append(_item(f"cropland_{suffix}", "usda-cdl", ll, {**times, "usda_cdl:type": "cropland"},
                           {"cropland": _asset(f"{href_root}/usda-cdl/{year}_30m_cdls_{suffix}.tif",
                                               f"Cropland Data Layer (CDL) {year}", 0, 30),
                            "confidence": _asset(f"{href_root}/usda-cdl/{year}_30m_confidence_{suffix}.tif",
                                                 f"Confidence {year}", 0, 30)},
                           5070, cdl.shape, cdl_t))
        items.append(_item(f"cultivated_{suffix}", "usda-cdl", ll, {**times, "usda_cdl:type": "cultivated"},
                           {"cultivated": _asset(f"{href_root}/usda-cdl/{year}_30m_cultivated_{suffix}.tif",
                                                 f"Cultivated {year}", 0, 30)},
                           5070, cdl.shape, cdl_t))
    return items, aliases
