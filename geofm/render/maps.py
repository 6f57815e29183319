"""The app's maps, built with leafmap (``leafmap.foliumap``, a folium map that streamlit-folium embeds).

Every map has the operator's basemaps (streets, satellite, topographic; a plain background with
``GEOFM_BASEMAP=none``), a layer control, fullscreen, mouse coordinates and a scale; result maps add legends,
colour bars, an opacity slider and a swipe divider *on the map* (client side: moving them never reruns the
app or loses the view). Leaflet and its plugins are served from ``static/vendor`` (no CDN).
"""

from __future__ import annotations

import base64
import html
import json
import os
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import folium
import folium.plugins
import xyzservices
from branca.element import MacroElement
from jinja2 import Template

from geofm.render.webmerc import OverlayImage
from geofm.settings import settings

if TYPE_CHECKING:
    import leafmap.foliumap

#: URL path where Streamlit's static serving exposes ``static/vendor`` (``server.enableStaticServing``).
VENDOR_PATH = "app/static/vendor"

_LEAFLET = "leaflet-1.9.3"
_DRAW = "leaflet-draw-1.0.4"
_FULLSCREEN = "leaflet.fullscreen-3.0.0"

#: (xyzservices provider path, layer name, shown first) of the online basemaps, in layer-control order.
BASEMAPS: tuple[tuple[str, str, bool], ...] = (
    ("OpenStreetMap.Mapnik", "Streets (OpenStreetMap)", True),
    ("Esri.WorldImagery", "Satellite (Esri World Imagery)", False),
    ("OpenTopoMap", "Topographic (OpenTopoMap)", False),
)
#: The maps' deepest zoom (a 30 m pixel is ~100 screen pixels there).
MAX_ZOOM = 19
PLAIN_BACKGROUND = "#eef2f5"
#: The area-of-interest outline: black dashes on a white line (a colour no result layer uses).
OUTLINE_COLOR = "#000000"
OUTLINE_HALO = "#ffffff"
#: The outline's swatch in the legends.
OUTLINE_SWATCH = "repeating-linear-gradient(90deg, #000 0 5px, #fff 5px 8px)"


#: The elements of each map that load Leaflet files (the map, fullscreen, draw), for :func:`use_local_assets`:
#: geofm adds them itself, so it knows them without walking folium's element tree.
_ASSET_ELEMENTS: "weakref.WeakKeyDictionary[folium.Map, list[Any]]" = weakref.WeakKeyDictionary()

_IMPORT_LOCK = threading.Lock()
_LEAFMAP: list[Any] = []


def leafmap_module():
    """``leafmap.foliumap``, imported on first use (see :func:`preload`).

    leafmap's package ``__init__`` also imports its ipyleaflet (Jupyter) backend unless ``USE_MKDOCS`` is set,
    its switch to the folium backend: about 1.2 s of a cold start spent on widgets a web app never shows. The
    variable is set for the import only (leafmap reads it again only in notebook and docs helpers geofm
    does not call).
    """
    if _LEAFMAP:  # imported completely (sys.modules also holds a module another thread is still importing)
        return _LEAFMAP[0]
    with _IMPORT_LOCK:
        if not _LEAFMAP:
            added = "USE_MKDOCS" not in os.environ
            if added:
                os.environ["USE_MKDOCS"] = "1"
            try:
                import leafmap.foliumap  # lazy: leafmap
            finally:
                if added:
                    os.environ.pop("USE_MKDOCS", None)
            _LEAFMAP.append(leafmap.foliumap)
    return _LEAFMAP[0]


_PRELOADED: list[bool] = []


def preload(background: bool = True) -> None:
    """Import leafmap once per process ahead of the first map: in a new thread, or in the caller's (the
    server's start hook, which is a background thread already)."""
    if _PRELOADED:
        return
    _PRELOADED.append(True)
    if background:
        threading.Thread(target=leafmap_module, name="geofm-leafmap-import", daemon=True).start()
    else:
        leafmap_module()


