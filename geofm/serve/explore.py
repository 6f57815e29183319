"""The explore page: map with draw tools, place search, examples, dates, cloud cover, scenes, task."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geofm.config import DEFAULT_MAX_AOI_KM, TASKS
from geofm.data.aoi import max_aoi_km
from geofm.errors import GeofmError
from geofm.data.signing import fresh_href
from geofm.examples import EXAMPLES, Example
from geofm.render import maps
from geofm.serve import ui
from geofm.serve.geocode import geocode
from geofm.serve.runs import canonical_json
from geofm.settings import settings

PLACE_VIEW = "geofm_place_view"  # [[s, w], [n, e]] to show after a place search
LAST_DRAWING = "geofm_last_drawing_seen"
SEARCH_MSG = "geofm_search_message"
SENSORS = {"L30": "Landsat 8/9", "S30": "Sentinel-2"}


def set_area(geometry: dict | None) -> None:
    """Make ``geometry`` the session's area; scenes found for another area are dropped."""
    q = ui.query()
    if geometry is not None and canonical_json(geometry) == canonical_json(q.get("geometry")):
        return
    q["geometry"] = geometry
    q["scene_ids"] = ()
    q["example"] = None
    st.session_state.pop(ui.SCENES, None)
    st.session_state.pop(SEARCH_MSG, None)


def take_drawn_area() -> None:
    """Route the map's drawing (or a test's fed geometry) into the session's area."""
    drawn = st.session_state.pop(ui.DRAWN, None)
    if drawn is not None:
        set_area(drawn.get("geometry", drawn) if drawn.get("type") == "Feature" else drawn)


def apply_example(example: Example) -> None:
    """Area, dates, cloud cover and task of an example."""
    set_area(example.geometry)
    q = ui.query()
    q.update(start=date.fromisoformat(example.start), end=date.fromisoformat(example.end),
             max_cloud=example.max_cloud, task=example.task, example=example.key)
    for key in ("w_dates", "w_cloud"):
        st.session_state.pop(key, None)


def place_search() -> None:
    """Geocode a place name and move the map there (online only)."""
    with st.form("place-search", border=False):
        c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
        text = c1.text_input("Find a place", placeholder="e.g. Omaha, Nebraska", key="w_place")
        go = c2.form_submit_button("Search", icon=":material/search:", width="stretch")
    if go:
        try:
            place = geocode(text)
        except GeofmError as err:
            st.warning(ui.user_message(err), icon=":material/wifi_off:")
        else:
            w, s, e, n = place.bounds
            st.session_state[PLACE_VIEW] = [[s, w], [n, e]]
            st.success(f"Showing {place.name}. Draw your area there.", icon=":material/location_on:")


def examples_row() -> None:
    st.markdown("**Or start from an example**")
    cols = st.columns(len(EXAMPLES), gap="small")
    for col, example in zip(cols, EXAMPLES):
        if col.button(example.button_label, key=f"ex-{example.key}", help=f"{example.title} — {example.description}",
                      width="stretch"):
            apply_example(example)


def area_map(aoi) -> None:
    """The full-width map with rectangle/polygon tools; a new drawing becomes the area."""
    bounds = None
    if aoi is not None:
        w, s, e, n = aoi.bounds
        pad_x, pad_y = (e - w) * 0.6, (n - s) * 0.6
        bounds = [[s - pad_y, w - pad_x], [n + pad_y, e + pad_x]]
    elif st.session_state.get(PLACE_VIEW):
        bounds = st.session_state[PLACE_VIEW]
    fmap = maps.new_map(bounds=bounds, center=(39.5, -96.0), zoom=4)
    maps.add_draw_tools(fmap)
    if aoi is not None:
        maps.add_area_outline(fmap, ui.query()["geometry"])
    maps.add_layer_control(fmap)
    maps.add_offline_notice(fmap)
    maps.use_local_assets(fmap, maps.vendor_base(st.get_option("server.baseUrlPath") or ""))
    out = st_folium(fmap, key="explore-map", height=520, use_container_width=True,
                    returned_objects=["last_active_drawing"])
    drawing = (out or {}).get("last_active_drawing")
    if drawing and drawing != st.session_state.get(LAST_DRAWING):
        st.session_state[LAST_DRAWING] = drawing
        st.session_state[ui.DRAWN] = drawing.get("geometry", drawing)
        st.rerun()


def search_controls(aoi) -> None:
    """Date range, max cloud cover and the scene search."""
    q = ui.query()
    st.session_state.setdefault("w_dates", (q["start"], q["end"]))
    st.session_state.setdefault("w_cloud", int(q["max_cloud"]))
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    dates = c1.date_input("Dates", key="w_dates", min_value=date(2013, 4, 1), max_value=date.today())
    cloud = c2.slider("Max cloud cover of a scene (%)", 0, 100, key="w_cloud")
    if isinstance(dates, (tuple, list)) and len(dates) == 2:
        q["start"], q["end"] = dates
    q["max_cloud"] = float(cloud)
    if c3.button("Find scenes", icon=":material/travel_explore:", disabled=aoi is None, width="stretch",
                 key="w_find"):
        find_scenes(aoi)


