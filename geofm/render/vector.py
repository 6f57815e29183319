"""Class maps as GeoJSON polygons (EPSG:4326) with the area of each polygon."""

from __future__ import annotations

import json

import numpy as np
import rasterio.features
from pyproj import Geod, Transformer
from shapely.geometry import mapping, shape
import shapely

from geofm.config import CLASS_NODATA
from geofm.stack import SegmentationResult

_GEOD = Geod(ellps="WGS84")


def class_polygons(result: SegmentationResult, *, skip_classes: tuple[int, ...] = ()) -> dict:
    """A FeatureCollection: one (Multi)Polygon per class (its patches dissolved), with class name and area."""
    classes = np.ascontiguousarray(result.classes.astype(np.uint8))
    mask = classes != CLASS_NODATA
    for k in skip_classes:
        mask &= classes != k
    to_lonlat = Transformer.from_crs(result.crs, 4326, always_xy=True)
    patches: dict[int, list] = {}
    for geom, value in rasterio.features.shapes(classes, mask=mask, transform=result.transform, connectivity=4):
        patches.setdefault(int(value), []).append(shape(geom))
    features = []
    for k in sorted(patches):
        native = shapely.union_all(patches[k])
        lonlat = shapely.transform(native, lambda x, y: to_lonlat.transform(x, y), interleaved=False)
        if result.crs.is_geographic:
            area_m2 = abs(_GEOD.geometry_area_perimeter(native)[0])
        else:
            factor = result.crs.linear_units_factor[1] if result.crs.linear_units_factor else 1.0
            area_m2 = native.area * factor ** 2
        features.append({
            "type": "Feature",
            "geometry": mapping(lonlat),
            "properties": {"class_id": k, "class_name": result.class_names[k], "patches": len(patches[k]),
                           "area_m2": round(area_m2, 1), "area_ha": round(area_m2 / 1e4, 4)},
        })
    return {"type": "FeatureCollection", "features": features}


def class_polygons_geojson(result: SegmentationResult, **kw) -> bytes:
    """:func:`class_polygons` serialised as UTF-8 GeoJSON."""
    return json.dumps(class_polygons(result, **kw)).encode("utf-8")