def vendor_base(base_url_path: str = "") -> str:
    """Absolute URL path of the vendored Leaflet files, honouring Streamlit's ``server.baseUrlPath``."""
    prefix = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
    return f"{prefix}/{VENDOR_PATH}"


def _provider(path: str):
    provider: Any = xyzservices.providers
    for part in path.split("."):
        provider = provider[part]
    return provider


def add_basemaps(fmap: "leafmap.foliumap.Map", basemap: str | None = None) -> None:
    """The operator's basemaps through leafmap (radio buttons in the layer control), or none offline."""
    if (basemap or settings().basemap).lower() == "none":
        return
    for path, name, show in BASEMAPS:
        # leafmap's add_basemap adds xyzservices providers as overlays; add_tile_layer takes overlay=False
        provider = _provider(path)
        fmap.add_tile_layer(provider.build_url(), name, provider.html_attribution, overlay=False, control=True,
                            shown=show, max_zoom=MAX_ZOOM,  # beyond the service's own zoom, its tiles scaled up
                            max_native_zoom=min(int(provider.get("max_zoom", MAX_ZOOM)), MAX_ZOOM))


def new_map(*, bounds: list[list[float]] | None = None, center: tuple[float, float] = (41.3, -96.0),
            zoom: int = 4, basemap: str | None = None) -> "leafmap.foliumap.Map":
    """A leafmap map with basemaps, fullscreen, mouse coordinates and a scale, fitted to ``bounds``."""
    lm = leafmap_module()
    fmap = lm.Map(location=list(center), zoom_start=zoom, tiles=None, draw_control=False,
                  fullscreen_control=False, layers_control=False, scale_control=True, max_zoom=MAX_ZOOM)
    _ASSET_ELEMENTS[fmap] = [fmap]
    add_basemaps(fmap, basemap)
    fullscreen = folium.plugins.Fullscreen(position="topleft", title="Full screen", title_cancel="Leave full screen",
                                           force_separate_button=True)
    fullscreen.add_to(fmap)
    _ASSET_ELEMENTS[fmap].append(fullscreen)
    MouseCoordinates().add_to(fmap)
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
    _ASSET_ELEMENTS.setdefault(fmap, [fmap]).append(draw)
    return draw


def add_area_outline(fmap: folium.Map, geometry: dict, *, name: str = "Area") -> None:
    """Draw the area of interest as an outline (no fill, so overlays stay visible): black dashes on a white
    line, which reads on any imagery and is no colour a result layer uses."""
    feature = {"type": "Feature", "geometry": geometry, "properties": {"name": name}}
    group = folium.FeatureGroup(name=name)
    folium.GeoJson(feature, interactive=False,  # the halo: drawn, but not a second shape to hit
                   style_function=lambda _f: {"color": OUTLINE_HALO, "weight": 4, "fill": False,
                                              "opacity": 0.9}).add_to(group)
    folium.GeoJson(feature, style_function=lambda _f: {"color": OUTLINE_COLOR, "weight": 2, "fill": False,
                                                       "dashArray": "6 4"}).add_to(group)
    group.add_to(fmap)


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


#: Maps narrower than this (px; a phone) start with the legend folded into a "Legend" button.
LEGEND_COLLAPSE_BELOW_PX = 640


@dataclass(frozen=True)
class ColorBar:
    """A horizontal colour bar in the map's legend, shown only while ``layer`` (if given) is on the map."""

    colors: tuple[str, ...]
    vmin: float
    vmax: float
    caption: str
    layer: folium.raster_layers.ImageOverlay | None = None


def _legend_rows(items: list[tuple[str, str]]) -> str:
    return "".join(
        f'<div style="display:flex;align-items:center;margin:2px 0">'
        f'<span style="width:14px;height:14px;border:1px solid #555;background:{color};display:inline-block;'
        f'margin-right:6px;flex:none"></span>{html.escape(label)}</div>'
        for label, color in items)


