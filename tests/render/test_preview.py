"""Display helpers: the shared true-colour stretch, class colouring, PNG output."""

import numpy as np
from PIL import Image

from geofm.render.preview import colorize_classes, save_png, stretch_max, stretch_rgb, to_rgb


def test_stretch_floor_is_3000_and_uses_b04_b03_b02():
    data = np.zeros((6, 2, 2), np.int16)
    data[2] = 1500  # B04 -> red
    data[1] = 3000  # B03 -> green
    data[0] = 6000  # B02 -> blue, above the floor: p99.9 of all valid RGB values decides
    valid = np.ones((2, 2), bool)
    vmax = stretch_max(data, valid)
    assert vmax == 6000.0
    rgb = stretch_rgb(data, valid)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (63, 127, 255)  # 1500/6000*255 = 63.75 truncated


def test_stretch_ignores_invalid_pixels_and_blacks_them_out():
    data = np.full((6, 3, 3), 1000, np.int16)
    data[:, 0, 0] = 30000  # a saturated pixel that is marked invalid
    valid = np.ones((3, 3), bool)
    valid[0, 0] = False
    assert stretch_max(data, valid) == 3000.0
    rgb = to_rgb(data, valid, 3000.0)
    assert tuple(rgb[0, 0]) == (0, 0, 0) and tuple(rgb[1, 1]) == (85, 85, 85)


def test_colorize_classes_nodata_transparent(tmp_path):
    classes = np.array([[0, 1], [255, 7]], np.uint8)
    rgba = colorize_classes(classes, [(10, 20, 30), (40, 50, 60)])
    assert tuple(rgba[0, 0]) == (10, 20, 30, 255) and tuple(rgba[0, 1]) == (40, 50, 60, 255)
    assert rgba[1, 0, 3] == 0 and rgba[1, 1, 3] == 0  # nodata and unknown ids
    path = save_png(rgba, tmp_path / "sub" / "c.png")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), rgba)
