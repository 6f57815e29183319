"""Cutting a region into chunks on its UTM grid (one grid per zone), with the halo each chunk must read.

A region's pixels live on ``Grid.for_aoi`` of its part in each UTM zone it touches: exactly the grid a
single-process run of that part would use. Chunk cores start at multiples of ``REGION.chunk_multiple_px``
(224 = two 112-px strides = one MAE window), so every window a single-process run would place is either
wholly a regular window (start a multiple of the stride) or the snapped edge window, and the windows that
touch a core are found from the *global* window starts. A chunk reads the union of those windows (its core
plus a halo of up to one stride each side, or the rows the edge reflection mirrors for reconstruction) and
runs them; every core pixel then sums the same windows in the same order as the single-process run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely
from affine import Affine
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from geofm.config import HLS_RESOLUTION_M, REGION, ModelSpec
from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.inference.reconstruct import pad_amount
from geofm.inference.sliding import window_starts


@dataclass(frozen=True)
class Span:
    """Half-open pixel ranges [row0, row1) x [col0, col1) on a zone grid."""

    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def height(self) -> int:
        return self.row1 - self.row0

    @property
    def width(self) -> int:
        return self.col1 - self.col0

    def grid(self, zone: Grid) -> Grid:
        """The sub-grid of ``zone`` this span covers (same CRS and pixel lattice)."""
        return Grid(zone.crs, zone.transform @ Affine.translation(self.col0, self.row0), self.width, self.height)

    def within(self, outer: Span) -> tuple[slice, slice]:
        """Slices that cut this span out of an array covering ``outer``."""
        return (slice(self.row0 - outer.row0, self.row1 - outer.row0),
                slice(self.col0 - outer.col0, self.col1 - outer.col0))


@dataclass(frozen=True)
class ZonePart:
    """The region's part in one UTM zone and its grid."""

    epsg: int
    geometry: BaseGeometry  # lon/lat
    grid: Grid

    @property
    def aoi(self) -> AOI:
        return AOI(self.geometry)


@dataclass(frozen=True)
class Chunk:
    """One unit of work: a core on a zone grid, written as one tile."""

    id: str
    epsg: int
    core: Span

    @property
    def file_name(self) -> str:
        return f"{self.id}.tif"


def zone_of(lon: float) -> int:
    return min(60, math.floor((lon + 180.0) / 6.0) + 1)


def zone_parts(aoi: AOI) -> list[ZonePart]:
    """The region split at UTM zone edges; a region inside one zone is one part with the area's own grid."""
    w, _s, e, _n = aoi.bounds
    zones = range(zone_of(w), zone_of(e) + 1)
    if len(zones) == 1:
        grid = Grid.for_aoi(aoi, HLS_RESOLUTION_M)
        return [ZonePart(int(grid.crs.to_epsg()), aoi.geometry, grid)]
    parts = []
    for z in zones:
        band = box(-180.0 + 6.0 * (z - 1), -90.0, -180.0 + 6.0 * z, 90.0)
        geom = aoi.geometry.intersection(band)
        if geom.is_empty or geom.area == 0:
            continue
        geom = shapely.make_valid(geom)
        polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")]
        if not polys:
            continue
        geom = shapely.unary_union(polys)
        part = AOI(geom)
        grid = Grid.for_aoi(part, HLS_RESOLUTION_M)
        parts.append(ZonePart(int(grid.crs.to_epsg()), geom, grid))
    return parts


def chunk_pixels(chunk_km: float, resolution: float = HLS_RESOLUTION_M) -> int:
    """Chunk side in pixels: ``chunk_km`` rounded to a whole, non-zero number of 224-px units."""
    unit = REGION.chunk_multiple_px
    return max(1, round(chunk_km * 1000.0 / resolution / unit)) * unit


