"""Rendered products are plain data made without Streamlit (the app's pages only arrange them)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from geofm.config import TASKS
from geofm.render.products import ClassMapProducts, render_products
from geofm.stack import HLSStack, SegmentationResult
from tests.geotiff_helpers import hls_like


def test_products_module_does_not_import_streamlit():
    code = "import sys, geofm.render.products, geofm.pipeline; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_burn_scar_products_leave_unburnt_land_see_through():
    data = hls_like(1, 40, 50, seed=3)
    data[:, :, :5, :5] = -9999
    stack = HLSStack(data, (data != -9999).all(axis=1), CRS.from_epsg(32613), Affine(30, 0, 440000, 0, -30, 3960000),
                     times=[datetime(2022, 10, 2, 17, 40)])
    classes = np.zeros((40, 50), np.uint8)
    classes[10:30, 20:40] = 1
    classes[:5, :5] = 255
    result = SegmentationResult(classes=classes, crs=stack.crs, transform=stack.transform, model="m",
                                class_names=("Unburnt land", "Burn scar"),
                                class_colors=((235, 235, 225), (200, 40, 30)))
    seen = []
    p = render_products(TASKS["burn-scars"], result, stack, sensors=["S30"], progress=lambda *a: seen.append(a))
    assert isinstance(p, ClassMapProducts) and p.labels == ("2022-10-02 (Sentinel-2)",)
    assert p.target is not None and abs(p.target.water_km2 - 400 * 900 / 1e6) < 1e-9
    assert list(p.table["class"]) == ["Unburnt land", "Burn scar"]
    features = json.loads(p.geojson)["features"]
    assert {f["properties"]["class_name"] for f in features} == {"Burn scar"}  # unburnt land is left out
    assert p.cog[:2] in (b"II", b"MM") and p.png[:4] == b"\x89PNG" and seen[0][0] == "render"
    alpha = p.class_overlay.rgba[..., 3]
    assert alpha.max() == 255 and (alpha == 0).mean() > 0.5  # burn scars opaque, unburnt land see-through


def _flood_result(classes: np.ndarray, probs: np.ndarray | None = None) -> tuple[HLSStack, SegmentationResult]:
    data = hls_like(1, *classes.shape, seed=4)
    stack = HLSStack(data, (data != -9999).all(axis=1), CRS.from_epsg(32615), Affine(30, 0, 253000, 0, -30, 4575000),
                     times=[datetime(2022, 4, 7, 17, 15)])
    return stack, SegmentationResult(classes=classes, crs=stack.crs, transform=stack.transform, model="m",
                                     class_names=("No water", "Water / flood"),
                                     class_colors=((0, 0, 0), (30, 100, 220)), probabilities=probs)


def test_clouds_are_a_hatched_layer_with_their_share():
    classes = np.zeros((40, 50), np.uint8)
    classes[:10] = 255  # a quarter of the rows: cloud or no data
    stack, result = _flood_result(classes)
    p = render_products(TASKS["flood"], result, stack, sensors=["L30"])
    assert isinstance(p, ClassMapProducts)
    assert p.cloud_percent == 25.0
    from geofm.render.products import CLOUD_HATCH, cloud_rgba

    rgba = cloud_rgba(classes == 255)
    assert (rgba[10:, :, 3] == 0).all()  # clear pixels: transparent
    hatch = {tuple(v) for v in rgba[:10].reshape(-1, 4)}
    assert hatch == set(CLOUD_HATCH)  # dark and light grey stripes
    assert p.cloud_overlay.rgba[..., 3].max() > 0


def test_confidence_is_the_probability_of_water_or_of_the_class_shown():
    classes = np.zeros((20, 30), np.uint8)
    classes[:, 15:] = 1
    probs = np.zeros((2, 20, 30), np.float32)
    probs[1] = np.linspace(0.0, 1.0, 30, dtype=np.float32)[None, :]
    probs[0] = 1 - probs[1]
    stack, result = _flood_result(classes, probs)
    from geofm.render.products import confidence_map, confidence_rgba

    flood = confidence_map(TASKS["flood"], result)
    assert flood is not None and np.array_equal(flood, probs[1])
    crops_like = confidence_map(TASKS["crops"], result)
    assert crops_like is not None and np.allclose(crops_like, probs.max(axis=0))
    rgba = confidence_rgba(flood, classes != 255)
    assert tuple(rgba[0, 0, :3]) == (0xff, 0xff, 0xd9) and tuple(rgba[0, -1, :3]) == (0x08, 0x1d, 0x58)
    p = render_products(TASKS["flood"], result, stack, sensors=["L30"])
    assert p.confidence_overlay is not None and p.confidence_label == "Probability of water / flood"


def test_polygons_are_dissolved_to_one_per_class_with_its_area():
    from shapely.geometry import shape

    classes = np.zeros((40, 50), np.uint8)
    classes[2:6, 2:6] = 1  # three separate patches of water: 16 + 9 + 20 pixels
    classes[20:23, 30:33] = 1
    classes[30:34, 10:15] = 1
    stack, result = _flood_result(classes)
    p = render_products(TASKS["flood"], result, stack, sensors=["L30"])
    features = json.loads(p.geojson)["features"]
    assert len(features) == 1
    geometry = shape(features[0]["geometry"])
    assert geometry.geom_type == "MultiPolygon" and len(geometry.geoms) == 3
    assert features[0]["properties"]["area_m2"] == 45 * 900.0 and features[0]["properties"]["patches"] == 3


def test_error_table_names_bands_per_sensor():
    from geofm.render.stats import band_names

    assert band_names(["S30"])[3:] == ("B8A NIR narrow", "B11 SWIR 1", "B12 SWIR 2")
    assert band_names(["L30"])[3:] == ("B05 NIR narrow", "B06 SWIR 1", "B07 SWIR 2")
    assert band_names(["L30", "S30", "L30"])[3] == "B05 / B8A NIR narrow"
    assert band_names(["S30"])[:3] == ("B02 Blue", "B03 Green", "B04 Red")


def _clear_inside(aoi_geometry: dict) -> tuple[HLSStack, SegmentationResult, np.ndarray]:
    """A date 100 % clear over the drawn area, read as the reader reads it: the grid is the area's UTM bounding
    box, and pixels outside the area's outline are not valid (so the model leaves them without a class)."""
    from geofm.data.aoi import AOI
    from geofm.data.grid import Grid

    aoi = AOI.from_geojson(aoi_geometry)
    grid = Grid.for_aoi(aoi)
    area = grid.area_mask(aoi)
    data = hls_like(1, grid.height, grid.width, seed=5)
    valid = np.broadcast_to(area, (1, *area.shape)).copy()
    stack = HLSStack(data, valid, grid.crs, grid.transform, times=[datetime(2022, 4, 7, 17, 15)])
    classes = np.where(area, 0, 255).astype(np.uint8)
    classes[area & (np.arange(grid.width)[None, :] % 3 == 0)] = 1
    result = SegmentationResult(classes=classes, crs=grid.crs, transform=grid.transform, model="m",
                                class_names=("No water", "Water / flood"), class_colors=((0, 0, 0), (30, 100, 220)))
    return stack, result, area