def _colorbar_html(bar: ColorBar) -> str:
    gradient = ", ".join(bar.colors)
    layer = f' data-layer="{bar.layer.get_name()}"' if bar.layer is not None else ""
    return (f'<div class="geofm-colorbar"{layer} style="margin-top:6px"><b>{html.escape(bar.caption)}</b>'
            f'<div style="width:160px;max-width:100%;height:12px;margin:4px 0 2px;border:1px solid #555;'
            f'background:linear-gradient(to right, {gradient})"></div>'
            f'<div style="display:flex;justify-content:space-between"><span>{bar.vmin:g}</span>'
            f'<span>{(bar.vmin + bar.vmax) / 2:g}</span><span>{bar.vmax:g}</span></div></div>')


class MapLegend(MacroElement):
    """The map's legend and colour bars in one box under the layer switcher (top right), in the browser:

    - on a map narrower than ``collapse_below`` px (a phone) it starts folded into a "Legend" button, and a
      tap opens or folds it (wider maps start open, with the same button to fold it);
    - it never covers the other controls: its height is capped so that it ends above the lowest bottom
      control's top edge (opacity slider, scale) and its width leaves the left column (zoom, full screen,
      view switch) free; longer content scrolls inside it;
    - a colour bar tied to a layer shows only while that layer is on the map.
    """

    _template = Template("""
    {% macro script(this, kwargs) %}
    (function (map) {
        var box = L.control({position: "topright"});
        box.onAdd = function () {
            var div = L.DomUtil.create("div", "geofm-map-legend");
            div.style.cssText = "background:rgba(255,255,255,.94);border-radius:5px;font:12px/1.35 sans-serif;" +
                                "color:#222;box-shadow:0 1px 4px rgba(0,0,0,.3);clear:both";
            div.innerHTML = {{ this.body_json }};
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        box.addTo(map);
        var div = box.getContainer(), toggle = div.querySelector(".geofm-legend-toggle"),
            body = div.querySelector(".geofm-legend-body");
        function setOpen(open) {
            div.dataset.open = open ? "1" : "0";
            body.style.display = open ? "block" : "none";
            toggle.setAttribute("aria-expanded", open ? "true" : "false");
            toggle.querySelector(".geofm-legend-arrow").innerHTML = open ? "&#9662;" : "&#9656;";
            fit();
        }
        function fit() {  // stay clear of the bottom controls and the left column
            var mapBox = map.getContainer().getBoundingClientRect(), floor = mapBox.bottom - 10;
            map.getContainer().querySelectorAll(".leaflet-bottom .leaflet-control").forEach(function (c) {
                if (c.offsetParent !== null) { floor = Math.min(floor, c.getBoundingClientRect().top - 8); }
            });
            var left = mapBox.left + 10;
            map.getContainer().querySelectorAll(".leaflet-top.leaflet-left .leaflet-control").forEach(function (c) {
                if (c.offsetParent !== null) { left = Math.max(left, c.getBoundingClientRect().right + 8); }
            });
            div.style.maxWidth = Math.max(120, mapBox.right - 10 - left) + "px";
            var top = body.getBoundingClientRect().top || div.getBoundingClientRect().bottom;
            body.style.maxHeight = Math.max(40, floor - top) + "px";
        }
        toggle.addEventListener("click", function () { setOpen(div.dataset.open !== "1"); });
        var bars = div.querySelectorAll(".geofm-colorbar[data-layer]"), layers = {{ this.layers_js }};
        function syncBars() {
            bars.forEach(function (bar) {
                var layer = layers[bar.dataset.layer];
                bar.style.display = layer && map.hasLayer(layer) ? "block" : "none";
            });
            fit();
        }
        map.on("overlayadd overlayremove layeradd layerremove", syncBars);
        map.on("resize", fit);
        if (window.ResizeObserver) { new ResizeObserver(fit).observe(map.getContainer()); }  // the frame's late sizing
        syncBars();
        setOpen(map.getSize().x >= {{ this.collapse_below }});
        // fit again once the layout is final: when the frame has loaded, when a style sheet still loading comes
        // in (before Leaflet's own, the bottom controls sit at the top of the map), whenever a control comes or
        // goes, and a moment later (an early fit left a result map's legend 40 px high on a large map)
        if (document.readyState === "complete") { setTimeout(fit, 0); } else { window.addEventListener("load", fit); }
        document.querySelectorAll('link[rel="stylesheet"]').forEach(function (sheet) {
            if (!sheet.sheet) { sheet.addEventListener("load", fit); }
        });
        setTimeout(fit, 1500);
        if (window.MutationObserver) {
            new MutationObserver(fit).observe(map.getContainer().querySelector(".leaflet-control-container"),
                                              {childList: true, subtree: true});
        }
    })({{ this._parent.get_name() }});
    {% endmacro %}
    """)

    def __init__(self, items: list[tuple[str, str]], *, title: str, colorbars: list[ColorBar] | None = None,
                 collapse_below: int = LEGEND_COLLAPSE_BELOW_PX) -> None:
        super().__init__()
        self._name = "MapLegend"
        self.colorbars = list(colorbars or [])
        self.collapse_below = int(collapse_below)
        body = (f'<button type="button" class="geofm-legend-toggle" aria-expanded="true" title="Show or hide '
                f'the legend" style="all:unset;cursor:pointer;display:block;padding:6px 9px;font-weight:bold;'
                f'white-space:nowrap"><span class="geofm-legend-arrow">&#9662;</span> {html.escape(title)}'
                f'</button><div class="geofm-legend-body" style="padding:0 9px 6px;overflow:auto">'
                f'{_legend_rows(items)}{"".join(_colorbar_html(bar) for bar in self.colorbars)}</div>')
        self.body_json = json.dumps(body)

    @property
    def layers_js(self) -> str:
        names = [bar.layer.get_name() for bar in self.colorbars if bar.layer is not None]
        return "{" + ", ".join(f'"{name}": {name}' for name in names) + "}"


