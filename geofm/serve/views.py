"""Result views shared by the task pages and the upload page: maps, legends, numbers, downloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geofm.config import MODELS, TaskSpec, get_task
from geofm.io.geotiff import sensor_from_name
from geofm.progress import Progress, null_progress
from geofm.render import maps
from geofm.render.products import (CLOUD_LEGEND, CLOUD_SWATCH, CONFIDENCE_COLORS, ClassMapProducts, Products,
                                   ReconstructionProducts, render_products)
from geofm.render.stats import hex_color
from geofm.render.webmerc import OverlayImage
from geofm.serve.runs import RunOutcome
from geofm.stack import ReconstructionResult, SegmentationResult

if TYPE_CHECKING:
    import altair as alt

MAP_HEIGHT = 520
CLOUD_METRIC = "Cloud or no data"
CLOUD_HELP = "Share of your area (inside its outline) hidden by cloud or cloud shadow, or without data."


# ------------------------------------------------------------------------------------- rendering

def render_views(outcome: RunOutcome, progress: Progress = null_progress) -> Products:
    """The run's rendered products, made once per outcome (kept in ``outcome.views``)."""
    if outcome.views is None:
        sensors = frame_sensors(outcome)
        outcome.views = render_products(get_task(outcome.request.task), outcome.result, outcome.stack,
                                        sensors=sensors, progress=progress, confidence=outcome.confidence,
                                        area=area_mask(outcome))
    return outcome.views


def frame_sensors(outcome: RunOutcome) -> list[str]:
    """"L30" / "S30" per date: from the scenes found, or (an uploaded file) from HLS file names ("" unknown)."""
    if outcome.scenes:
        return [scene.sensor for scene in outcome.scenes]
    return [sensor_from_name(name) or "" for name in outcome.stack.scene_ids]


def area_mask(outcome: RunOutcome) -> np.ndarray | None:
    """(H, W) bool: the stack's pixels inside the drawn area (None for an uploaded file: all of it)."""
    geometry = outcome.request.geometry
    if not geometry:
        return None
    from geofm.data.aoi import AOI  # lazy: pystac_client
    from geofm.data.grid import Grid  # lazy: pystac_client

    height, width = outcome.stack.shape
    return Grid(outcome.stack.crs, outcome.stack.transform, width, height).area_mask(AOI.from_geojson(geometry))


def _class_views(outcome: RunOutcome) -> ClassMapProducts:
    views = render_views(outcome)
    assert isinstance(views, ClassMapProducts)
    return views


def _reconstruction_views(outcome: RunOutcome) -> ReconstructionProducts:
    views = render_views(outcome)
    assert isinstance(views, ReconstructionProducts)
    return views


# ------------------------------------------------------------------------------------- widgets

def legend(items: list[tuple[str, str]], *, title: str = "Legend") -> None:
    """Colour swatches with labels, as one compact block."""
    cells = "".join(
        f'<span style="display:inline-flex;align-items:center;margin:2px 14px 2px 0;white-space:nowrap">'
        f'<span style="width:14px;height:14px;border:1px solid #555;background:{color};'
        f'display:inline-block;margin-right:6px"></span>{name}</span>'
        for name, color in items)
    st.markdown(f'<div class="geofm-legend"><b>{title}:</b> {cells}</div>', unsafe_allow_html=True)


def show_map(fmap, *, key: str, height: int = MAP_HEIGHT) -> None:
    """Render a result map that never reruns the script on pan or zoom."""
    maps.use_local_assets(fmap, maps.vendor_base(st.get_option("server.baseUrlPath") or ""))
    st_folium(fmap, key=key, height=height, use_container_width=True, returned_objects=[])


@dataclass(frozen=True)
class MapLayer:
    """One overlay of a result map."""

    overlay: OverlayImage
    name: str
    opacity: float = 1.0
    show: bool = True
    result: bool = False  #: a result layer: the on-map opacity slider and the swipe act on it


