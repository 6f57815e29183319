"""Placing rasters on the web map: EPSG:3857 warp, lat/lon bounds, PNG, local Leaflet assets."""

import io
import re

import numpy as np
import pytest
from PIL import Image
from pyproj import Transformer

from geofm.render import maps
from geofm.render.webmerc import (mercator_to_latlon_bounds, png_bytes, reproject_rgba_to_mercator,
                                  rgb_to_rgba)
from tests.geotiff_helpers import TRANSFORM, UTM15



def _utm_to_lonlat(x, y):
    return Transformer.from_crs(UTM15, 4326, always_xy=True).transform(x, y)


def test_marked_pixel_lands_at_its_true_lon_lat():
    rgba = np.zeros((80, 100, 4), np.uint8)
    rgba[..., 3] = 255
    row, col = 23, 71
    rgba[row, col] = (255, 0, 0, 255)
    overlay = reproject_rgba_to_mercator(rgba, UTM15, TRANSFORM)
    (south, west), (north, east) = overlay.latlon_bounds
    red = np.argwhere((overlay.rgba[..., 0] == 255) & (overlay.rgba[..., 3] == 255))
    assert len(red) >= 1
    r, c = red.mean(axis=0)
    h, w = overlay.rgba.shape[:2]
    minx, miny, maxx, maxy = overlay.bounds_3857
    mx = minx + (c + 0.5) * (maxx - minx) / w
    my = maxy - (r + 0.5) * (maxy - miny) / h
    lon, lat = Transformer.from_crs(3857, 4326, always_xy=True).transform(mx, my)
    x, y = TRANSFORM @ (col + 0.5, row + 0.5)
    true_lon, true_lat = _utm_to_lonlat(x, y)
    # within one 30 m pixel (about 0.0004 degrees)
    assert abs(lon - true_lon) < 4e-4 and abs(lat - true_lat) < 3e-4
    assert south < true_lat < north and west < true_lon < east