def add_legend(fmap: folium.Map, items: list[tuple[str, str]], *, title: str,
               colorbars: list[ColorBar] | None = None) -> MapLegend:
    """The map's legend: (label, CSS colour or background) swatches under a title, then the colour bars."""
    legend = MapLegend(items, title=title, colorbars=colorbars)
    legend.add_to(fmap)
    return legend


def use_local_assets(fig, base: str | None = None) -> None:
    """Point every Leaflet JS/CSS link at the vendored copies (the app works offline, no CDN needed).

    Links geofm does not use (jQuery, Bootstrap, awesome-markers, Font Awesome) are dropped: a script
    that cannot load would stop streamlit-folium from drawing the map at all.
    """
    base = base or vendor_base()
    for element in _ASSET_ELEMENTS.get(fig, [fig]):
        if isinstance(element, folium.Map):
            element.default_js = [("leaflet", f"{base}/{_LEAFLET}/leaflet.js")]
            element.default_css = [("leaflet_css", f"{base}/{_LEAFLET}/leaflet.css")]
        elif isinstance(element, folium.plugins.Draw):
            element.default_js = [("leaflet_draw_js", f"{base}/{_DRAW}/leaflet.draw.js")]
            element.default_css = [("leaflet_draw_css", f"{base}/{_DRAW}/leaflet.draw.css")]
        elif isinstance(element, folium.plugins.Fullscreen):
            element.default_js = [("Control.Fullscreen.js", f"{base}/{_FULLSCREEN}/Control.FullScreen.js")]
            element.default_css = [("Control.FullScreen.css", f"{base}/{_FULLSCREEN}/Control.FullScreen.css")]


# ------------------------------------------------------------------------------ client-side controls


class MouseCoordinates(MacroElement):
    """The latitude and longitude under the mouse, bottom left (a few lines of Leaflet, no plugin)."""

    _template = Template("""
    {% macro script(this, kwargs) %}
    (function (map) {
        var box = L.control({position: "bottomleft"});
        box.onAdd = function () {
            var div = L.DomUtil.create("div", "geofm-mouse-coordinates");
            div.style.cssText = "background:rgba(255,255,255,.85);padding:1px 6px;font:11px monospace;color:#333;" +
                                "display:none";  // shown while the pointer is over the map (no empty box)
            map.on("mousemove", function (e) {
                div.innerHTML = e.latlng.lat.toFixed(5) + ", " + e.latlng.lng.toFixed(5);
                div.style.display = "block";
            });
            map.on("mouseout", function () { div.style.display = "none"; });
            return div;
        };
        box.addTo(map);
    })({{ this._parent.get_name() }});
    {% endmacro %}
    """)


