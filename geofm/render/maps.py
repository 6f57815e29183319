"""Folium maps for the app: base map, draw tools, overlays and outlines, with Leaflet served locally."""

from __future__ import annotations

import base64
from typing import Iterable

import folium
import folium.plugins
from branca.element import MacroElement
from jinja2 import Template

from geofm.render.webmerc import OverlayImage
from geofm.settings import settings

#: URL path where Streamlit's static serving exposes ``static/vendor`` (``server.enableStaticServing``).
VENDOR_PATH = "app/static/vendor"

_LEAFLET = "leaflet-1.9.3"
_DRAW = "leaflet-draw-1.0.4"
_SYNC = "leaflet.sync-0.2.4"


def vendor_base(base_url_path: str = "") -> str:
    """Absolute URL path of the vendored Leaflet files, honouring Streamlit's ``server.baseUrlPath``."""
    prefix = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
    return f"{prefix}/{VENDOR_PATH}"


def new_map(*, bounds: list[list[float]] | None = None, center: tuple[float, float] = (41.3, -96.0),
            zoom: int = 4, basemap: str | None = None) -> folium.Map:
    """A map with the operator's basemap choice, fitted to ``bounds`` ([[s, w], [n, e]]) when given."""
    basemap = (basemap or settings().basemap).lower()
    fmap = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=True,
                      prefer_canvas=False)
    if basemap != "none":
        folium.TileLayer("OpenStreetMap", name="Streets (OpenStreetMap)", control=True).add_to(fmap)
        folium.TileLayer(
            tiles="https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}",
            attr="Esri World Imagery", name="Satellite (Esri)", control=True, show=False,
        ).add_to(fmap)
    if bounds is not None:
        fmap.fit_bounds(bounds)
    return fmap


def add_draw_tools(fmap: folium.Map) -> folium.plugins.Draw:
    """Rectangle and polygon drawing only (no markers, lines or circles)."""
    draw = folium.plugins.Draw(
        export=False, position="topleft",
        draw_options={"polyline": False, "circle": False, "marker": False, "circlemarker": False,
                      "rectangle": {"shapeOptions": {"color": "#1f6feb", "weight": 2}},
                      "polygon": {"shapeOptions": {"color": "#1f6feb", "weight": 2}}},
        edit_options={"edit": False, "remove": True},
    )
    draw.add_to(fmap)
    return draw


def add_area_outline(fmap: folium.Map, geometry: dict, *, name: str = "Area") -> None:
    """Draw the area of interest as an outline (no fill, so overlays stay visible)."""
    folium.GeoJson(
        {"type": "Feature", "geometry": geometry, "properties": {"name": name}}, name=name,
        style_function=lambda _f: {"color": "#e8590c", "weight": 2, "fill": False, "dashArray": "6 4"},
    ).add_to(fmap)


def add_overlay(fmap: folium.Map, overlay: OverlayImage, *, name: str, opacity: float = 1.0,
                show: bool = True) -> folium.raster_layers.ImageOverlay:
    """Put an EPSG:3857 overlay on the map at its exact lat/lon bounds."""
    url = "data:image/png;base64," + base64.b64encode(overlay.png()).decode("ascii")
    layer = folium.raster_layers.ImageOverlay(url, bounds=overlay.latlon_bounds, name=name,
                                              opacity=opacity, show=show, interactive=False,
                                              cross_origin=False, zindex=2)
    layer.add_to(fmap)
    return layer


def add_layer_control(fmap: folium.Map) -> None:
    """A collapsed layer switcher (basemaps and overlays)."""
    folium.LayerControl(collapsed=True, position="topright").add_to(fmap)


def dual_map(*, bounds: list[list[float]], basemap: str | None = None) -> folium.plugins.DualMap:
    """Two synchronised maps side by side (left, right), fitted to ``bounds``."""
    basemap = (basemap or settings().basemap).lower()
    dual = folium.plugins.DualMap(location=[(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2],
                                  zoom_start=12, tiles=None, layout="horizontal")
    if basemap != "none":
        folium.TileLayer("OpenStreetMap", name="Streets").add_to(dual)
    dual.m1.fit_bounds(bounds)
    dual.m2.fit_bounds(bounds)
    return dual


def _walk(element) -> Iterable:
    yield element
    if isinstance(element, folium.plugins.DualMap):
        yield from _walk(element.m1)
        yield from _walk(element.m2)
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


def use_local_assets(fig, base: str | None = None) -> None:
    """Point every Leaflet JS/CSS link at the vendored copies (the app works offline, no CDN needed).

    Links geofm does not use (jQuery, Bootstrap, awesome-markers, Font Awesome) are dropped: a script
    that cannot load would stop streamlit-folium from drawing the map at all.
    """
    base = base or vendor_base()
    for element in _walk(fig):
        if isinstance(element, folium.Map):
            element.default_js = [("leaflet", f"{base}/{_LEAFLET}/leaflet.js")]
            element.default_css = [("leaflet_css", f"{base}/{_LEAFLET}/leaflet.css")]
        elif isinstance(element, folium.plugins.Draw):
            element.default_js = [("leaflet_draw_js", f"{base}/{_DRAW}/leaflet.draw.js")]
            element.default_css = [("leaflet_draw_css", f"{base}/{_DRAW}/leaflet.draw.css")]
        elif isinstance(element, folium.plugins.DualMap):
            element.default_js = [("Leaflet.Sync", f"{base}/{_SYNC}/L.Map.Sync.js")]
            element.default_css = []




class OfflineBasemapNotice(MacroElement):
    """A light map background, and one quiet note on the map if basemap tiles cannot load (offline)."""

    _template = Template("""
    {% macro script(this, kwargs) %}
    (function (map) {
        map.getContainer().style.background = "#eef2f5";
        var shown = false;
        map.eachLayer(function (layer) {
            if (!(layer instanceof L.TileLayer)) { return; }
            layer.on("tileerror", function () {
                if (shown) { return; }
                shown = true;
                var note = L.control({position: "bottomleft"});
                note.onAdd = function () {
                    var div = L.DomUtil.create("div", "geofm-offline-note");
                    div.innerHTML = "Background map unavailable (offline?) \u2014 drawing and results still work.";
                    div.style.cssText = "background:rgba(255,255,255,.9);padding:2px 8px;border-radius:4px;" +
                                        "font:12px sans-serif;color:#57606a";
                    return div;
                };
                note.addTo(map);
            });
        });
    })({{ this._parent.get_name() }});
    {% endmacro %}
    """)


def add_offline_notice(fmap: folium.Map) -> None:
    """Add :class:`OfflineBasemapNotice` (after the tile layers)."""
    OfflineBasemapNotice().add_to(fmap)