def build_result_map(layers: list[MapLayer], *, geometry: dict | None, legend_title: str,
                     legend_items: list[tuple[str, str]], swipe: tuple[str, str] | None = None,
                     colorbar: tuple[str, MapLayer] | None = None, opacity_label: str = "Opacity",
                     basemap: str | None = None):
    """The leafmap map of :func:`result_map` (no Streamlit: a test renders it in a browser as it is)."""
    fmap = maps.new_map(bounds=layers[0].overlay.latlon_bounds, basemap=basemap)
    placed = [(layer, maps.add_overlay(fmap, layer.overlay, name=layer.name, opacity=layer.opacity,
                                       show=layer.show)) for layer in layers]
    if geometry:
        maps.add_area_outline(fmap, geometry)
    on_top = [overlay for layer, overlay in placed if layer.result]
    if on_top:
        first = next(layer for layer in layers if layer.result)
        maps.OpacitySlider(on_top, label=opacity_label, value=first.opacity).add_to(fmap)
        if swipe is not None:
            maps.SwipeDivider(on_top, left=swipe[0], right=swipe[1]).add_to(fmap)
    bars = []
    if colorbar is not None:
        caption, bar_layer = colorbar
        bars.append(maps.ColorBar(CONFIDENCE_COLORS, 0, 1, caption,
                                  layer=next(overlay for layer, overlay in placed if layer is bar_layer)))
    outline = [("Area outline", maps.OUTLINE_SWATCH)] if geometry else []
    maps.add_layer_control(fmap)
    maps.add_legend(fmap, legend_items + outline, title=legend_title, colorbars=bars)
    maps.add_offline_notice(fmap)
    return fmap


def result_map(outcome: RunOutcome, layers: list[MapLayer], *, key: str, legend_title: str,
               legend_items: list[tuple[str, str]], swipe: tuple[str, str] | None = None,
               colorbar: tuple[str, MapLayer] | None = None, opacity_label: str = "Opacity",
               height: int = MAP_HEIGHT) -> None:
    """A leafmap map fitted to the result: overlays, area outline, legend (and a colour bar shown with its
    ``colorbar`` (caption, layer)) on the map, an on-map opacity slider for the result layers, and with
    ``swipe`` (left, right) an Overlay / Swipe switch on the map and a divider to drag."""
    fmap = build_result_map(layers, geometry=outcome.request.geometry, legend_title=legend_title,
                            legend_items=legend_items, swipe=swipe, colorbar=colorbar, opacity_label=opacity_label)
    show_map(fmap, key=key, height=height)


def downloads(outcome: RunOutcome, views: Products, *, key: str) -> None:
    """Download buttons: cloud-optimised GeoTIFF, PNG and (class maps) GeoJSON, one (Multi)Polygon per class."""
    stem = f"geofm-{outcome.request.task}"
    geojson = getattr(views, "geojson", None)
    cols = st.columns(3 if geojson else 2)
    cols[0].download_button("GeoTIFF (COG)", views.cog, file_name=f"{stem}.tif", mime="image/tiff",
                            key=f"{key}-cog", icon=":material/download:", width="stretch")
    cols[1].download_button("PNG image", views.png, file_name=f"{stem}.png", mime="image/png",
                            key=f"{key}-png", icon=":material/download:", width="stretch")
    if geojson:
        cols[2].download_button("GeoJSON polygons", geojson, file_name=f"{stem}.geojson",
                                mime="application/geo+json", key=f"{key}-geojson", icon=":material/download:",
                                width="stretch", help="One (multi)polygon per class with its area.")


def run_facts(outcome: RunOutcome) -> None:
    """Which scenes, device and times produced this result."""
    result = outcome.result
    title = MODELS[result.model].title if result.model in MODELS else result.model  # a name for people
    bits = [f"model **{title}** on **{result.device.upper()}**"]
    if outcome.scenes:
        bits.append("scenes " + ", ".join(f"`{s.id}`" for s in outcome.scenes))
    summary = outcome.times.summary()
    if summary:
        bits.append(summary)
    if outcome.from_cache:
        bits.append("served from the cache")
    st.caption(" · ".join(bits))


