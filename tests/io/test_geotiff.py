"""GeoTIFF input reading (all the ways a user file can be wrong) and COG output writing."""

from datetime import datetime

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from geofm.config import CROP_CLASSES, FLOOD_CLASSES
from geofm.errors import InputError
from geofm.io.geotiff import read_input_stack, write_class_map_cog, write_reconstruction_cog, write_rgb_cog
from geofm.stack import ReconstructionResult, SegmentationResult
from tests.geotiff_helpers import ORIGIN, UTM14, hls_like, write_tif

HLS_NAME = "HLS.L30.T14TPL.2022095T170000.v2.0.tif"


def test_reads_one_date_with_fill_time_and_georeference(tmp_path):
    data = hls_like(1, 20, 30)
    data[0, 3, 5, 6] = -9999  # one band fill -> the whole pixel is invalid
    stack = read_input_stack([write_tif(tmp_path / HLS_NAME, data[0])])
    assert stack.data.shape == (1, 6, 20, 30) and stack.data.dtype == np.int16
    assert stack.valid.sum() == 20 * 30 - 1 and not stack.valid[0, 5, 6]
    assert (stack.data[0, :, 5, 6] == -9999).all()
    np.testing.assert_array_equal(stack.data[0, :, 0, 0], data[0, :, 0, 0])
    assert stack.crs == CRS.from_string(UTM14) and stack.transform == ORIGIN
    assert stack.times == [datetime(2022, 4, 5, 17, 0, 0)]
    assert stack.scene_ids == ["HLS.L30.T14TPL.2022095T170000.v2.0"]


def test_three_files_equal_one_18_band_time_major_file(tmp_path):
    data = hls_like(3, 16, 12, seed=1)
    paths = [write_tif(tmp_path / f"t{i}.tif", data[i]) for i in range(3)]
    single = write_tif(tmp_path / "chip18.tif", data.reshape(18, 16, 12))
    a, b = read_input_stack(paths), read_input_stack([single])
    assert a.num_frames == b.num_frames == 3
    np.testing.assert_array_equal(a.data, data)
    np.testing.assert_array_equal(b.data, data)
    assert b.scene_ids == ["chip18#1", "chip18#2", "chip18#3"]


def test_wrong_band_count_says_count_and_expectation(tmp_path):
    path = write_tif(tmp_path / "four.tif", hls_like(1, 8, 8)[0, :4])
    with pytest.raises(InputError, match=r"four.tif has 4 band\(s\); expected 6 bands per date"):
        read_input_stack([path])


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_missing_georeference(tmp_path):
    path = write_tif(tmp_path / "plain.tif", hls_like(1, 8, 8)[0], crs=None, transform=None)
    with pytest.raises(InputError, match="no georeference"):
        read_input_stack([path])


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="Cannot read broken.tif as a GeoTIFF"):
        read_input_stack([bad])
    with pytest.raises(InputError, match="does not exist"):
        read_input_stack([tmp_path / "nope.tif"])
    with pytest.raises(InputError, match="No input"):
        read_input_stack([])


@pytest.mark.parametrize("kind", ["crs", "shape", "transform"])
def test_mismatched_inputs(tmp_path, kind):
    data = hls_like(2, 10, 10)
    first = write_tif(tmp_path / "a.tif", data[0])
    if kind == "crs":
        second = write_tif(tmp_path / "b.tif", data[1], crs="EPSG:32615")
    elif kind == "shape":
        second = write_tif(tmp_path / "b.tif", data[1, :, :9])
    else:
        second = write_tif(tmp_path / "b.tif", data[1], transform=ORIGIN @ Affine.translation(3, 0))
    with pytest.raises(InputError, match="must share one grid"):
        read_input_stack([first, second])


def test_reflectance_floats_are_scaled_and_reported(tmp_path):
    data = hls_like(1, 10, 10)[0]
    refl = (data / 10_000.0).astype(np.float32)
    refl[:, 0, 0] = np.nan
    messages = []
    stack = read_input_stack([write_tif(tmp_path / "refl.tif", refl, nodata=None)],
                             progress=lambda stage, msg, frac=None: messages.append((stage, msg)))
    assert np.abs(stack.data[0, :, 1:, 1:].astype(int) - data[:, 1:, 1:]).max() <= 1
    assert not stack.valid[0, 0, 0] and stack.data[0, 0, 0, 0] == -9999
    assert messages and messages[0][0] == "read" and "looks like reflectance" in messages[0][1]


