"""AOI validation: sizes, UTM zone, and each user-facing error."""

from __future__ import annotations

import re

import pytest

from geofm.data import AOI
from geofm.data.grid import Grid
from geofm.errors import AOIError


def test_bbox_size_zone_and_grid() -> None:
    aoi = AOI.from_bbox(-96.05, 41.25, -95.93, 41.34)
    w, h = aoi.size_km
    assert 9.5 < w < 10.5 and 9.5 < h < 10.5  # 0.12 deg lon x 0.09 deg lat at 41 N
    assert aoi.utm_crs().to_epsg() == 32615  # centre -95.99 lies in zone 15
    assert AOI.from_bbox(-96.2, 41.2, -96.1, 41.3).utm_crs().to_epsg() == 32614
    assert AOI.from_bbox(151.1, -33.9, 151.2, -33.8).utm_crs().to_epsg() == 32756  # Sydney, south
    grid = Grid.for_aoi(aoi)
    assert grid.resolution == 30.0 and grid.transform.c % 30 == 0 and grid.transform.f % 30 == 0
    assert abs(grid.width * 30 - w * 1000) < 61 and abs(grid.height * 30 - h * 1000) < 61
    assert 0.9 * w * h < aoi.area_km2 < w * h  # the lon/lat box is slightly turned in UTM near a zone edge


def test_polygon_and_feature_inputs() -> None:
    ring = [[-96.0, 41.2], [-95.9, 41.2], [-95.95, 41.3], [-96.0, 41.2]]
    poly = {"type": "Polygon", "coordinates": [ring]}
    a = AOI.from_geojson(poly)
    b = AOI.from_geojson({"type": "Feature", "properties": {}, "geometry": poly})
    c = AOI.from_geojson({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": poly}]})
    assert a.bounds == b.bounds == c.bounds == (-96.0, 41.2, -95.9, 41.3)
    grid = Grid.for_aoi(a)
    inside = grid.area_mask(a)
    assert 0.4 < inside.mean() < 0.6  # a triangle fills about half of its box


def test_area_over_the_cap_says_size_and_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AOIError) as e:
        AOI.from_bbox(-97.0, 41.0, -96.0, 41.5)
    msg = e.value.user_message()
    m = re.search(r"The area is (\d+\.\d) x (\d+\.\d) km", msg)
    assert m and 83 < float(m.group(1)) < 87 and 55 < float(m.group(2)) < 59, msg
    assert "largest allowed is 50 x 50 km" in msg
    assert "GEOFM_MAX_AOI_KM" in msg
    monkeypatch.setenv("GEOFM_MAX_AOI_KM", "100")
    assert AOI.from_bbox(-97.0, 41.0, -96.0, 41.5).size_km[0] > 80
    monkeypatch.setenv("GEOFM_MAX_AOI_KM", "5")
    with pytest.raises(AOIError, match="largest allowed is 5 x 5 km"):
        AOI.from_bbox(-96.06, 41.25, -95.94, 41.34)


@pytest.mark.parametrize("bbox, needle", [
    ((-200, 41, -96, 42), "Longitude -200 is out of range"),
    ((-96, 41, -95, 95), "Latitude 95 is out of range"),
    ((-96, 85.0, -95, 85.1), "outside the HLS/UTM grid"),
    ((179.5, 10, -179.5, 10.5), "cross the antimeridian"),
    ((-96, 41.3, -95.9, 41.2), "South (41.3) is north of North (41.2)"),
    ((-96, 41.2, -96, 41.3), "is empty"),
    (("a", 41.2, -96, 41.3), "must be four numbers"),
])
def test_bbox_errors(bbox: tuple, needle: str) -> None:
    with pytest.raises(AOIError) as e:
        AOI.from_bbox(*bbox)
    assert needle in str(e.value)


def test_polygon_errors() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[-96, 41], [-95.9, 41.1], [-95.9, 41], [-96, 41.1], [-96, 41]]]}
    with pytest.raises(AOIError, match="not valid .*Self-intersection.*must not cross"):
        AOI.from_geojson(bowtie)
    with pytest.raises(AOIError, match="empty"):
        AOI.from_geojson({"type": "Polygon", "coordinates": []})
    flat = {"type": "Polygon", "coordinates": [[[-96, 41], [-95.9, 41], [-95.8, 41], [-96, 41]]]}
    with pytest.raises(AOIError, match="encloses no area|not valid"):
        AOI.from_geojson(flat)
    across = {"type": "Polygon", "coordinates": [[[179.9, 10], [-179.9, 10], [-179.9, 10.1], [179.9, 10.1],
                                                  [179.9, 10]]]}
    with pytest.raises(AOIError, match="crosses the antimeridian"):
        AOI.from_geojson(across)
    with pytest.raises(AOIError, match="Polygon or MultiPolygon, not 'Point'"):
        AOI.from_geojson({"type": "Point", "coordinates": [-96, 41]})
    with pytest.raises(AOIError, match="Latitude -91 is out of range"):
        AOI.from_geojson({"type": "Polygon", "coordinates": [[[-96, -91], [-95, -90], [-95, -89], [-96, -91]]]})
    with pytest.raises(AOIError, match="exactly one area"):
        AOI.from_geojson({"type": "FeatureCollection", "features": []})


def test_a_geojson_file_nested_thousands_deep_is_one_line_not_a_recursion_error(tmp_path, capsys):
    """About 6 KB of brackets raised RecursionError inside json.loads (a traceback from ``geofm search``); the
    nesting is measured before parsing (issue 18)."""
    from geofm.cli import main
    from geofm.data.aoi import read_geojson_file

    deep = tmp_path / "deep.geojson"
    deep.write_text('{"type": "Polygon", "coordinates": ' + "[" * 3000 + "]" * 3000 + "}")
    with pytest.raises(AOIError, match=r"deep.geojson: The area's GeoJSON is nested more than 16 levels deep"):
        read_geojson_file(deep)
    code = main(["search", "--geojson", str(deep), "--start", "2022-03-01", "--end", "2022-04-30",
                 "--stac-url", "http://127.0.0.1:9/"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nested more than 16 levels deep" in err, err
    missing = tmp_path / "nope.geojson"
    with pytest.raises(AOIError, match=r"Cannot read the GeoJSON file .*nope.geojson: No such file"):
        read_geojson_file(missing)