class OpacitySlider(MacroElement):
    """A range input on the map that sets overlay layers' opacity in the browser (no rerun, view kept)."""

    _template = Template("""
    {% macro script(this, kwargs) %}
    (function (map, layers) {
        var box = L.control({position: "bottomleft"});
        box.onAdd = function () {
            var div = L.DomUtil.create("div", "geofm-opacity");
            div.style.cssText = "background:rgba(255,255,255,.92);padding:4px 8px;border-radius:5px;" +
                                "font:12px sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.3)";
            div.innerHTML = '<label>{{ this.label }} <input type="range" min="0" max="100" step="5" ' +
                            'value="{{ this.value }}" style="vertical-align:middle;width:110px"></label>' +
                            ' <span class="geofm-opacity-value">{{ this.value }} %</span>';
            var input = div.querySelector("input"), shown = div.querySelector(".geofm-opacity-value");
            input.addEventListener("input", function () {
                layers.forEach(function (layer) { layer.setOpacity(input.value / 100); });
                shown.textContent = input.value + " %";
            });
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        box.addTo(map);
    })({{ this._parent.get_name() }}, [{{ this.layer_names }}]);
    {% endmacro %}
    """)

    def __init__(self, layers: list[folium.raster_layers.ImageOverlay], *, label: str, value: float) -> None:
        super().__init__()
        self._name = "OpacitySlider"
        self._layers = layers
        self.label = html.escape(label)
        self.value = int(round(value * 100))

    @property
    def layer_names(self) -> str:
        return ", ".join(layer.get_name() for layer in self._layers)