def test_cloud_share_counts_only_inside_the_drawn_area():
    from geofm.serve.share import box_geometry

    box = box_geometry(-95.94, 41.30, -95.91, 41.33)  # the browser test's Omaha box: a tilted quad in UTM
    triangle = {"type": "Polygon", "coordinates": [[[-96.56, 41.40], [-96.48, 41.40], [-96.52, 41.45],
                                                    [-96.56, 41.40]]]}
    for geometry, outside_share in ((box, 0.005), (triangle, 0.4)):
        stack, result, area = _clear_inside(geometry)
        assert (~area).mean() > outside_share  # the grid's corners (or half of it) lie outside the area
        p = render_products(TASKS["flood"], result, stack, sensors=["L30"], area=area)
        assert isinstance(p, ClassMapProducts) and p.target is not None
        assert p.cloud_percent == 0.0  # 100 % clear over the area reads 0 %, not the corners' share
        assert (p.cloud_overlay.rgba[..., 3] == 0).all()  # and no hatching outside the outline
        # consistent with "Clear area": clear + cloud = the area
        from geofm.render.stats import pixel_area_m2
        px = np.broadcast_to(pixel_area_m2(stack.crs, stack.transform, area.shape), area.shape)
        assert p.target.clear_km2 == pytest.approx(float(px[area].sum()) / 1e6)
        # a cloud over a tenth of the area's pixels reads 10 % of the area
        cloudy = area & (np.cumsum(area.ravel()).reshape(area.shape) <= area.sum() // 10)
        result.classes[cloudy] = 255
        q = render_products(TASKS["flood"], result, stack, sensors=["L30"], area=area)
        assert q.cloud_percent == pytest.approx(100 * float(px[cloudy].sum()) / float(px[area].sum()))
        assert q.cloud_percent == pytest.approx(10.0, abs=0.3)
        assert q.target.clear_km2 + q.cloud_percent / 100 * float(px[area].sum()) / 1e6 == \
            pytest.approx(float(px[area].sum()) / 1e6)


def test_result_views_count_clouds_inside_the_requests_area():
    """The app passes the drawn area of the run's request (an uploaded file has none: all of it counts)."""
    from geofm.serve.runs import RunOutcome, RunRequest
    from geofm.serve.share import box_geometry
    from geofm.serve.views import area_mask

    geometry = box_geometry(-95.94, 41.30, -95.91, 41.33)
    stack, result, area = _clear_inside(geometry)
    request = RunRequest.for_area("flood", geometry, "2022-04-01", "2022-04-30", max_cloud=100)
    outcome = RunOutcome(request=request, result=result, stack=stack)
    assert np.array_equal(area_mask(outcome), area)
    upload = RunOutcome(request=RunRequest(task="flood"), result=result, stack=stack)
    assert area_mask(upload) is None
