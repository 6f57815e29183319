"""Rendered products are plain data made without Streamlit (the app's pages only arrange them)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import numpy as np
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
