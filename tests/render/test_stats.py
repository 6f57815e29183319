"""Numbers shown with results: class areas, water extent, polygons with areas, reconstruction error."""

import json

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import shape

from geofm.config import CLASS_NODATA, CROP_CLASSES, FLOOD_CLASSES
from geofm.render.stats import class_area_table, pixel_area_m2, reconstruction_error_table, water_summary
from geofm.render.vector import class_polygons, class_polygons_geojson
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

UTM = CRS.from_epsg(32614)
T30 = Affine(30.0, 0.0, 700_000.0, 0.0, -30.0, 4_580_000.0)


def _seg(classes, classes_info=FLOOD_CLASSES, crs=UTM, transform=T30):
    return SegmentationResult(classes=classes.astype(np.uint8), crs=crs, transform=transform, model="m",
                              class_names=tuple(c.name for c in classes_info),
                              class_colors=tuple(c.color for c in classes_info))


def test_water_area_and_share_of_clear_area():
    classes = np.zeros((10, 10), np.uint8)
    classes[:, :3] = 1  # 30 water pixels
    classes[8:, :] = CLASS_NODATA  # 20 cloudy pixels (6 of them were water)
    summary = water_summary(_seg(classes))
    assert summary.water_km2 == pytest.approx(24 * 900 / 1e6)
    assert summary.clear_km2 == pytest.approx(80 * 900 / 1e6)
    assert summary.water_percent == pytest.approx(30.0)
    assert summary.total_km2 == pytest.approx(100 * 900 / 1e6)


def test_class_table_hectares_and_percent():
    classes = np.full((20, 20), 2, np.uint8)  # corn
    classes[:5] = 3  # 100 soybean pixels
    classes[-1] = CLASS_NODATA
    table = class_area_table(_seg(classes, CROP_CLASSES))
    assert list(table["class"]) == [c.name for c in CROP_CLASSES]
    corn = table.set_index("class").loc["Corn"]
    soy = table.set_index("class").loc["Soybeans"]
    assert corn.pixels == 280 and corn.area_ha == pytest.approx(280 * 0.09)
    assert soy.area_ha == pytest.approx(9.0)
    assert soy.percent == pytest.approx(100 * 100 / 380, abs=0.01)
    assert table["percent"].sum() == pytest.approx(100.0, abs=0.05)
    assert table.set_index("class").loc["Corn", "colour"] == "#ffd400"


def test_pixel_area_in_degrees_uses_the_ellipsoid():
    transform = Affine(0.001, 0, -96.0, 0, -0.001, 41.0)
    areas = pixel_area_m2(CRS.from_epsg(4326), transform, (3, 3))
    # 0.001 degree at 41 N: ~111.0 m north-south x ~84.0 m east-west
    assert areas.shape == (3, 1)
    assert areas[0, 0] == pytest.approx(111.05 * 84.2, rel=0.01)


def test_class_polygons_have_lonlat_geometry_and_exact_areas():
    classes = np.zeros((10, 10), np.uint8)
    classes[2:5, 2:6] = 1  # 12 pixels, one patch
    classes[7:9, 7:9] = 1  # 4 pixels, another patch
    classes[0, :] = CLASS_NODATA
    fc = class_polygons(_seg(classes), skip_classes=(0,))
    water = [f for f in fc["features"] if f["properties"]["class_name"] == "Water / flood"]
    # one (Multi)Polygon per class: both patches dissolved into one feature with their summed area
    assert len(fc["features"]) == len(water) == 1
    assert water[0]["properties"]["area_m2"] == 3600.0 + 10800.0 and water[0]["properties"]["patches"] == 2
    assert water[0]["geometry"]["type"] == "MultiPolygon"
    lon, lat = shape(water[0]["geometry"]).centroid.coords[0]
    assert -97.0 < lon < -95.0 and 41.0 < lat < 41.5
    decoded = json.loads(class_polygons_geojson(_seg(classes)))
    assert {f["properties"]["class_id"] for f in decoded["features"]} == {0, 1}
    assert sum(f["properties"]["area_ha"] for f in decoded["features"]) == pytest.approx(90 * 0.09)


def test_reconstruction_error_per_band_over_hidden_pixels():
    data = np.full((1, 6, 4, 4), 1000, np.int16)
    valid = np.ones((1, 4, 4), bool)
    stack = HLSStack(data, valid, UTM, T30)
    recon = data.astype(np.float32).copy()
    recon[0, 2] += 500  # red off by 0.05 reflectance everywhere
    mask = np.zeros((1, 4, 4), bool)
    mask[0, :2] = True
    rgb = np.zeros((1, 4, 4, 3), np.uint8)
    result = ReconstructionResult(rgb, rgb, rgb, mask, recon, UTM, T30, "mae", 0.5, 0)
    table = reconstruction_error_table(stack, result).set_index("band")
    assert table.loc["Red", "mean_abs_error"] == pytest.approx(0.05)
    assert table.loc["Red", "rmse"] == pytest.approx(0.05)
    assert table.loc["Blue", "mean_abs_error"] == 0.0
    assert table.loc["Red", "pixels"] == 8
    # named as the sensor names its bands (Sentinel-2's NIR narrow is B8A, Landsat's B05)
    s2 = reconstruction_error_table(stack, result, sensors=["S30"]).set_index("band")
    assert list(s2.index) == ["B02 Blue", "B03 Green", "B04 Red", "B8A NIR narrow", "B11 SWIR 1", "B12 SWIR 2"]
    assert s2.loc["B04 Red", "rmse"] == pytest.approx(0.05)
