"""Every output follows the user's umask (issue 19, point 18): STAC items, the region's mosaic and manifest
were 0600 (tempfile.mkstemp's private mode) while the other outputs were 0644."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from geofm.data.grid import Grid
from geofm.evaluate.provenance import Provenance, write_provenance
from geofm.io.geotiff import write_class_map_cog
from geofm.region.manifest import write_json_atomic
from geofm.region.mosaic import build_mosaic
from geofm.stack import SegmentationResult

CRS_UTM = CRS.from_epsg(32615)
TRANSFORM = Affine(30.0, 0.0, 250_000.0, 0.0, -30.0, 4_580_010.0)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _class_map(path: Path) -> Path:
    classes = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64) % 2
    return write_class_map_cog(SegmentationResult(classes, CRS_UTM, TRANSFORM, "flood", ("land", "water"),
                                                  ((0, 0, 0), (0, 0, 255))), path)


def test_item_json_mosaic_and_manifest_get_the_umask_mode(tmp_path, umask):
    expected = 0o666 & ~umask
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what any file the user creates gets
    assert _mode(plain) == expected

    cog = _class_map(tmp_path / "flood.tif")
    item = write_provenance(cog, Provenance(task="flood", model="test"))
    manifest = tmp_path / "manifest.json"
    write_json_atomic(manifest, {"chunks": []})
    mosaic = build_mosaic([cog], Grid(CRS_UTM, TRANSFORM, 64, 64), tmp_path / "mosaic.tif")
    assert mosaic is not None
    assert {p.name: _mode(p) for p in (cog, item, manifest, mosaic)} == dict.fromkeys(
        ("flood.tif", "flood.item.json", "manifest.json", "mosaic.tif"), expected)
