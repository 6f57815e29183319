"""Reference layers read like HLS: found through STAC, only the area's pixels, on the result's grid.

Categorical layers finer than the grid (ESA WorldCover's 10 m) are read at an integer fraction of the grid's
pixel and reduced by the most frequent class (``mode_downsample``); layers at the grid's size are read with
nearest neighbour. No-data pixels stay no data and are left out of every comparison.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import requests
from affine import Affine
from pystac_client.exceptions import APIError

from geofm.config import CDL_EXCLUDED, CDL_TO_CROP_ID, CLASS_NODATA, REFERENCE_FILE, REFERENCE_LAYERS, ReferenceLayer
from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.data.reader import read_band
from geofm.data.stac import open_endpoint, service_error
from geofm.errors import InputError, NoScenesError
from geofm.evaluate.resample import mode_downsample

log = logging.getLogger(__name__)


@dataclass
class ReferenceRead:
    """A reference layer's raw values on a result's grid."""

    layer: str  #: REFERENCE_LAYERS key, or REFERENCE_FILE
    title: str
    values: np.ndarray  #: (H, W) the layer's own codes
    nodata: int
    year: int | None = None  #: year of the items read (None: a file)
    item_ids: list[str] = field(default_factory=list)
    source: str = ""  #: file path or collection id

    @property
    def valid(self) -> np.ndarray:
        return self.values != self.nodata

    def describe(self) -> str:
        year = f" {self.year}" if self.year else ""
        return f"{self.title}{year}" + (f" ({Path(self.source).name})" if self.layer == REFERENCE_FILE else "")


def fine_grid(grid: Grid, factor: int) -> Grid:
    """``grid`` with pixels ``factor`` times smaller (same bounds)."""
    t = grid.transform
    return Grid(grid.crs, Affine(t.a / factor, t.b, t.c, t.d, t.e / factor, t.f), grid.width * factor,
                grid.height * factor)


def resample_factor(native_m: float, grid: Grid) -> int:
    """How many times finer than the grid a layer is read before the mode reduction (1: read as is)."""
    return max(1, int(round(grid.resolution / native_m)))


def read_on_grid(href: str, grid: Grid, *, native_m: float, nodata: int, signer: str | None = None) -> np.ndarray:
    """One categorical raster on ``grid``: nearest at the grid's size, or at a finer grid and the mode."""
    k = resample_factor(native_m, grid)
    arr = read_band(href, fine_grid(grid, k) if k > 1 else grid, nodata=nodata, signer=signer)
    return mode_downsample(arr, k, nodata) if k > 1 else arr


def _item_year(item: Any) -> int | None:
    props = item.properties
    for key in ("end_datetime", "start_datetime", "datetime"):
        text = props.get(key)
        if text:
            return int(str(text)[:4])
    return None


def _is_kind(item: Any, layer: ReferenceLayer) -> bool:
    if not layer.item_prefix:
        return True
    kind = layer.item_prefix.rstrip("_")
    return item.id.startswith(layer.item_prefix) or item.properties.get("usda_cdl:type") == kind


def nearest_year(years: list[int], target: int | None) -> int:
    """The year closest to ``target`` (ties: the later one); the latest when there is no target."""
    if target is None:
        return max(years)
    return min(years, key=lambda y: (abs(y - target), -y))


def find_reference_items(layer: ReferenceLayer, aoi: AOI, year: int | None,
                         stac_url: str | None = None) -> tuple[int, list[Any], str | None]:
    """The layer's items over the area for the year nearest ``year``: (year used, items, href signer)."""
    client, endpoint = open_endpoint(stac_url)
    try:
        items = list(client.search(collections=[layer.collection], intersects=aoi.to_geojson(), limit=100).items())
    except (APIError, requests.RequestException, ValueError) as err:
        raise service_error(endpoint.url, err) from None
    items = [it for it in items if _is_kind(it, layer) and layer.asset in it.assets and _item_year(it) is not None]
    if not items:
        raise NoScenesError(f"The reference layer {layer.title} has nothing over this area.",
                            hint="Give your own reference file instead.")
    chosen = nearest_year(sorted({_item_year(it) for it in items if _item_year(it)}), year)  # type: ignore[misc]
    return chosen, sorted((it for it in items if _item_year(it) == chosen), key=lambda it: it.id), endpoint.signer


