"""STAC Items of geofm's outputs (geofm.io.stac, through pystac): ``geofm run``'s NAME.item.json and a region run's
item.json are valid STAC, checked with pystac's validator against the core schemas pystac ships (offline)."""

import json
from datetime import date

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine
from pystac.extensions.projection import ProjectionExtension
from pystac.validation.stac_validator import JsonSchemaSTACValidator
from rasterio.crs import CRS

from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.evaluate.provenance import Provenance, write_provenance
from geofm.io.geotiff import write_class_map_cog
from geofm.region.item import region_item
from geofm.stack import SegmentationResult

UTM15 = CRS.from_epsg(32615)
GRID = Affine(30.0, 0.0, 240000.0, 0.0, -30.0, 4609920.0)


def validate(doc: dict) -> pystac.Item:
    """pystac's JSON-schema validation of the core Item (its bundled schemas: no network), then pystac's reader."""
    schema = JsonSchemaSTACValidator().validate_core(doc, pystac.STACObjectType.ITEM, doc["stac_version"])
    assert schema == f"https://schemas.stacspec.org/v{doc['stac_version']}/item-spec/json-schema/item.json"
    return pystac.Item.from_dict(doc)


def test_the_validator_refuses_an_invalid_item():
    """The check below can fail: an Item without a datetime (nor a range) is refused."""
    doc = {"type": "Feature", "stac_version": "1.1.0", "id": "x", "geometry": None, "properties": {},
           "links": [], "assets": {}}
    with pytest.raises(pystac.STACValidationError):
        validate(doc)


def test_run_item_is_valid_stac_with_the_result_grid(tmp_path):
    classes = np.zeros((40, 50), np.uint8)
    classes[10:20, 10:30] = 1
    seg = SegmentationResult(classes, UTM15, GRID, "prithvi-eo-1.0-100m-sen1floods11",
                             class_names=("No water", "Water"), class_colors=((0, 0, 0), (0, 0, 255)))
    out = write_class_map_cog(seg, tmp_path / "flood.tif")
    prov = Provenance(task="flood", model=seg.model, checkpoint_sha256="ab" * 32, geofm_version="0.1.0",
                      scene_ids=["HLS.S30.T15TUG.2022240T170851.v2.0"], dates=["2022-08-28T17:08:51"],
                      parameters={"max_cloud": 30})
    doc = json.loads(write_provenance(out, prov).read_text())
    item = validate(doc)
    proj = ProjectionExtension.ext(item)
    with rasterio.open(out) as src:
        assert proj.code == f"EPSG:{src.crs.to_epsg()}" and proj.shape == [src.height, src.width]
        assert proj.transform == list(src.transform)[:6]
    assert item.datetime is not None and item.datetime.isoformat() == "2022-08-28T17:08:51+00:00"
    assert item.assets["data"].href == "./flood.tif" and item.assets["data"].media_type == pystac.MediaType.COG
    assert item.properties["geofm:scene_ids"] == prov.scene_ids
    w, s, e, n = item.bbox
    assert -96.2 < w < e < -96.0 and 41.5 < s < n < 41.7


def test_region_item_is_valid_stac_with_the_mosaic_grid(tmp_path):
    aoi = AOI.from_bbox(-96.6, 41.4, -96.5, 41.5)
    grid = Grid.for_aoi(aoi, 30.0)
    doc = region_item("geofm-flood-1", aoi, "flood", "prithvi-eo-1.0-100m-sen1floods11", date(2022, 4, 1),
                      date(2022, 4, 30), mosaic=tmp_path / "mosaic.tif", mosaic_grid=grid,
                      tiles=[tmp_path / "tiles" / "c0.tif"], folder=tmp_path, properties={"geofm:chunks": 1})
    item = validate(json.loads(json.dumps(doc)))
    assert item.datetime is None
    assert item.properties["start_datetime"] == "2022-04-01T00:00:00Z"
    assert item.properties["end_datetime"] == "2022-04-30T23:59:59Z"
    mosaic = ProjectionExtension.ext(item.assets["mosaic"])
    assert mosaic.code == f"EPSG:{grid.crs.to_epsg()}" and mosaic.shape == [grid.height, grid.width]
    assert mosaic.transform == list(grid.transform)[:6]
    assert item.assets["tile-c0"].href == "./tiles/c0.tif" and item.assets["manifest"].roles == ["metadata"]
    assert item.bbox == [-96.6, 41.4, -96.5, 41.5]