def find_scenes(aoi) -> None:
    """Search HLS and measure each scene's clear fraction over the area."""
    from geofm.data import fill_clear_fractions, search_hls

    q = ui.query()
    panel = ui.ProgressPanel("Searching scenes…")
    try:
        panel("search", f"HLS scenes {ui.fmt_date(q['start'])} to {ui.fmt_date(q['end'])}", None)
        scenes = search_hls(aoi, q["start"], q["end"], max_cloud=q["max_cloud"],
                            stac_url=settings().stac_url)
        panel("read", f"cloud masks of {len(scenes)} scenes over the area", 0.0)
        fill_clear_fractions(scenes, aoi, progress=panel)
    except GeofmError as err:
        panel.failed()
        st.session_state[SEARCH_MSG] = ui.user_message(err)
        st.session_state.pop(ui.SCENES, None)
        return
    panel.status.update(label=f"Found {len(scenes)} scenes", state="complete", expanded=False)
    st.session_state.pop(SEARCH_MSG, None)
    st.session_state[ui.SCENES] = scenes
    q["scene_ids"] = ()


def scenes_table(scenes) -> pd.DataFrame:
    """Date, sensor, cloud %, clear fraction over the area and thumbnail, one row per scene."""
    return pd.DataFrame([{
        "date": s.date.isoformat(), "sensor": SENSORS.get(s.sensor, s.sensor), "tile": s.tile,
        "cloud_cover": round(float(s.cloud_cover), 1),
        "clear_percent": None if s.clear_fraction is None else round(100.0 * s.clear_fraction, 1),
        "thumbnail": fresh_href(s.thumbnail), "id": s.id,
    } for s in scenes], columns=["date", "sensor", "tile", "cloud_cover", "clear_percent", "thumbnail", "id"])


def scenes_list() -> None:
    message = st.session_state.get(SEARCH_MSG)
    if message:
        st.error(message, icon=":material/error:")
    scenes = st.session_state.get(ui.SCENES)
    if not scenes:
        return
    st.markdown(f"**{len(scenes)} scenes found.** Select rows to use those scenes; otherwise the clearest are chosen.")
    table = scenes_table(scenes)

    def on_select() -> None:  # only when the user changes the selection (not when the widget is rebuilt)
        rows = list(st.session_state["w_scenes"].selection.rows)
        ui.query()["scene_ids"] = tuple(table["id"].iloc[rows]) if rows else ()

    st.dataframe(
        table, hide_index=True, width="stretch", on_select=on_select, selection_mode="multi-row",
        key="w_scenes",
        column_config={
            "date": "Date", "sensor": "Sensor", "tile": "Tile",
            "cloud_cover": st.column_config.NumberColumn("Cloud (scene) %", format="%.0f"),
            "clear_percent": st.column_config.ProgressColumn("Clear over area", format="%.0f %%", min_value=0,
                                                             max_value=100),
            "thumbnail": st.column_config.ImageColumn("Preview"),
            "id": st.column_config.TextColumn("Scene id", width="medium"),
        })
    chosen = ui.query().get("scene_ids") or ()
    if chosen:
        st.caption(f"Using {len(chosen)} selected scene(s): " + ", ".join(f"`{i}`" for i in chosen))


def task_picker(aoi) -> None:
    st.subheader("Pick a task")
    q = ui.query()
    cols = st.columns(len(TASKS))
    for col, task in zip(cols, TASKS.values()):
        primary = q.get("task") == task.name and q.get("example") is not None
        if col.button(task.title, key=f"task-{task.name}", type="primary" if primary else "secondary",
                      icon=":material/arrow_forward:", disabled=aoi is None, width="stretch"):
            q["task"] = task.name
            st.switch_page(task.page)


def _limit_km() -> float:
    try:
        return max_aoi_km()
    except GeofmError:
        return DEFAULT_MAX_AOI_KM


def explore_page() -> None:
    """Home: choose an area, dates and scenes, then a task."""
    take_drawn_area()
    st.title("See what a geospatial foundation model sees")
    st.caption("Draw an area on the map, find Harmonized Landsat-Sentinel-2 scenes, and run NASA/IBM's Prithvi "
               "models on them: " + ", ".join(t.title.lower() for t in TASKS.values()) + ".")
    c1, c2 = st.columns([1, 2], gap="large")
    with c1:
        place_search()
    with c2:
        examples_row()
    aoi, problem = ui.area_of_query()
    st.caption(":material/draw: Draw your area with the **rectangle** (■) or **polygon** (⬟) tool at the left edge "
               "of the map; a new drawing replaces the old one. Areas up to "
               f"{_limit_km():g} × {_limit_km():g} km; a few km run in seconds.")
    area_map(aoi)
    if aoi is None and ui.query().get("geometry"):
        st.error(problem, icon=":material/error:")
    elif aoi is None:
        st.info(problem, icon=":material/draw:")
    else:
        example = ui.query().get("example")
        label = next((e.title for e in EXAMPLES if e.key == example), None)
        st.markdown((f"**{label}:** " if label else "**Your area:** ") + ui.area_caption(aoi))
    search_controls(aoi)
    scenes_list()
    task_picker(aoi)