def read_reference(name: str, aoi: AOI, grid: Grid, *, year: int | None = None,
                   stac_url: str | None = None) -> ReferenceRead:
    """Read the public layer ``name`` (REFERENCE_LAYERS) over ``aoi`` onto ``grid``; tiles mosaicked (first
    value with data wins). ``year``: the imagery's year; the nearest year the service holds is used."""
    layer = REFERENCE_LAYERS[name]
    used, items, signer = find_reference_items(layer, aoi, year, stac_url)
    out = np.full(grid.shape, layer.nodata, np.uint8)
    for item in items:
        arr = read_on_grid(item.assets[layer.asset].href, grid, native_m=layer.resolution_m, nodata=layer.nodata,
                           signer=signer).astype(np.uint8)
        take = (out == layer.nodata) & (arr != layer.nodata)
        out[take] = arr[take]
    if year is not None and used != year:
        log.info("%s: no %s layer; using %s, the nearest year held", name, year, used)
    return ReferenceRead(name, layer.title, out, layer.nodata, used, [it.id for it in items], layer.collection)


def read_reference_file(path: str | Path, grid: Grid) -> ReferenceRead:
    """A user's reference GeoTIFF (band 1) on ``grid``: the mode when finer than the grid, else nearest."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"The reference file {p.name} does not exist.")
    try:
        with rasterio.open(p) as src:
            if src.crs is None:
                raise InputError(f"The reference file {p.name} has no coordinate reference system.")
            nodata = int(src.nodata) if src.nodata is not None and 0 <= src.nodata <= 255 else CLASS_NODATA
            from geofm.data.reader import native_resolution_m

            native = native_resolution_m(src)
    except rasterio.errors.RasterioIOError:
        raise InputError(f"The reference file {p.name} is not a GeoTIFF geofm can read.") from None
    values = read_on_grid(str(p), grid, native_m=native, nodata=nodata).astype(np.uint8)
    if not (values != nodata).any():
        raise InputError(f"The reference file {p.name} does not cover the result's area.")
    return ReferenceRead(REFERENCE_FILE, "Reference file", values, nodata, None, [], str(p))


# ------------------------------------------------------------------------ meaning of the values


def water_mask(ref: ReferenceRead) -> tuple[np.ndarray, np.ndarray]:
    """(normal water, valid) from a water layer; a file: any value other than 0 and no data is water."""
    valid = ref.valid
    if ref.layer == REFERENCE_FILE:
        return valid & (ref.values != 0), valid
    layer = REFERENCE_LAYERS[ref.layer]
    if layer.kind != "water":
        raise InputError(f"{layer.title} is not a water layer.")
    return valid & np.isin(ref.values, layer.water_values), valid


def cdl_lookup() -> np.ndarray:
    """(256,) uint8: CDL code -> crop model class (0..12), CLASS_NODATA for codes without one or excluded."""
    lut = np.full(256, CLASS_NODATA, np.uint8)
    for code, cid in CDL_TO_CROP_ID.items():
        lut[code] = cid - 1
    lut[list(CDL_EXCLUDED)] = CLASS_NODATA
    return lut


def crop_classes(ref: ReferenceRead, num_classes: int) -> np.ndarray:
    """(H, W) crop model classes (CLASS_NODATA where none). A file holding only values 0..num_classes-1 is taken
    as model classes; any other file, and the usda-cdl layer, as CDL codes."""
    vals = ref.values
    if ref.layer == REFERENCE_FILE:
        data = vals[ref.valid]
        if data.size and int(data.max()) < num_classes:
            return np.where(ref.valid, vals, CLASS_NODATA).astype(np.uint8)
    elif REFERENCE_LAYERS[ref.layer].kind != "cropland":
        raise InputError(f"{REFERENCE_LAYERS[ref.layer].title} is not a crop layer.")
    return np.where(ref.valid, cdl_lookup()[vals], CLASS_NODATA).astype(np.uint8)
