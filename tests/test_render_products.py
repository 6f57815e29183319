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
