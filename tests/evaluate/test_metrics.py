"""Known answers for geofm.evaluate: agreement scores computed by hand, the CDL-to-13-class mapping on every
code the training table lists, categorical resampling of a 10 m layer to the 30 m grid, the neighbour-fill
baseline of reconstruction, out-of-depth notes and provenance."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from geofm.config import CDL_TO_CROP_ID, CLASS_NODATA, CROP_CLASSES, TASKS
from geofm.data.grid import Grid
from geofm.evaluate import metrics, recon
from geofm.evaluate.evaluation import evaluate_crops, evaluate_flood
from geofm.evaluate.notes import out_of_depth
from geofm.evaluate.reference import ReferenceRead, cdl_lookup, crop_classes, read_reference_file
from geofm.evaluate.resample import mode_downsample
from geofm.stack import SegmentationResult

UTM14 = CRS.from_epsg(32614)
PX_KM2 = 30 * 30 / 1e6

#: easierdata/multi-temporal-crop-classification-training-data, data/required/preprocessed_data/cdl_total_dst.csv
#: (commit 46bf92db): old_class_value -> new_class_value, every row, typed in here independently of geofm.config.
TRAINING_TABLE = {
    1: 3, 2: 11, 3: 13, 4: 12, 5: 4, 6: 13, 10: 13, 11: 13, 12: 13, 13: 13, 14: 13, 21: 13, 22: 13, 23: 13, 24: 8,
    25: 13, 26: 13, 27: 13, 28: 13, 29: 13, 30: 13, 31: 13, 32: 13, 33: 13, 34: 13, 35: 13, 36: 9, 37: 1, 38: 13,
    39: 13, 41: 13, 42: 13, 43: 13, 44: 13, 45: 13, 46: 13, 47: 13, 48: 13, 49: 13, 50: 13, 51: 13, 52: 13, 53: 13,
    54: 13, 55: 13, 56: 13, 57: 13, 58: 13, 59: 13, 60: 13, 61: 10, 62: 13, 63: 13, 64: 13, 65: 13, 66: 13, 67: 13,
    68: 13, 69: 13, 70: 13, 71: 13, 72: 13, 74: 13, 75: 13, 76: 13, 77: 13, 81: 13, 82: 13, 83: 13, 87: 13, 88: 13,
    92: 13, 111: 7, 112: 13, 121: 6, 122: 6, 123: 6, 124: 6, 131: 6, 141: 2, 142: 2, 143: 2, 152: 1, 176: 1,
    190: 5, 195: 5, 204: 13, 205: 13, 206: 13, 207: 13, 208: 13, 209: 13, 210: 13, 211: 13, 212: 13, 213: 13,
    214: 13, 215: 13, 216: 13, 217: 13, 218: 13, 219: 13, 220: 13, 221: 13, 222: 13, 223: 13, 224: 13, 225: 13,
    226: 13, 227: 13, 228: 13, 229: 13, 230: 13, 231: 13, 232: 13, 233: 13, 234: 13, 235: 13, 236: 13, 237: 13,
    238: 13, 239: 13, 240: 13, 241: 13, 242: 13, 243: 13, 244: 13, 245: 13, 246: 13, 247: 13, 248: 13, 249: 13,
    250: 13, 254: 13,
}

MODEL = np.array([[1, 1, 0, 0],
                  [1, 1, 0, 0],
                  [0, 0, 0, 0],
                  [0, 0, 1, 1]], bool)
REF = np.array([[1, 0, 0, 0],
                [1, 1, 1, 0],
                [0, 0, 0, 0],
                [0, 0, 0, 1]], bool)
VALID = np.ones((4, 4), bool)
VALID[3, 3] = False  # a cloud: both say water there, but it is not compared


def test_binary_agreement_by_hand():
    layer, sc = metrics.binary_agreement(MODEL, REF, VALID, PX_KM2)
    # both: (0,0) (1,0) (1,1); model only: (0,1) (3,2); reference only: (1,2); (3,3) left out; neither: 9
    assert (sc.both, sc.model_only, sc.reference_only, sc.neither) == (3, 2, 1, 9)
    assert sc.iou == pytest.approx(3 / 6)
    assert sc.precision == pytest.approx(3 / 5)
    assert sc.recall == pytest.approx(3 / 4)
    assert sc.f1 == pytest.approx(6 / 9)
    assert sc.model_km2 == pytest.approx(5 * 0.0009)
    assert sc.reference_km2 == pytest.approx(4 * 0.0009)
    assert layer.tolist() == [[3, 1, 0, 0], [3, 3, 2, 0], [0, 0, 0, 0], [0, 0, 1, CLASS_NODATA]]


def test_new_water_and_water_change_by_hand():
    layer, km2 = metrics.new_water(MODEL, REF, VALID, PX_KM2)
    assert np.argwhere(layer == 1).tolist() == [[0, 1], [3, 2]]
    assert km2 == pytest.approx(2 * 0.0009)
    change, gained, lost = metrics.water_change(REF, MODEL, VALID, PX_KM2)  # before = REF, after = MODEL
    assert np.argwhere(change == 1).tolist() == [[0, 1], [3, 2]]
    assert np.argwhere(change == 2).tolist() == [[1, 2]]
    assert (gained, lost) == (pytest.approx(0.0018), pytest.approx(0.0009))
    assert change[3, 3] == CLASS_NODATA


def test_confusion_matrix_by_hand():
    model = np.array([[0, 0, 1, 1, 2, 2]])
    ref = np.array([[0, 1, 1, 1, 2, 0]])
    layer, sc = metrics.confusion(model, ref, np.ones_like(model, bool), 3, PX_KM2)
    assert sc.matrix.tolist() == [[1, 0, 1], [1, 2, 0], [0, 0, 1]]  # rows reference, columns model
    assert sc.overall_accuracy == pytest.approx(4 / 6)
    assert sc.precision.tolist() == pytest.approx([1 / 2, 1.0, 1 / 2])
    assert sc.recall.tolist() == pytest.approx([1 / 2, 2 / 3, 1.0])
    assert sc.f1.tolist() == pytest.approx([0.5, 0.8, 2 / 3])
    assert sc.model_km2.tolist() == pytest.approx([2 * 0.0009] * 3)
    assert layer.tolist() == [[0, 1, 0, 0, 0, 1]]


def _seg(classes: np.ndarray, names, colors) -> SegmentationResult:
    return SegmentationResult(classes=classes.astype(np.uint8), crs=UTM14,
                              transform=Affine(30, 0, 600000, 0, -30, 4600000), model="m",
                              class_names=tuple(names), class_colors=tuple(colors))


def test_evaluate_flood_on_a_synthetic_scene():
    classes = np.where(VALID, MODEL.astype(np.uint8), CLASS_NODATA)
    seg = _seg(classes, ["No water", "Water"], [(0, 0, 0), (0, 0, 255)])
    # a JRC seasonality reference: 12 = water all year (normal water), 3 = seasonal, 255 = no data
    values = np.where(REF, 12, 3).astype(np.uint8)
    values[2, 0] = 255
    ref = ReferenceRead("jrc-gsw", "JRC", values, 255, 2020, ["tile"], "jrc-gsw")
    ev = evaluate_flood(seg, ref)
    # (2,0) is now out too: neither there, so only 'neither' drops to 8
    assert ev.metrics["iou"] == pytest.approx(0.5) and ev.metrics["f1"] == pytest.approx(6 / 9)
    assert ev.metrics["new_water_km2"] == pytest.approx(0.0018)
    assert ev.metrics["compared_pixels"] == 14
    assert [lay.key for lay in ev.layers] == ["agreement", "new-water", "reference"]
    assert ev.layers[0].data[2, 0] == CLASS_NODATA


def test_cdl_mapping_every_listed_code():
    assert CDL_TO_CROP_ID == TRAINING_TABLE
    lut = cdl_lookup()
    for code, cid in TRAINING_TABLE.items():
        want = CLASS_NODATA if code == 81 else cid - 1  # 81 = Clouds/No Data: left out of comparisons
        assert lut[code] == want, code
    for code in set(range(256)) - set(TRAINING_TABLE):
        assert lut[code] == CLASS_NODATA, code
    # spot checks by name: Corn -> "Corn", Soybeans -> "Soybeans", Open Water -> "Open Water", Grassland -> nat. veg.
    names = [c.name for c in CROP_CLASSES]
    assert names[lut[1]] == "Corn" and names[lut[5]] == "Soybeans" and names[lut[111]] == "Open Water"
    assert names[lut[176]] == "Natural Vegetation" and names[lut[24]] == "Winter Wheat" and names[lut[225]] == "Other"


def test_evaluate_crops_with_cdl_codes():
    cdl = np.array([[1, 5, 111, 0], [176, 141, 81, 61]], np.uint8)  # corn soy water bg / grass forest clouds fallow
    ref = ReferenceRead("usda-cdl", "CDL", cdl, 0, 2021, [], "usda-cdl")
    assert crop_classes(ref, 13).tolist() == [[2, 3, 6, 255], [0, 1, 255, 9]]
    model = np.array([[2, 2, 6, 2], [0, 0, 0, 9]], np.uint8)
    seg = _seg(model, [c.name for c in CROP_CLASSES], [c.color for c in CROP_CLASSES])
    ev = evaluate_crops(seg, ref)
    assert ev.metrics["compared_pixels"] == 6
    assert ev.metrics["overall_accuracy"] == pytest.approx(4 / 6)  # soybeans->corn and forest->nat. veg. wrong
    assert ev.confusion is not None and ev.confusion[3, 2] == 1 and ev.confusion[1, 0] == 1
    rows = {r["class"]: r for r in ev.table}
    assert rows["Corn"]["precision"] == pytest.approx(0.5) and rows["Corn"]["recall"] == pytest.approx(1.0)
    assert rows["Open Water"]["f1"] == pytest.approx(1.0)
    assert rows["Corn"]["model_km2"] == pytest.approx(2 * 0.0009)
    assert ev.layers[0].data.tolist() == [[0, 1, 0, 255], [0, 1, 255, 0]]


def test_mode_downsample_by_hand():
    a = np.array([[1, 1, 2, 0, 0, 0],
                  [1, 2, 2, 0, 0, 0],
                  [3, 3, 3, 0, 0, 5],
                  [0, 0, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0, 0]], np.uint8)
    # block 1: 1, 2 and 3 three times each -> the smallest; block 2: only 5 has data; block 3, 4: no data
    assert mode_downsample(a, 3, 0).tolist() == [[1, 5], [0, 0]]


def test_ten_metre_layer_resampled_to_the_thirty_metre_grid(tmp_path):
    """A 10 m class raster read onto a 30 m grid takes each 3x3 block's most frequent class, not the centre
    pixel that nearest neighbour would take."""
    rng = np.random.default_rng(0)
    fine = rng.choice(np.array([10, 40, 80], np.uint8), size=(60, 90), p=[0.3, 0.3, 0.4])
    fine[:3, :3] = [[80, 80, 40], [80, 10, 40], [40, 40, 40]]  # centre 10, mode 40 (5 of 9)
    fine[3:6, 3:6] = 0  # an all no-data block
    left, top = 600000.0, 4600020.0
    path = tmp_path / "wc.tif"
    with rasterio.open(path, "w", driver="GTiff", width=90, height=60, count=1, dtype="uint8", crs=UTM14,
                       transform=Affine(10, 0, left, 0, -10, top), nodata=0) as dst:
        dst.write(fine, 1)
    grid = Grid(UTM14, Affine(30, 0, left, 0, -30, top), 30, 20)
    ref = read_reference_file(path, grid)
    assert ref.values.shape == (20, 30)
    assert ref.values[0, 0] == 40 and ref.values[1, 1] == ref.nodata == CLASS_NODATA  # no data: geofm's code
    for r in range(20):
        for c in range(30):
            block = fine[3 * r:3 * r + 3, 3 * c:3 * c + 3].ravel()
            block = block[block != 0]
            if block.size == 0:
                assert ref.values[r, c] == CLASS_NODATA
                continue
            vals, counts = np.unique(block, return_counts=True)
            assert ref.values[r, c] == vals[counts == counts.max()].min(), (r, c)


def test_neighbour_baseline_and_scores_by_hand():
    # one date, one band, 4x4 px, 2-px patches: patch (0,0) hidden; visible patches hold 10, 20 and 30
    img = np.array([[17, 17, 10, 10],
                    [17, 17, 10, 10],
                    [20, 20, 30, 30],
                    [20, 20, 30, 30]], np.int16)[None, None]
    hidden = np.zeros((1, 4, 4), bool)
    hidden[0, :2, :2] = True
    valid = np.ones((1, 4, 4), bool)
    base = recon.neighbour_baseline(img, hidden, valid, 2)
    assert base[0, 0].tolist() == [[15, 15, 10, 10], [15, 15, 10, 10], [20, 20, 30, 30], [20, 20, 30, 30]]
    sc = recon.scores(img, base, hidden, valid)
    assert sc.rmse_per_band == (pytest.approx(2.0),) and sc.pixels == 4
    assert sc.psnr_db == pytest.approx(10 * np.log10(1e8 / 4))
    heat = recon.patch_error_map(img, base, hidden, valid, 2)
    assert heat[0, 0] == pytest.approx(2.0) and np.isnan(heat[3, 3])
    # a hidden run two patches deep is filled ring by ring from its one visible neighbour
    col = np.array([[5, 5], [5, 5], [0, 0], [0, 0], [0, 0], [0, 0]], np.int16)[None, None]
    hid = np.zeros((1, 6, 2), bool)
    hid[0, 2:] = True
    assert recon.neighbour_baseline(col, hid, np.ones((1, 6, 2), bool), 2)[0, 0].tolist() == [[5, 5]] * 6


def test_out_of_depth_notes():
    crops = TASKS["crops"]
    notes = out_of_depth(crops, bounds_lonlat=(67.6, 26.3, 67.8, 26.5), times=[datetime(2022, 10, 20)] * 3,
                         invalid_share=0.4, shape=(100, 120))
    text = " ".join(notes)
    assert "contiguous United States" in text and "March to September" in text
    assert "40 %" in text and "smaller than one 224" in text
    assert out_of_depth(crops, bounds_lonlat=(-96.6, 41.2, -96.4, 41.4), times=[datetime(2022, 6, 1)] * 3,
                        invalid_share=0.0, shape=(300, 300)) == []
    flood = out_of_depth(TASKS["flood"], bounds_lonlat=(67.6, 26.3, 67.8, 26.5), times=[datetime(2022, 9, 1)],
                         invalid_share=0.0, shape=(300, 300))
    assert len(flood) == 1 and "top-of-atmosphere" in flood[0]


def test_provenance_tags_and_stac_item(tmp_path):
    from geofm.evaluate.provenance import Provenance, item_path, read_provenance, write_provenance
    from geofm.io.geotiff import write_class_map_cog

    seg = _seg(MODEL.astype(np.uint8), ["No water", "Water"], [(0, 0, 0), (0, 0, 255)])
    out = write_class_map_cog(seg, tmp_path / "flood.tif")
    prov = Provenance(task="flood", model="prithvi-eo-1.0-100m-sen1floods11", checkpoint_sha256="ab" * 32,
                      geofm_version="0.1.0", scene_ids=["HLS.L30.T42RUQ.2022240T055300.v2.0"],
                      dates=["2022-08-28T05:53:00+00:00"], parameters={"max_cloud": 30},
                      reference="JRC Global Surface Water (seasonality) 2020")
    item = write_provenance(out, prov)
    assert item == item_path(out) and item.name == "flood.item.json"
    back = read_provenance(out)
    assert back == prov
    with rasterio.open(out) as src:
        assert src.read(1).tolist() == MODEL.astype(np.uint8).tolist()  # pixels and colour table kept
        assert src.colormap(1)[1][:3] == (0, 0, 255)
    doc = json.loads(item.read_text())
    assert doc["properties"]["geofm:scene_ids"] == prov.scene_ids
    assert doc["properties"]["geofm:checkpoint_sha256"] == "ab" * 32
    assert doc["assets"]["data"]["href"] == "./flood.tif"
    w, s, e, n = doc["bbox"]
    assert -100 < w < e < -90 and 40 < s < n < 43


def test_app_downloads_carry_provenance():
    from rasterio.io import MemoryFile

    from geofm.render.products import render_products
    from geofm.stack import HLSStack

    data = np.full((1, 6, 4, 4), 1200, np.int16)
    stack = HLSStack(data=data, valid=np.ones((1, 4, 4), bool), crs=UTM14,
                     transform=Affine(30, 0, 600000, 0, -30, 4600000), times=[datetime(2022, 8, 28, 5, 53)],
                     scene_ids=["HLS.L30.T42RUQ.2022240T055300.v2.0"])
    seg = _seg(MODEL.astype(np.uint8), ["No water", "Water"], [(0, 0, 0), (0, 0, 255)])
    seg.model = "prithvi-eo-1.0-100m-sen1floods11"
    products = render_products(TASKS["flood"], seg, stack)
    with MemoryFile(products.cog) as mem, mem.open() as src:
        tags = src.tags()
        assert src.read(1).tolist() == MODEL.astype(np.uint8).tolist()
    assert tags["GEOFM_TASK"] == "flood" and tags["GEOFM_MODEL"] == "prithvi-eo-1.0-100m-sen1floods11"
    assert json.loads(tags["GEOFM_SCENE_IDS"]) == stack.scene_ids
    assert json.loads(tags["GEOFM_DATES"]) == ["2022-08-28T05:53:00"]
