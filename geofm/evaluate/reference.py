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
from geofm.data.reader import native_resolution_m, read_band
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


#: The most distinct unexpected values an error message lists.
_LISTED_VALUES = 6


def _fill_value(dtype: str, nodata: float | None) -> float:
    """What marks no data in a reference file read on a grid: the file's nodata, else NaN (floats) or 255."""
    if nodata is not None:
        return float(nodata)
    return float("nan") if np.dtype(dtype).kind == "f" else float(CLASS_NODATA)


def reference_codes(values: np.ndarray, fill: float, name: str) -> np.ndarray:
    """A reference file's pixel values as uint8 class codes (CLASS_NODATA where there is no data).

    NaN, ``fill`` (the file's nodata) and, in a uint8 file, 255 are no data. Every other value must be a whole
    number from 0 to 254 (the class codes a reference holds); anything else — fractions, negatives, values
    past 254, infinities — is refused naming the values found, never cast (a float NaN cast to uint8 is 0,
    -1 is 255, 300 is 44).
    """
    if values.dtype.kind == "f":
        nodata = np.isnan(values) | (values == fill)
    else:
        nodata = values == fill
        if values.dtype == np.uint8:
            nodata |= values == CLASS_NODATA  # geofm's own no-data code, never a class
    data = values[~nodata]
    if values.dtype.kind == "f":
        bad = ~np.isfinite(data) | (data != np.round(data)) | (data < 0) | (data >= CLASS_NODATA)
    else:
        bad = (data < 0) | (data >= CLASS_NODATA)
    if bad.any():
        found = np.unique(data[bad])
        shown = ", ".join(f"{v:g}" if values.dtype.kind == "f" else str(v) for v in found[:_LISTED_VALUES].tolist())
        more = f" and {found.size - _LISTED_VALUES} more" if found.size > _LISTED_VALUES else ""
        fill_text = "NaN" if np.isnan(fill) else f"{fill:g} or NaN"
        raise InputError(f"The reference file {name} holds values that are not class codes: {shown}{more} "
                         f"({int(bad.sum()):,} pixels). A reference holds whole class numbers 0 to 254; no data is "
                         f"{fill_text}.")
    return np.where(nodata, CLASS_NODATA, values).astype(np.uint8)


def read_reference_file(path: str | Path, grid: Grid) -> ReferenceRead:
    """A user's reference GeoTIFF (band 1) on ``grid``: the mode when finer than the grid, else nearest.

    Integer or float files alike: the file's nodata and NaN are no data, other values must be class codes
    (``reference_codes``)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"The reference file {p.name} does not exist.")
    try:
        with rasterio.open(p) as src:
            if src.crs is None:
                raise InputError(f"The reference file {p.name} has no coordinate reference system.")
            fill = _fill_value(src.dtypes[0], src.nodata)
            native = native_resolution_m(src)
    except rasterio.errors.RasterioIOError:
        raise InputError(f"The reference file {p.name} is not a GeoTIFF geofm can read.") from None
    k = resample_factor(native, grid)
    raw = read_band(str(p), fine_grid(grid, k) if k > 1 else grid, nodata=fill)
    codes = reference_codes(raw, fill, p.name)
    values = mode_downsample(codes, k, CLASS_NODATA) if k > 1 else codes
    if not (values != CLASS_NODATA).any():
        raise InputError(f"The reference file {p.name} does not cover the result's area.")
    return ReferenceRead(REFERENCE_FILE, "Reference file", values, CLASS_NODATA, None, [], str(p))


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
