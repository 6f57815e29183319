"""A deflate tile must be a whole zlib stream: GDAL accepts a tile whose stream never ends.

libtiff (through libdeflate or zlib) stops decoding a deflate tile as soon as it has the tile's bytes and
treats a stream that has not ended as "extra data", so a tile whose compressed second half is zeroed (a
partial write, a damaged copy) often still decodes — the zeros inflate to some pixel values — with no
error and no warning, and gives a wrong map. A tile written by any TIFF writer ends its stream with the
zlib end marker and the Adler-32 checksum of the tile's bytes, right after the tile's last byte. So after
GDAL has read a window, the compressed bytes of the tiles the output drew from are inflated here once more
and must give exactly the tile's bytes, reach the end of the stream and pass its checksum; anything else
is a damaged tile.

The check runs where those bytes cost nothing: local files, and /vsicurl/ reads whose ranges go through
GDAL's cache (``geofm.data.net.keep_fetched_blocks``: region workers). GDAL's default parallel multi-range
reads bypass its cache, and reading the tiles again there measured 2.6 times the bytes of the read (7.3 MB
-> 18.9 MB for a 25 km area of three scenes), so those reads are not checked.
Only deflate-compressed, tiled files are checked (HLS's COGs are deflate + predictor 2, 256-px blocks).
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import threading
import zlib
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Compression
from rasterio.errors import RasterioError
from rasterio.warp import transform

from geofm.data.grid import Grid
from geofm.data.net import fetched_blocks_kept

log = logging.getLogger(__name__)


class DamagedTileError(RasterioError):
    """A deflate tile that does not decode to exactly its bytes (the message says "decode")."""


_LIB: ctypes.CDLL | None = None
_LIB_LOCK = threading.Lock()


def _libgdal() -> ctypes.CDLL | None:
    """The GDAL library rasterio loaded (for its VSI file functions), or None when it cannot be found."""
    global _LIB
    with _LIB_LOCK:
        if _LIB is not None:
            return _LIB
        paths = []
        try:
            with open("/proc/self/maps") as fh:
                paths = sorted({line.split()[-1] for line in fh if "libgdal" in line and "/" in line})
        except OSError:
            pass
        paths += sorted(glob.glob(str(Path(rasterio.__file__).parent.parent / "rasterio.libs" / "libgdal*.so*")))
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
                lib.VSIFOpenL.restype = ctypes.c_void_p
                lib.VSIFOpenL.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
                lib.VSIFSeekL.restype = ctypes.c_int
                lib.VSIFSeekL.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int]
                lib.VSIFReadL.restype = ctypes.c_size_t
                lib.VSIFReadL.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p]
                lib.VSIFCloseL.restype = ctypes.c_int
                lib.VSIFCloseL.argtypes = [ctypes.c_void_p]
            except (OSError, AttributeError):
                continue
            _LIB = lib
            return lib
        log.warning("GDAL's file functions were not found: deflate tiles are not checked for a stream end")
        return None


def _read_ranges(path: str, spans: list[tuple[int, int]]) -> list[bytes] | None:
    """Bytes of each (offset, size) of ``path`` through GDAL's virtual file system (its cache for /vsicurl/)."""
    if not path.startswith("/vsi"):
        with open(path, "rb") as fh:
            out = []
            for off, size in spans:
                fh.seek(off)
                out.append(fh.read(size))
            return out
    lib = _libgdal()
    if lib is None:
        return None
    fp = lib.VSIFOpenL(path.encode(), b"rb")
    if not fp:
        raise DamagedTileError(f"{path.rsplit('/', 1)[-1]}: cannot be opened again to decode its tiles")
    try:
        out = []
        for off, size in spans:
            buf = ctypes.create_string_buffer(size)
            if lib.VSIFSeekL(fp, off, os.SEEK_SET) != 0:
                raise DamagedTileError(f"{path.rsplit('/', 1)[-1]}: tile at byte {off} cannot be read to decode")
            got = lib.VSIFReadL(buf, 1, size, fp)
            out.append(buf.raw[:got])
        return out
    finally:
        lib.VSIFCloseL(fp)


def tile_bytes(src: rasterio.io.DatasetReader) -> int:
    """Uncompressed bytes of one tile of ``src`` (all bands when pixel-interleaved)."""
    bh, bw = src.block_shapes[0]
    pixel = src.interleaving is not None and src.interleaving.name.lower() == "pixel"
    return bh * bw * (src.count if pixel else 1) * np.dtype(src.dtypes[0]).itemsize