def estimate_chunks(bounds: tuple[float, float, float, float], size_px: int,
                    resolution: float = HLS_RESOLUTION_M) -> int:
    """Chunks a region of lon/lat ``bounds`` plans at most, by arithmetic alone (nothing projected or listed):
    per UTM zone it touches, the cells of its part's box (widest at the latitude nearest the equator)."""
    w, s, e, n = bounds
    km_per_deg_lat, km_per_deg_lon = 110.57, 111.32
    nearest = 0.0 if s <= 0.0 <= n else min(abs(s), abs(n))
    cos = math.cos(math.radians(min(nearest, 90.0)))
    side_km = size_px * resolution / 1000.0
    rows = max(1, math.ceil((n - s) * km_per_deg_lat / side_km))
    total = 0
    for z in range(zone_of(w), zone_of(e) + 1):
        lo, hi = max(w, -180.0 + 6.0 * (z - 1)), min(e, -180.0 + 6.0 * z)
        if hi > lo or (hi == lo and w == e):
            total += rows * max(1, math.ceil((hi - lo) * km_per_deg_lon * cos / side_km))
    return total


def make_chunks(part: ZonePart, size_px: int) -> list[Chunk]:
    """Row-major chunks of ``part``'s grid whose core touches the part's polygon."""
    if size_px % REGION.chunk_multiple_px:
        raise ValueError(f"chunk size {size_px} is not a multiple of {REGION.chunk_multiple_px}")
    g = part.grid
    poly = part.aoi.projected(g.crs)
    chunks = []
    for i, r0 in enumerate(range(0, g.height, size_px)):
        for j, c0 in enumerate(range(0, g.width, size_px)):
            span = Span(r0, min(r0 + size_px, g.height), c0, min(c0 + size_px, g.width))
            x0, y0 = g.transform @ (span.col0, span.row1)
            x1, y1 = g.transform @ (span.col1, span.row0)
            if not poly.intersects(box(x0, y0, x1, y1)):
                continue
            chunks.append(Chunk(f"{part.epsg}_{i:04d}_{j:04d}", part.epsg, span))
    return chunks


def _sliding_extent(c0: int, c1: int, size: int, window: int, stride: int) -> tuple[int, int]:
    """[a, b) covering every window of the size-``size`` axis that touches [c0, c1)."""
    if size <= window:
        return 0, size  # one window, padded by the engine exactly as in a single-process run
    starts = [s for s in window_starts(size, window, stride) if s < c1 and s + window > c0]
    return min(starts), min(max(starts) + window, size)


def _tiling_extent(c0: int, c1: int, size: int, window: int) -> tuple[int, int]:
    """[a, b) for non-overlapping windows: the core, plus the rows the bottom/right reflection mirrors."""
    if c1 < size or size <= window:
        return (c0, c1) if size > window else (0, size)
    pad = pad_amount(size, window)
    return min(c0, size - 1 - pad), c1


def read_span(core: Span, zone: Grid, spec: ModelSpec) -> Span:
    """The pixels a chunk reads so that its core sees exactly the windows of a single-process run."""
    if spec.kind == "mae":
        r = _tiling_extent(core.row0, core.row1, zone.height, spec.window)
        c = _tiling_extent(core.col0, core.col1, zone.width, spec.window)
    else:
        r = _sliding_extent(core.row0, core.row1, zone.height, spec.window, spec.stride)
        c = _sliding_extent(core.col0, core.col1, zone.width, spec.window, spec.stride)
    return Span(r[0], r[1], c[0], c[1])


def span_lonlat(span: Span, zone: Grid) -> BaseGeometry:
    """The span's footprint as a lon/lat polygon (edges densified)."""
    x0, y0 = zone.transform @ (span.col0, span.row1)
    x1, y1 = zone.transform @ (span.col1, span.row0)
    ring = shapely.segmentize(box(x0, y0, x1, y1), max(x1 - x0, y1 - y0) / 16)
    tr = Transformer.from_crs(ProjCRS.from_wkt(zone.crs.to_wkt()), ProjCRS.from_epsg(4326), always_xy=True)
    return shapely.transform(ring, tr.transform, interleaved=False)


def chunk_aoi(chunk: Chunk, part: ZonePart) -> AOI | None:
    """The region's area inside the chunk's core, in lon/lat (None when they do not overlap)."""
    geom = span_lonlat(chunk.core, part.grid).intersection(part.geometry)
    if geom.is_empty or geom.area == 0:
        return None
    return AOI(geom)
