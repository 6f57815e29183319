"""The area of interest: validated geometry in EPSG:4326 with its UTM zone and size."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from rasterio.crs import CRS
from shapely.geometry import MultiPolygon, Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

from geofm.config import ENV_MAX_AOI_KM, GEOJSON_LIMITS, HLS_RESOLUTION_M
from geofm.errors import AOIError
from geofm.settings import settings

#: UTM zones are defined between these latitudes (HLS uses the MGRS/UTM grid).
UTM_LAT_LIMIT = 84.0
#: Width of a UTM zone in degrees of longitude.
UTM_ZONE_WIDTH_DEG = 6.0
_KM_PER_DEG_LAT = 110.95  # mean length of a degree of latitude, km


def max_aoi_km() -> float:
    """The largest allowed side of an area in km (setting GEOFM_MAX_AOI_KM, default 50)."""

    return settings().max_aoi_km


def _parallel_km(dlon_deg: float, lat_deg: float) -> float:
    """Length of ``dlon_deg`` degrees of longitude along the parallel at ``lat_deg`` on the WGS 84 ellipsoid, km."""
    a, e2 = 6378.137, 0.00669437999014
    phi = math.radians(lat_deg)
    radius = a * math.cos(phi) / math.sqrt(1.0 - e2 * math.sin(phi) ** 2)
    return radius * math.radians(dlon_deg)


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM CRS of the zone holding (lon, lat)."""
    zone = min(60, int(math.floor((lon + 180.0) / 6.0)) + 1)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def _nesting_depth(data: bytes, stop_at: int) -> int:
    """Deepest nesting of [ and { in JSON text (strings skipped), counted without recursion; stops past ``stop_at``."""
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', data)):
        depth += 1 if match.group() in b"[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > stop_at:
                break
    return deepest


def _vertex_count(obj: Any) -> int:
    """Coordinate pairs in a parsed GeoJSON object (lists of numbers), counted without recursion."""
    count, todo = 0, [obj]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list):
            if item and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in item):
                count += 1
            else:
                todo.extend(item)
    return count


def parse_geojson(text: str | bytes, *, max_bytes: int = GEOJSON_LIMITS.max_bytes,
                  max_depth: int = GEOJSON_LIMITS.max_depth,
                  max_vertices: int = GEOJSON_LIMITS.max_vertices) -> Any:
    """Untrusted GeoJSON text parsed after its size and nesting are checked (AOIError, one line, when over).

    The checks come before ``json.loads``: text nested thousands of levels deep would otherwise end in a
    RecursionError in the parser or in anything that walks the result. The result still has to be an area
    (:meth:`AOI.from_geojson`).
    """
    data = text.encode("utf-8", "replace") if isinstance(text, str) else bytes(text)
    if len(data) > max_bytes:
        raise AOIError(f"The area's GeoJSON is {len(data) / 1024:,.0f} KB; at most {max_bytes / 1024:,.0f} KB "
                       "is read.", hint="Simplify the outline (fewer points) or use a bounding box.")
    depth = _nesting_depth(data, max_depth)
    if depth > max_depth:
        raise AOIError(f"The area's GeoJSON is nested more than {max_depth} levels deep; an area needs at "
                       "most 8 (a MultiPolygon in a FeatureCollection).")
    try:
        obj = json.loads(data)
    except ValueError as err:
        raise AOIError(f"The area is not valid JSON ({err}).") from None
    vertices = _vertex_count(obj)
    if vertices > max_vertices:
        raise AOIError(f"The area has {vertices:,} points; at most {max_vertices:,} are read.",
                       hint="Simplify the outline (fewer points) or use a bounding box.")
    return obj


