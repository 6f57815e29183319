"""Issue 9, point 8: areas measured right (a box across most of the globe, an area below one pixel), through the
API and the CLI. (Point 9, bad operator settings in one line, is in tests/test_settings.py.)"""

from __future__ import annotations

import pytest

from geofm.cli import main
from geofm.data.aoi import AOI
from geofm.errors import AOIError


# ---------------------------------------------------------------- 8: size of an area

def test_a_box_spanning_almost_360_degrees_is_over_the_cap():
    with pytest.raises(AOIError) as info:
        AOI.from_bbox(-179.9, 10, 179.9, 10.3)
    assert str(info.value).startswith("The area is 39448.2 x 33.4 km; the largest allowed is 50 x 50 km.")


def test_a_polygon_across_many_utm_zones_is_over_the_cap():
    poly = {"type": "Polygon", "coordinates": [[[-80, 0], [80, 0], [80, 0.2], [-80, 0.2], [-80, 0]]]}
    with pytest.raises(AOIError, match=r"The area is 17811\.\d x 22\.\d km"):
        AOI.from_geojson(poly)


def test_the_cli_refuses_the_near_global_box(capsys):
    code = main(["run", "flood", "--bbox", "-179.9", "10", "179.9", "10.3", "--start", "2022-01-01", "--end",
                 "2022-02-01", "--out", "/tmp/never-written.tif"])
    err = capsys.readouterr().err
    assert code == 2 and "geofm: error: The area is 39448.2 x 33.4 km; the largest allowed is 50 x 50 km." in err


def test_ordinary_areas_keep_their_utm_size():
    w, h = AOI.from_bbox(-95.93, 41.29, -95.90, 41.31).size_km
    assert w == pytest.approx(2.587, abs=0.001) and h == pytest.approx(2.305, abs=0.001)  # as before


def test_an_area_smaller_than_a_pixel_is_too_small():
    with pytest.raises(AOIError) as info:
        AOI.from_bbox(10.0, 45.0, 10.0001, 45.0001)
    assert str(info.value) == "The area is too small: 8 x 11 m, less than one 30 m pixel across."
    AOI.from_bbox(10.0, 45.0, 10.001, 45.001)  # 79 x 111 m is fine


def test_a_sliver_between_pixel_centres_is_too_small_not_zero_percent_clear():
    from geofm.data.reader import fill_clear_fractions

    sliver = AOI.from_geojson({"type": "Polygon", "coordinates": [[[10.0, 45.0], [10.01, 45.01], [10.00999, 45.01],
                                                                   [10.0, 45.0]]]})
    with pytest.raises(AOIError, match="The area is too small: it holds no whole 30 m pixel."):
        fill_clear_fractions([], sliver)