def test_overlay_bounds_cover_the_utm_footprint_and_outside_is_transparent():
    rgba = rgb_to_rgba(np.full((80, 100, 3), 200, np.uint8))
    overlay = reproject_rgba_to_mercator(rgba, UTM15, TRANSFORM)
    (south, west), (north, east) = overlay.latlon_bounds
    corners = [TRANSFORM @ (0, 0), TRANSFORM @ (100, 0), TRANSFORM @ (100, 80), TRANSFORM @ (0, 80)]
    lons, lats = zip(*[_utm_to_lonlat(x, y) for x, y in corners])
    tol = 1e-6
    assert west <= min(lons) + tol and east >= max(lons) - tol
    assert south <= min(lats) + tol and north >= max(lats) - tol
    # the bounding box is tight: at most one output pixel larger on each side
    assert west > min(lons) - 5e-4 and north < max(lats) + 5e-4
    # UTM grid is rotated against mercator: the corners of the output are outside the footprint
    assert overlay.rgba[0, 0, 3] == 0 or overlay.rgba[-1, -1, 3] == 0
    assert overlay.rgba[overlay.rgba.shape[0] // 2, overlay.rgba.shape[1] // 2, 3] == 255


def test_mercator_bounds_to_lat_lon():
    (s, w), (n, e) = mercator_to_latlon_bounds((0.0, 0.0, 20037508.342789244, 20037508.342789244 / 2))
    assert (s, w) == pytest.approx((0.0, 0.0))
    assert e == pytest.approx(180.0)
    assert 66.0 < n < 67.0  # half the mercator height is 66.51 N


def test_png_bytes_round_trip():
    image = np.random.default_rng(0).integers(0, 255, (5, 7, 4), dtype=np.uint8)
    back = np.asarray(Image.open(io.BytesIO(png_bytes(image))))
    assert np.array_equal(back, image)


def test_local_assets_replace_every_cdn_link():
    fmap = maps.new_map(bounds=[[41.2, -96.0], [41.3, -95.9]])
    maps.add_draw_tools(fmap)
    maps.add_layer_control(fmap)
    maps.use_local_assets(fmap, maps.vendor_base("/"))
    html = fmap.get_root().render()
    links = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert links and all(u.startswith("/app/static/vendor/") for u in links), links
    assert "/app/static/vendor/leaflet.fullscreen-3.0.0/Control.FullScreen.js" in links
    assert "/app/static/vendor/leaflet-draw-1.0.4/leaflet.draw.js" in links
    assert maps.vendor_base("prefix") == "/prefix/app/static/vendor"


def test_vendored_files_exist():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "static" / "vendor"
    for rel in ("leaflet-1.9.3/leaflet.js", "leaflet-1.9.3/leaflet.css", "leaflet-draw-1.0.4/leaflet.draw.js",
                "leaflet-draw-1.0.4/leaflet.draw.css", "leaflet-draw-1.0.4/images/spritesheet.svg",
                "leaflet.fullscreen-3.0.0/Control.FullScreen.js", "leaflet.fullscreen-3.0.0/Control.FullScreen.css",
                "leaflet.fullscreen-3.0.0/icon-fullscreen.svg"):
        assert (root / rel).stat().st_size > 500, rel


def _rendered(fmap) -> str:
    maps.use_local_assets(fmap)
    return fmap.get_root().render()


def test_maps_are_leafmap_maps_with_basemaps_controls_and_no_cdn():
    import leafmap.foliumap

    fmap = maps.new_map(bounds=[[41.2, -96.0], [41.3, -95.9]], basemap="osm")
    assert isinstance(fmap, leafmap.foliumap.Map)
    maps.add_draw_tools(fmap)
    maps.add_layer_control(fmap)
    maps.add_legend(fmap, [("Water", "#1e64dc")], title="Water / flood",
                    colorbars=[maps.ColorBar(("#ffffff", "#000080"), 0, 1, "Probability of water")])
    html = _rendered(fmap)
    # the basemaps are the layer control's base layers (radio buttons), streets, satellite, topographic in order
    base_layers = re.search(r"base_layers : \{(.*?)\}", html, re.S).group(1)
    assert re.findall(r'"([^"]+)" : tile_layer_', base_layers) == [name for _, name, _ in maps.BASEMAPS]
    overlays = re.search(r"overlays :  ?\{(.*?)\}", html, re.S).group(1)
    assert "tile_layer_" not in overlays
    # each service's tiles up to its own deepest zoom (OpenTopoMap's is 17), scaled up beyond it
    assert html.count('"maxNativeZoom": 19') == 2 and html.count('"maxNativeZoom": 17') == 1
    assert html.count('"maxZoom": 19') >= 3
    assert "L.control.fullscreen" in html and "geofm-mouse-coordinates" in html and "L.control.scale" in html
    assert "geofm-map-legend" in html and "linear-gradient(to right, #ffffff, #000080)" in html
    assert f"map.getSize().x >= {maps.LEGEND_COLLAPSE_BELOW_PX}" in html  # the fold rule travels with the map
    scripts = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert scripts and all(u.startswith("/app/static/vendor/") for u in scripts), scripts
    offline = _rendered(maps.new_map(bounds=[[41.2, -96.0], [41.3, -95.9]], basemap="none"))
    assert "tile.openstreetmap.org" not in offline and "arcgisonline" not in offline


def test_opacity_slider_and_swipe_act_on_the_result_layers_in_the_browser():
    fmap = maps.new_map(bounds=[[41.2, -96.0], [41.3, -95.9]], basemap="none")
    rgba = rgb_to_rgba(np.full((8, 10, 3), 90, np.uint8))
    overlay = reproject_rgba_to_mercator(rgba, UTM15, TRANSFORM)
    base = maps.add_overlay(fmap, overlay, name="True colour")
    top = maps.add_overlay(fmap, overlay, name="Water", opacity=0.7)
    maps.OpacitySlider([top], label="Water opacity", value=0.7).add_to(fmap)
    maps.SwipeDivider([top], left="True colour", right="Water").add_to(fmap)
    html = _rendered(fmap)
    assert f"({fmap.get_name()}, [{top.get_name()}])" in html  # both controls get the water layer only
    assert base.get_name() not in html.split("geofm-swipe")[1]  # only the result layer is clipped
    assert 'value="70"' in html and "setOpacity" in html and "clipPath" in html