def read_geojson_file(path: str | Path) -> Any:
    """A GeoJSON file named by the user, read with :func:`parse_geojson` and the file limits (AOIError, one line)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > GEOJSON_LIMITS.file_max_bytes:
            raise AOIError(f"The GeoJSON file {path} is {size / 2**20:,.0f} MB; at most "
                           f"{GEOJSON_LIMITS.file_max_bytes / 2**20:,.0f} MB is read.")
        data = path.read_bytes()
    except OSError as err:
        raise AOIError(f"Cannot read the GeoJSON file {path}: {err.strerror or err}.") from None
    try:
        return parse_geojson(data, max_bytes=GEOJSON_LIMITS.file_max_bytes,
                             max_vertices=GEOJSON_LIMITS.file_max_vertices)
    except AOIError as err:
        raise AOIError(f"{path}: {err}", hint=err.hint) from None


def _check_lon_lat(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise AOIError(f"The coordinate ({lon}, {lat}) is not a finite number.")
    if not -180.0 <= lon <= 180.0:
        raise AOIError(f"Longitude {lon:g} is out of range; longitudes run from -180 to 180 degrees.",
                       hint="Coordinates are (longitude, latitude) in degrees (EPSG:4326).")
    if not -90.0 <= lat <= 90.0:
        raise AOIError(f"Latitude {lat:g} is out of range; latitudes run from -90 to 90 degrees.",
                       hint="Coordinates are (longitude, latitude) in degrees (EPSG:4326).")
    if abs(lat) > UTM_LAT_LIMIT:
        raise AOIError(f"Latitude {lat:g} is outside the HLS/UTM grid, which covers {UTM_LAT_LIMIT:g}S to "
                       f"{UTM_LAT_LIMIT:g}N.")


@dataclass(frozen=True)
class AOI:
    """A validated area of interest (polygon in EPSG:4326 longitude/latitude)."""

    geometry: BaseGeometry

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_bbox(cls, w: float, s: float, e: float, n: float, *, max_km: float | None = None) -> "AOI":
        """An area from west, south, east, north in degrees; raises AOIError when unusable."""
        try:
            w, s, e, n = (float(v) for v in (w, s, e, n))
        except (TypeError, ValueError):
            raise AOIError(f"The bounding box ({w}, {s}, {e}, {n}) must be four numbers: W S E N.") from None
        for lon, lat in ((w, s), (e, n)):
            _check_lon_lat(lon, lat)
        if w > e:
            raise AOIError(
                f"West ({w:g}) is east of East ({e:g}): the area would cross the antimeridian (180 degrees), "
                "which is not supported.", hint="Split the area into two, one each side of 180 degrees.")
        if s > n:
            raise AOIError(f"South ({s:g}) is north of North ({n:g}); give the box as W S E N.")
        if w == e or s == n:
            raise AOIError(f"The bounding box ({w:g}, {s:g}, {e:g}, {n:g}) is empty: it has no width or height.")
        return cls._validated(box(w, s, e, n), max_km)

    @classmethod
    def from_geojson(cls, geometry_or_feature: dict[str, Any], *, max_km: float | None = None) -> "AOI":
        """An area from a GeoJSON Polygon/MultiPolygon, Feature or one-feature FeatureCollection."""
        obj = geometry_or_feature
        if not isinstance(obj, dict):
            raise AOIError("The area must be a GeoJSON object (Polygon, MultiPolygon or Feature).")
        if obj.get("type") == "FeatureCollection":
            feats = obj.get("features") or []
            if len(feats) != 1:
                raise AOIError(f"The FeatureCollection holds {len(feats)} features; draw exactly one area.")
            obj = feats[0]
        if obj.get("type") == "Feature":
            obj = obj.get("geometry") or {}
        if obj.get("type") not in ("Polygon", "MultiPolygon"):
            raise AOIError(f"The area must be a Polygon or MultiPolygon, not {obj.get('type')!r}.")
        try:
            geom = shape(obj)
        except Exception as err:  # shapely raises several types for malformed rings
            raise AOIError(f"The polygon is malformed: {err}.") from None
        if geom.is_empty:
            raise AOIError("The polygon is empty.")
        coords = shapely.get_coordinates(geom)
        for lon, lat in coords:
            _check_lon_lat(float(lon), float(lat))
        if coords[:, 0].max() - coords[:, 0].min() > 180.0:
            raise AOIError("The polygon spans more than 180 degrees of longitude: it crosses the antimeridian, "
                           "which is not supported.", hint="Split the area into two, one each side of 180 degrees.")
        if not geom.is_valid:
            raise AOIError(f"The polygon is not valid ({explain_validity(geom)}): its edges must not cross "
                           "themselves.", hint="Redraw the area without self-intersections.")
        if geom.area == 0:
            raise AOIError("The polygon is empty: it encloses no area.")
        return cls._validated(geom, max_km)

    @classmethod
    def _validated(cls, geom: BaseGeometry, max_km: float | None) -> "AOI":
        aoi = cls(geom)
        cap = max_aoi_km() if max_km is None else max_km
        width, height = aoi.size_km
        if width > cap or height > cap:
            raise AOIError(
                f"The area is {width:.1f} x {height:.1f} km; the largest allowed is {cap:g} x {cap:g} km.",
                hint=f"Draw a smaller area (the limit is set by {ENV_MAX_AOI_KM}).")
        smallest = HLS_RESOLUTION_M / 1000.0
        if width < smallest or height < smallest:
            raise AOIError(f"The area is too small: {width * 1000:.0f} x {height * 1000:.0f} m, less than one "
                           f"{HLS_RESOLUTION_M:g} m pixel across.", hint="Draw a larger area.")
        return aoi

    # ---------------------------------------------------------------- properties
    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees."""
        w, s, e, n = self.geometry.bounds
        return float(w), float(s), float(e), float(n)

    @property
    def centroid(self) -> tuple[float, float]:
        c = self.geometry.centroid
        return float(c.x), float(c.y)

    def utm_crs(self) -> CRS:
        """The UTM zone of the area's centre: the grid every read lands on."""
        return utm_crs_for(*self.centroid)

    def projected(self, crs: CRS | None = None) -> BaseGeometry:
        """The geometry in ``crs`` (default: the area's UTM zone)."""
        dst = ProjCRS.from_user_input((crs or self.utm_crs()).to_wkt())
        tr = Transformer.from_crs(ProjCRS.from_epsg(4326), dst, always_xy=True)
        return shapely.transform(self.geometry, tr.transform, interleaved=False)

    @property
    def size_km(self) -> tuple[float, float]:
        """(width, height) of the area's box in its UTM zone, km.

        Areas wider than a UTM zone are measured along the parallel nearest the equator instead: a projection
        folds a box spanning most of the globe (-179.9 to 179.9 degrees would measure 22 km in UTM).
        """
        x0, y0, x1, y1 = self.projected().bounds
        width, height = (x1 - x0) / 1000.0, (y1 - y0) / 1000.0
        w, s, e, n = self.bounds
        if e - w > UTM_ZONE_WIDTH_DEG or not (math.isfinite(width) and math.isfinite(height)):
            width = _parallel_km(e - w, 0.0 if s <= 0.0 <= n else min(abs(s), abs(n)))
            if not (math.isfinite(height) and height > 0):
                height = (n - s) * _KM_PER_DEG_LAT
        return width, height

    @property
    def area_km2(self) -> float:
        return float(self.projected().area) / 1e6

    def to_geojson(self) -> dict[str, Any]:
        """GeoJSON geometry with RFC 7946 winding: exterior rings counter-clockwise, holes clockwise
        (NASA CMR-STAC answers HTTP 400 to clockwise polygons, and Leaflet draws rectangles clockwise)."""
        return shapely.geometry.mapping(_rfc7946(self.geometry))

    def __str__(self) -> str:
        w, s, e, n = self.bounds
        return f"({w:.4f}, {s:.4f}, {e:.4f}, {n:.4f})"


def _rfc7946(geom: Any) -> Any:
    """The geometry with counter-clockwise exteriors (polygons and each part of a multipolygon)."""

    if isinstance(geom, Polygon):
        return orient(geom, 1.0)
    if isinstance(geom, MultiPolygon):
        return MultiPolygon([orient(p, 1.0) for p in geom.geoms])
    return geom