def check_stream(data: bytes, expected: int) -> str | None:
    """Why ``data`` is not one complete zlib stream of ``expected`` bytes (None when it is)."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, expected + 1)
    except zlib.error as err:
        return f"decode error ({err})"
    if len(out) != expected:
        return f"decodes to {len(out)} bytes, not {expected}"
    if not d.eof:
        return "its deflate stream does not end (no end marker, no checksum): it does not decode to this tile"
    return None


#: Output pixels between two sampled ones inside the grid, and along its edges, when finding the source
#: tiles the read used: far below the 256-px tiles, so no tile the output draws from is missed.
_INNER_STEP, _EDGE_STEP = 32, 4


def used_blocks(src: rasterio.io.DatasetReader, grid: Grid) -> set[tuple[int, int]]:
    """(col, row) of the source tiles holding the source pixels that a nearest-neighbour read of ``grid`` takes
    (the grid's pixel centres mapped into ``src``): the tiles GDAL fetched for the output, no more."""
    w, h = grid.width, grid.height
    cols = np.unique(np.r_[np.arange(0, w, _INNER_STEP), w - 1])
    rows = np.unique(np.r_[np.arange(0, h, _INNER_STEP), h - 1])
    edge_c = np.unique(np.r_[np.arange(0, w, _EDGE_STEP), w - 1])
    edge_r = np.unique(np.r_[np.arange(0, h, _EDGE_STEP), h - 1])
    cc, rr = np.meshgrid(cols, rows)
    px = np.concatenate([cc.ravel(), edge_c, edge_c, np.zeros_like(edge_r), np.full_like(edge_r, w - 1)])
    py = np.concatenate([rr.ravel(), np.zeros_like(edge_c), np.full_like(edge_c, h - 1), edge_r, edge_r])
    t = grid.transform
    xs = t.c + t.a * (px + 0.5) + t.b * (py + 0.5)
    ys = t.f + t.d * (px + 0.5) + t.e * (py + 0.5)
    if grid.crs != src.crs:
        xs, ys = transform(grid.crs, src.crs, xs.tolist(), ys.tolist())
    inv = ~src.transform
    sc, sr = inv * (np.asarray(xs, float), np.asarray(ys, float))
    sc, sr = np.floor(sc).astype(np.int64), np.floor(sr).astype(np.int64)
    inside = (sc >= 0) & (sc < src.width) & (sr >= 0) & (sr < src.height)
    bh, bw = src.block_shapes[0]
    return set(zip((sc[inside] // bw).tolist(), (sr[inside] // bh).tolist()))


def check_tiles(src: rasterio.io.DatasetReader, path: str, grid: Grid) -> int:
    """Raise DamagedTileError when a deflate tile of ``src`` under ``grid`` is not a whole stream of its
    bytes; returns how many tiles were checked (0: not a tiled deflate file, or nothing under the grid)."""
    if src.compression != Compression.deflate or not src.is_tiled:
        return 0
    if path.startswith("/vsi") and not fetched_blocks_kept():
        return 0  # parallel range reads: the tiles are not in GDAL's cache, a check would fetch them again
    expected = tile_bytes(src)
    spans: list[tuple[int, int]] = []
    names: list[tuple[int, int]] = []
    for c, r in sorted(used_blocks(src, grid), key=lambda cr: (cr[1], cr[0])):
        off = src.get_tag_item(f"BLOCK_OFFSET_{c}_{r}", "TIFF", bidx=1)
        size = src.get_tag_item(f"BLOCK_SIZE_{c}_{r}", "TIFF", bidx=1)
        if off and size and int(size) > 0:  # 0: a sparse tile (nodata), nothing stored
            spans.append((int(off), int(size)))
            names.append((c, r))
    if not spans:
        return 0
    chunks = _read_ranges(path, spans)
    if chunks is None:
        return 0
    for (c, r), (_off, size), data in zip(names, spans, chunks):
        if len(data) != size:
            raise DamagedTileError(f"{path.rsplit('/', 1)[-1]}: tile {c},{r} is cut short ({len(data)} of {size} "
                                   "bytes): it does not decode")
        why = check_stream(data, expected)
        if why is not None:
            raise DamagedTileError(f"{path.rsplit('/', 1)[-1]}: tile {c},{r} is damaged: {why}")
    return len(spans)
