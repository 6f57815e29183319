"""Result views shared by the task pages and the upload page: maps, legends, numbers, downloads."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
import streamlit.components.v1 as components
from streamlit_folium import st_folium

from geofm.config import TaskSpec, get_task
from geofm.progress import Progress, null_progress
from geofm.render import maps
from geofm.render.products import ClassMapProducts, Products, ReconstructionProducts, render_products
from geofm.render.stats import hex_color
from geofm.render.webmerc import OverlayImage
from geofm.serve.runs import RunOutcome
from geofm.stack import ReconstructionResult, SegmentationResult

MAP_HEIGHT = 520


# ------------------------------------------------------------------------------------- rendering

def render_views(outcome: RunOutcome, progress: Progress = null_progress) -> Products:
    """The run's rendered products, made once per outcome (kept in ``outcome.views``)."""
    if outcome.views is None:
        sensors = [scene.sensor for scene in outcome.scenes]
        outcome.views = render_products(get_task(outcome.request.task), outcome.result, outcome.stack,
                                        sensors=sensors, progress=progress)
    return outcome.views


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


def show_static_map(fig, *, height: int = MAP_HEIGHT) -> None:
    """Render a folium figure (e.g. a DualMap) as a plain HTML component: no reruns at all."""
    maps.use_local_assets(fig, maps.vendor_base(st.get_option("server.baseUrlPath") or ""))
    components.html(fig.get_root().render(), height=height)


def result_map(outcome: RunOutcome, layers: list[tuple[OverlayImage, str, float, bool]], *, key: str,
               height: int = MAP_HEIGHT) -> None:
    """A map fitted to the result with (overlay, name, opacity, shown) layers and the area outline."""
    bounds = layers[0][0].latlon_bounds
    fmap = maps.new_map(bounds=bounds)
    for overlay, name, opacity, show in layers:
        maps.add_overlay(fmap, overlay, name=name, opacity=opacity, show=show)
    geometry = outcome.request.geometry
    if geometry:
        maps.add_area_outline(fmap, geometry)
    maps.add_layer_control(fmap)
    maps.add_offline_notice(fmap)
    show_map(fmap, key=key, height=height)


def downloads(outcome: RunOutcome, views: Products, *, key: str) -> None:
    """Download buttons: cloud-optimised GeoTIFF, PNG and GeoJSON polygons."""
    stem = f"geofm-{outcome.request.task}"
    c1, c2, c3 = st.columns(3)
    c1.download_button("GeoTIFF (COG)", views.cog, file_name=f"{stem}.tif", mime="image/tiff",
                       key=f"{key}-cog", icon=":material/download:", width="stretch")
    c2.download_button("PNG image", views.png, file_name=f"{stem}.png", mime="image/png",
                       key=f"{key}-png", icon=":material/download:", width="stretch")
    c3.download_button("GeoJSON polygons", views.geojson, file_name=f"{stem}.geojson",
                       mime="application/geo+json", key=f"{key}-geojson", icon=":material/download:",
                       width="stretch")


def run_facts(outcome: RunOutcome) -> None:
    """Which scenes, device and times produced this result."""
    result = outcome.result
    bits = [f"model **{result.model}** on **{result.device.upper()}**"]
    if outcome.scenes:
        bits.append("scenes " + ", ".join(f"`{s.id}`" for s in outcome.scenes))
    summary = outcome.times.summary()
    if summary:
        bits.append(summary)
    if outcome.from_cache:
        bits.append("served from the cache")
    st.caption(" · ".join(bits))


def show_target(outcome: RunOutcome, task: TaskSpec, *, key: str) -> None:
    """One target class (water, burn scar) over the true colour: its area, legend, opacity, split view."""
    views = _class_views(outcome)
    target = views.target
    assert target is not None, "a target view needs the target class's summary"
    result: SegmentationResult = outcome.result  # type: ignore[assignment]
    layer = task.layer
    c1, c2, c3 = st.columns(3)
    c1.metric(task.target_label, f"{target.water_km2:.2f} km²")
    c2.metric("Share of the clear area", f"{target.water_percent:.1f} %")
    c3.metric("Clear area (no cloud, no gaps)", f"{target.clear_km2:.2f} km²")
    opacity = st.slider(f"{layer} layer opacity", 0.0, 1.0, 0.7, 0.05, key=f"{key}-opacity")
    items = [(result.class_names[k], hex_color(result.class_colors[k])) for k in range(len(result.class_names))
             if k not in task.see_through]
    items += [(f"{result.class_names[k]} (true colour shows through)", "transparent") for k in task.see_through]
    legend(items + [("Area outline", "#e8590c")], title=task.legend)
    on_map, side = f"{layer} on the map", f"Side by side: true colour | {layer.lower()}"
    view = st.segmented_control("View", [on_map, side], default=on_map, key=f"{key}-view",
                                label_visibility="collapsed")
    if view == side:
        dual = maps.dual_map(bounds=views.rgb_overlay.latlon_bounds)
        maps.add_overlay(dual.m1, views.rgb_overlay, name="True colour")
        if outcome.request.geometry:
            maps.add_area_outline(dual.m1, outcome.request.geometry)
        maps.add_overlay(dual.m2, views.rgb_overlay, name="True colour")
        maps.add_overlay(dual.m2, views.class_overlay, name=layer, opacity=opacity)
        if outcome.request.geometry:
            maps.add_area_outline(dual.m2, outcome.request.geometry)
        show_static_map(dual, height=MAP_HEIGHT)
        st.caption(f"Left: true colour. Right: the model's {layer.lower()} map. The two maps pan and zoom "
                   "together.")
    else:
        result_map(outcome, [(views.rgb_overlay, f"True colour {views.labels[-1]}", 1.0, True),
                             (views.class_overlay, layer, opacity, True)], key=f"{key}-map")
    downloads(outcome, views, key=key)
    run_facts(outcome)


def class_bar_chart(table: pd.DataFrame) -> alt.Chart:
    """Hectares per class, bars in the published class colours."""
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
    opacity = st.slider("Class layer opacity", 0.0, 1.0, 0.85, 0.05, key=f"{key}-opacity")
    table: pd.DataFrame = views.table
    legend(list(zip(table["class"], table["colour"])), title=task.legend)
    result_map(outcome, [(views.rgb_overlay, f"True colour {views.labels[-1]}", 1.0, True),
                         (views.class_overlay, task.layer, opacity, True)], key=f"{key}-map")
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
    result_map(outcome, [(views.orig_overlays[t], f"Original {views.labels[t]}", 1.0, True),
                         (views.recon_overlays[t], f"Reconstruction {views.labels[t]}", 1.0, True)],
               key=f"{key}-map")
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
