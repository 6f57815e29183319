"""The region's mosaic: one COG from the complete chunk tiles, written atomically, in bounded memory.

Output CRS: the UTM zone of the region's centre, on exactly the grid a single-process run of the region would
use (``Grid.for_aoi``). Tiles of that zone are copied in pixel for pixel. Tiles of other zones (regions across
zone edges) are reprojected into it with nearest neighbour (class maps keep their classes), filling only pixels
no tile has filled yet; the tiles themselves stay in their own zone, exact, under ``tiles/``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from geofm.data.grid import Grid
from geofm.io.geotiff import COG_OPTIONS
from geofm.io.safewrite import publish


def _window_in(grid: Grid, src: rasterio.io.DatasetReader) -> Window | None:
    """The window of ``grid`` covering ``src`` (whole pixels, clipped); None when outside."""
    if src.crs == grid.crs:
        b = src.bounds
    else:
        b = transform_bounds(src.crs, grid.crs, *src.bounds, densify_pts=21)
    win = from_bounds(*b, transform=grid.transform).round_offsets(op="floor").round_lengths(op="ceil")
    col0, row0 = max(0, int(win.col_off)), max(0, int(win.row_off))
    col1 = min(grid.width, int(win.col_off + win.width) + 1)
    row1 = min(grid.height, int(win.row_off + win.height) + 1)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def _paste(dst: rasterio.io.DatasetWriter, grid: Grid, src: rasterio.io.DatasetReader, nodata: float) -> None:
    if src.crs == grid.crs:
        col = (src.transform.c - grid.transform.c) / grid.transform.a
        row = (src.transform.f - grid.transform.f) / grid.transform.e
        if abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6:  # same lattice: copy exactly
            col, row = round(col), round(row)
            c0, r0 = max(0, col), max(0, row)
            c1, r1 = min(grid.width, col + src.width), min(grid.height, row + src.height)
            if c1 > c0 and r1 > r0:
                win = Window(c0, r0, c1 - c0, r1 - r0)
                data = src.read(window=Window(c0 - col, r0 - row, c1 - c0, r1 - r0))
                _merge_write(dst, win, data, nodata)
            return
    win = _window_in(grid, src)
    if win is None:
        return
    out = np.full((src.count, int(win.height), int(win.width)), nodata, dtype=src.dtypes[0])
    reproject(rasterio.band(src, list(range(1, src.count + 1))), out, src_nodata=nodata, dst_nodata=nodata,
              dst_transform=rasterio.windows.transform(win, grid.transform), dst_crs=grid.crs,
              resampling=Resampling.nearest)
    _merge_write(dst, win, out, nodata)


def _merge_write(dst: rasterio.io.DatasetWriter, win: Window, data: np.ndarray, nodata: float) -> None:
    """Write ``data`` where it has data and the mosaic has none yet."""
    have = dst.read(window=win)
    empty = np.all(have == nodata, axis=0) if not np.isnan(nodata) else np.all(np.isnan(have), axis=0)
    new = ~np.all(data == nodata, axis=0)
    take = empty & new
    if take.any():
        have[:, take] = data[:, take]
        dst.write(have, window=win)


def build_mosaic(tiles: list[Path], grid: Grid, out: Path) -> Path | None:
    """Write ``out`` (COG on ``grid``) from ``tiles`` in this order; nothing when there are no tiles.

    The first tile gives data type, band count, nodata, colour table, band names and tags. Built in a
    temporary GeoTIFF beside ``out``, converted to COG under a temporary name, then renamed into place.
    """
    if not tiles:
        return None
    with rasterio.open(tiles[0]) as first:
        profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": first.count,
                   "dtype": first.dtypes[0], "crs": grid.crs, "transform": grid.transform, "nodata": first.nodata,
                   "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "DEFLATE", "BIGTIFF": "IF_SAFER"}
        nodata = first.nodata
        cmap = None
        try:
            cmap = first.colormap(1)
        except ValueError:
            pass
        descriptions, tags = first.descriptions, first.tags()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, work = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".work.tif", dir=out.parent)
    os.close(fd)
    fd, cog = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".cog.tif", dir=out.parent)
    os.close(fd)
    try:
        with rasterio.open(work, "w+", **profile) as dst:
            strip = np.full((min(512, grid.height), grid.width), nodata, dtype=profile["dtype"])
            for row in range(0, grid.height, strip.shape[0]):  # every block starts as nodata, in strips
                h = min(strip.shape[0], grid.height - row)
                for b in range(1, profile["count"] + 1):
                    dst.write(strip[:h], b, window=Window(0, row, grid.width, h))
            if cmap:
                dst.write_colormap(1, cmap)
            for i, d in enumerate(descriptions, start=1):
                if d:
                    dst.set_band_description(i, d)
            dst.update_tags(**tags)
            for path in tiles:
                with rasterio.open(path) as src:
                    _paste(dst, grid, src, nodata)
        with rasterio.open(work) as src:
            rasterio.shutil.copy(src, cog, driver="COG", **COG_OPTIONS)
        publish(cog, out)
    finally:
        for p in (work, cog):
            if os.path.exists(p):
                os.unlink(p)
    return out