class SwipeDivider(MacroElement):
    """Overlay or swipe, switched on the map itself (so the view stays): in swipe mode a vertical divider the
    user drags, left of it the layers below, right of it ``layers`` (clipped), with a label on each side
    that moves with it.

    The clip is recomputed on every move, zoom and drag, in the browser; the divider's position is the
    fraction ``data-fraction`` of the map's width. ``swipe`` sets the mode it starts in.
    """

    _template = Template("""
    {% macro script(this, kwargs) %}
    (function (map, layers) {
        var container = map.getContainer(), swiping = {{ this.swipe }};
        var divider = L.DomUtil.create("div", "geofm-swipe", container);
        divider.style.cssText = "position:absolute;top:0;bottom:0;width:4px;margin-left:-2px;background:#fff;" +
                                "box-shadow:0 0 4px rgba(0,0,0,.6);z-index:650;cursor:ew-resize;touch-action:none";
        var handle = L.DomUtil.create("div", "geofm-swipe-handle", divider);
        handle.style.cssText = "position:absolute;top:50%;left:-15px;width:34px;height:34px;margin-top:-17px;" +
                               "border-radius:50%;background:#fff;box-shadow:0 0 4px rgba(0,0,0,.6);" +
                               "text-align:center;font:18px/34px sans-serif;color:#333;user-select:none";
        handle.innerHTML = "&#8596;";
        handle.title = "Drag: left {{ this.left }}, right {{ this.right }}";
        var tag = "position:absolute;top:50%;margin-top:24px;z-index:640;font:12px sans-serif;pointer-events:none;" +
                  "white-space:nowrap;background:rgba(255,255,255,.92);padding:2px 6px;border-radius:3px;" +
                  "box-shadow:0 0 3px rgba(0,0,0,.35)";
        var leftLabel = L.DomUtil.create("div", "geofm-swipe-label geofm-swipe-label-left", container);
        var rightLabel = L.DomUtil.create("div", "geofm-swipe-label geofm-swipe-label-right", container);
        leftLabel.style.cssText = tag;
        rightLabel.style.cssText = tag;
        leftLabel.innerHTML = "&#8592; {{ this.left }}";
        rightLabel.innerHTML = "{{ this.right }} &#8594;";
        var fraction = {{ this.fraction }};
        function clip() {
            var size = map.getSize(), x = size.x * fraction;
            divider.style.left = x + "px";
            divider.dataset.fraction = fraction.toFixed(3);
            leftLabel.style.left = "";
            leftLabel.style.right = (size.x - x + 8) + "px";  // each label beside the divider, on its side
            rightLabel.style.left = (x + 8) + "px";
            var cut = map.containerPointToLayerPoint([x, 0]).x;
            layers.forEach(function (layer) {
                var el = layer.getElement && layer.getElement();
                if (!el) { return; }
                var left = L.DomUtil.getPosition(el).x;
                el.style.clipPath = swiping ? "inset(0 0 0 " + Math.max(0, cut - left) + "px)" : "";
            });
        }
        var dragging = false;
        function moveTo(clientX) {
            var rect = container.getBoundingClientRect();
            fraction = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
            clip();
        }
        // pointer events (mouse, pen and touch alike), captured by the divider while it is dragged
        divider.addEventListener("pointerdown", function (e) {
            dragging = true;
            divider.setPointerCapture(e.pointerId);
            map.dragging.disable();
            e.preventDefault();
            e.stopPropagation();
        });
        divider.addEventListener("pointermove", function (e) {
            if (dragging) { moveTo(e.clientX); e.preventDefault(); }
        });
        function up(e) {
            if (!dragging) { return; }
            dragging = false;
            if (divider.hasPointerCapture(e.pointerId)) { divider.releasePointerCapture(e.pointerId); }
            map.dragging.enable();
        }
        divider.addEventListener("pointerup", up);
        divider.addEventListener("pointercancel", up);
        L.DomEvent.disableClickPropagation(divider);
        L.DomEvent.disableScrollPropagation(divider);
        map.on("move zoom zoomend viewreset resize layeradd", clip);

        // the mode switch: two buttons on the map (no rerun of the page, so the zoom and pan stay)
        var modes = L.control({position: "topleft"});
        modes.onAdd = function () {
            var div = L.DomUtil.create("div", "geofm-view-switch leaflet-bar");
            div.style.cssText = "display:flex;background:#fff;font:12px sans-serif";
            div.innerHTML = '<button type="button" data-mode="overlay">Overlay</button>' +
                            '<button type="button" data-mode="swipe">Swipe</button>';
            div.querySelectorAll("button").forEach(function (b) {
                b.style.cssText = "border:0;padding:5px 8px;cursor:pointer;font:12px sans-serif";
                b.title = b.dataset.mode === "swipe" ? "Drag the divider to compare {{ this.left }} with " +
                          "{{ this.right }}" : "The layers on top of each other";
                b.addEventListener("click", function () { setMode(b.dataset.mode === "swipe"); });
            });
            L.DomEvent.disableClickPropagation(div);
            return div;
        };
        modes.addTo(map);
        function setMode(on) {
            swiping = on;
            container.dataset.geofmView = on ? "swipe" : "overlay";
            [divider, leftLabel, rightLabel].forEach(function (el) { el.style.display = on ? "block" : "none"; });
            modes.getContainer().querySelectorAll("button").forEach(function (b) {
                var active = (b.dataset.mode === "swipe") === on;
                b.style.background = active ? "#1f6feb" : "#fff";
                b.style.color = active ? "#fff" : "#222";
                b.setAttribute("aria-pressed", active ? "true" : "false");
            });
            clip();
        }
        setMode(swiping);
    })({{ this._parent.get_name() }}, [{{ this.layer_names }}]);
    {% endmacro %}
    """)

    def __init__(self, layers: list[folium.raster_layers.ImageOverlay], *, left: str, right: str,
                 fraction: float = 0.5, swipe: bool = False) -> None:
        super().__init__()
        self._name = "SwipeDivider"
        self._layers = layers
        self.left = html.escape(left)
        self.right = html.escape(right)
        self.fraction = json.dumps(float(fraction))
        self.swipe = json.dumps(bool(swipe))

    @property
    def layer_names(self) -> str:
        return ", ".join(layer.get_name() for layer in self._layers)


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