def show_target(outcome: RunOutcome, task: TaskSpec, *, key: str) -> None:
    """One target class (water, burn scar) over the true colour: its area, clouds, legend, confidence, swipe."""
    views = _class_views(outcome)
    target = views.target
    assert target is not None, "a target view needs the target class's summary"
    result: SegmentationResult = outcome.result  # type: ignore[assignment]
    layer = task.layer
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(task.target_label, f"{target.water_km2:.2f} km²")
    c2.metric("Share of the clear area", f"{target.water_percent:.1f} %")
    c3.metric("Clear area (no cloud, no gaps)", f"{target.clear_km2:.2f} km²")
    c4.metric(CLOUD_METRIC, f"{views.cloud_percent:.1f} %", help=CLOUD_HELP)
    items = [(result.class_names[k], hex_color(result.class_colors[k])) for k in range(len(result.class_names))
             if k not in task.see_through]
    items += [(f"{result.class_names[k]} (true colour shows through)", "transparent") for k in task.see_through]
    items.append((CLOUD_LEGEND, CLOUD_SWATCH))
    legend(items, title=task.legend)
    layers = [MapLayer(views.rgb_overlay, f"True colour {views.labels[-1]}"),
              MapLayer(views.class_overlay, layer, 0.7, True, result=True),
              MapLayer(views.cloud_overlay, CLOUD_LEGEND, 0.9, True, result=True)]
    confidence = None
    if views.confidence_overlay is not None:
        confidence = MapLayer(views.confidence_overlay, views.confidence_label, 0.7, False, result=True)
        layers.insert(2, confidence)
    result_map(outcome, layers, key=f"{key}-map", legend_title=task.legend, legend_items=items,
               swipe=("True colour", layer), opacity_label=f"{layer} opacity",
               colorbar=(views.confidence_label, confidence) if confidence is not None else None)
    confidence_caption(views)
    downloads(outcome, views, key=key)
    run_facts(outcome)


def confidence_caption(views: ClassMapProducts) -> None:
    if views.confidence_overlay is not None:
        st.caption(f":material/layers: **{views.confidence_label}**: a layer of the map (layer switcher, top "
                   "right) with its colour bar — light where the model is unsure, dark blue where it is sure.")


def class_bar_chart(table: pd.DataFrame) -> alt.Chart:
    """Hectares per class, bars in the published class colours."""
    import altair as alt  # lazy: altair (imported when a chart is drawn: 0.3 s off the app's cold start)

    return alt.Chart(table).mark_bar().encode(
        x=alt.X("area_ha:Q", title="Area (ha)"),
        y=alt.Y("class:N", sort=list(table["class"]), title=None),
        color=alt.Color("class:N", scale=alt.Scale(domain=list(table["class"]), range=list(table["colour"])),
                        legend=None),
        tooltip=["class", "area_ha", "percent"],
    ).properties(height=28 * len(table))