def test_dn_floats_are_not_rescaled(tmp_path):
    data = hls_like(1, 10, 10)[0]
    messages = []
    stack = read_input_stack([write_tif(tmp_path / "dnf.tif", data.astype(np.float32))],
                             progress=lambda *a: messages.append(a))
    np.testing.assert_array_equal(stack.data[0], data)
    assert messages == []


def test_all_nodata_is_an_input_error(tmp_path):
    path = write_tif(tmp_path / "empty.tif", np.full((6, 5, 5), -9999, np.int16))
    with pytest.raises(InputError, match="no valid pixels"):
        read_input_stack([path])


def test_class_map_cog_layout_colours_and_values(tmp_path):
    classes = np.random.default_rng(0).integers(0, 13, (600, 700)).astype(np.uint8)
    classes[:5, :5] = 255
    result = SegmentationResult(classes=classes, crs=CRS.from_string(UTM14), transform=ORIGIN, model="crop",
                                class_names=tuple(c.name for c in CROP_CLASSES),
                                class_colors=tuple(c.color for c in CROP_CLASSES))
    path = write_class_map_cog(result, tmp_path / "out" / "crops.tif")
    with rasterio.open(path) as src:
        assert src.dtypes == ("uint8",) and src.nodata == 255 and src.count == 1
        assert src.crs == result.crs and src.transform == ORIGIN
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.profile["compress"] == "deflate" and src.block_shapes[0] == (512, 512)
        assert src.colormap(1)[3] == (*CROP_CLASSES[3].color, 255)
        assert src.tags()["CLASS_2"] == "Corn"
        np.testing.assert_array_equal(src.read(1), classes)


def test_rgb_and_reconstruction_cogs(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (40, 50, 3)).astype(np.uint8)
    path = write_rgb_cog(rgb, CRS.from_string(UTM14), ORIGIN, tmp_path / "rgb.tif")
    with rasterio.open(path) as src:
        assert src.count == 3 and src.dtypes[0] == "uint8"
        np.testing.assert_array_equal(src.read().transpose(1, 2, 0), rgb)

    rec = np.random.default_rng(2).normal(1500, 500, (2, 6, 40, 50)).astype(np.float32)
    rec[1, :, 0, 0] = -9999
    result = ReconstructionResult(
        original_rgb=np.zeros((2, 40, 50, 3), np.uint8), masked_rgb=np.zeros((2, 40, 50, 3), np.uint8),
        reconstructed_rgb=np.zeros((2, 40, 50, 3), np.uint8), mask=np.zeros((2, 40, 50), bool),
        reconstructed=rec, crs=CRS.from_string(UTM14), transform=ORIGIN, model="mae", mask_ratio=0.75, seed=0)
    path = write_reconstruction_cog(result, tmp_path / "recon.tif")
    with rasterio.open(path) as src:
        assert src.count == 12 and src.dtypes[0] == "int16" and src.nodata == -9999
        assert src.descriptions[0] == "date1 B02" and src.descriptions[11] == "date2 B07"
        out = src.read()
    np.testing.assert_array_equal(out, np.rint(rec.reshape(12, 40, 50)).astype(np.int16))


def test_flood_class_map_palette(tmp_path):
    classes = np.array([[0, 1], [1, 255]], np.uint8)
    result = SegmentationResult(classes=classes, crs=CRS.from_string(UTM14), transform=ORIGIN, model="flood",
                                class_names=("No water", "Water / flood"),
                                class_colors=tuple(c.color for c in FLOOD_CLASSES))
    with rasterio.open(write_class_map_cog(result, tmp_path / "f.tif")) as src:
        assert src.colormap(1)[1] == (*FLOOD_CLASSES[1].color, 255)
        assert src.colormap(1)[255][3] == 0
        np.testing.assert_array_equal(src.read(1), classes)