def show_classes(outcome: RunOutcome, task: TaskSpec, *, key: str) -> None:
    """The dates seen, the class map with its legend, area per class table and chart."""
    views = _class_views(outcome)
    n = len(views.rgb)
    st.markdown("**The date the model saw**" if n == 1 else f"**The {n} dates the model saw**")
    cols = st.columns(len(views.rgb))
    for col, rgb, label in zip(cols, views.rgb, views.labels):
        col.image(rgb, caption=label, width="stretch")
    table: pd.DataFrame = views.table
    items = list(zip(table["class"], table["colour"])) + [(CLOUD_LEGEND, CLOUD_SWATCH)]
    legend(items, title=task.legend)
    st.metric(CLOUD_METRIC, f"{views.cloud_percent:.1f} %", help=CLOUD_HELP)
    layers = [MapLayer(views.rgb_overlay, f"True colour {views.labels[-1]}"),
              MapLayer(views.class_overlay, task.layer, 0.85, True, result=True),
              MapLayer(views.cloud_overlay, CLOUD_LEGEND, 0.9, True, result=True)]
    confidence = None
    if views.confidence_overlay is not None:
        confidence = MapLayer(views.confidence_overlay, views.confidence_label, 0.85, False, result=True)
        layers.insert(2, confidence)
    result_map(outcome, layers, key=f"{key}-map", legend_title=task.legend, legend_items=items,
               swipe=("True colour", task.layer), opacity_label="Class opacity",
               colorbar=(views.confidence_label, confidence) if confidence is not None else None)
    confidence_caption(views)
    c1, c2 = st.columns([1, 1])
    with c1:
        st.markdown("**Area per class**")
        st.dataframe(table[["class", "area_ha", "percent", "pixels"]], hide_index=True, width="stretch",
                     height=35 * (len(table) + 1) + 3,
                     column_config={"area_ha": st.column_config.NumberColumn("Area (ha)", format="%.2f"),
                                    "percent": st.column_config.NumberColumn("%", format="%.1f"),
                                    "class": "Class", "pixels": "Pixels"})
    with c2:
        st.altair_chart(class_bar_chart(table), width="stretch")
    downloads(outcome, views, key=key)
    run_facts(outcome)


def show_reconstruction(outcome: RunOutcome, task: TaskSpec, *, key: str) -> None:
    """Original / masked / reconstructed per date, the reconstruction on the map, error per band."""
    views = _reconstruction_views(outcome)
    result: ReconstructionResult = outcome.result  # type: ignore[assignment]
    hidden = float(result.mask.mean()) * 100
    st.caption(f"Mask ratio {result.mask_ratio:.2f} (seed {result.seed}): {hidden:.0f} % of the pixels hidden.")
    for t, label in enumerate(views.labels):
        st.markdown(f"**{label}**")
        c1, c2, c3 = st.columns(3)
        c1.image(result.original_rgb[t], caption="Original", width="stretch")
        c2.image(result.masked_rgb[t], caption="What the model saw (hidden patches black)", width="stretch")
        c3.image(result.reconstructed_rgb[t], caption="Reconstructed", width="stretch")
    t = 0
    if len(views.labels) > 1:
        t = st.selectbox("Date on the map", range(len(views.labels)), format_func=lambda i: views.labels[i],
                         key=f"{key}-date")
    st.metric(CLOUD_METRIC, f"{views.cloud_percents[t]:.1f} %", help=CLOUD_HELP)
    items = [(CLOUD_LEGEND, CLOUD_SWATCH)]
    legend(items, title="On the map")
    result_map(outcome, [MapLayer(views.orig_overlays[t], f"Original {views.labels[t]}"),
                         MapLayer(views.recon_overlays[t], f"Reconstruction {views.labels[t]}", 1.0, True,
                                  result=True),
                         MapLayer(views.cloud_overlays[t], CLOUD_LEGEND, 0.9, True, result=True)],
               key=f"{key}-map", legend_title="On the map", legend_items=items,
               swipe=("Original", "Reconstruction"), opacity_label="Reconstruction opacity")
    st.markdown("**Error per band** over the hidden pixels (surface reflectance, 0–1)")
    table: pd.DataFrame = views.errors
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"band": "Band",
                                "mean_abs_error": st.column_config.NumberColumn("Mean abs. error", format="%.4f"),
                                "rmse": st.column_config.NumberColumn("RMSE", format="%.4f"), "pixels": "Pixels"})
    downloads(outcome, views, key=key)
    run_facts(outcome)


def show_outcome(outcome: RunOutcome, *, key: str) -> None:
    """The views for whichever task produced ``outcome`` (its registry ``view``)."""
    task = get_task(outcome.request.task)
    VIEWS[task.view](outcome, task, key=key)


VIEWS = {"target": show_target, "classes": show_classes, "reconstruction": show_reconstruction}
