"""The explore page: map with draw tools, place search, examples, dates, cloud cover, scenes, task."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geofm.config import CONTROLS, DEFAULT_MAX_AOI_KM, TASKS
from geofm.data import fill_clear_fractions, search_hls
from geofm.data.aoi import max_aoi_km
from geofm.data.select import day_frames
from geofm.errors import GeofmError
from geofm.data.signing import fresh_href
from geofm.examples import EXAMPLES, Example
from geofm.render import maps
from geofm.serve import ui
from geofm.serve.geocode import geocode, parse_coordinates
from geofm.serve.share import box_geometry, read_link, show_link_notice, write_link
from geofm.serve.runs import canonical_json
from geofm.settings import settings

if TYPE_CHECKING:
    import altair as alt

PLACE_VIEW = "geofm_place_view"  # [[s, w], [n, e]] to show after a place search
LAST_DRAWING = "geofm_last_drawing_seen"
SEARCH_MSG = "geofm_search_message"
#: Set by the "Find scenes" click, cleared when the search ends: a page run that another event (a map value, a
#: widget change) cuts short resumes the search in the next run instead of losing the click.
PENDING_SEARCH = "geofm_search_pending"
#: Set when the search is asked for by a link that names scenes: the search keeps that selection.
KEEP_SELECTION = "geofm_search_keeps_selection"
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
    st.session_state.pop(PENDING_SEARCH, None)  # a search asked for the old area is not run for the new one


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
    """Find a place: typed coordinates, a typed box, or a place name (geocoder, online only)."""
    with st.form("place-search", border=False):
        c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
        text = c1.text_input("Find a place", placeholder="a place, 'lat, lon' or a box 'W S E N'", key="w_place",
                             help="A place name needs internet access; coordinates always work: "
                                  "`41.30, -95.92` (latitude, longitude) or `-95.93 41.29 -95.90 41.31` "
                                  "(west south east north) to use that box as your area.")
        go = ui.pressed(c2.form_submit_button, "Search", key="w_place_go", icon=":material/search:", width="stretch")
    if go:
        go_to_place(text)


def go_to_place(text: str) -> None:
    """Typed coordinates (a point: show it; a box: it becomes the area) or a place name through the geocoder."""
    typed = None
    try:
        typed = parse_coordinates(text)
        place = typed or geocode(text)
    except GeofmError as err:
        st.warning(ui.user_message(err), icon=":material/wrong_location:" if typed is None else ":material/error:")
        return
    w, s, e, n = place.bounds
    st.session_state[PLACE_VIEW] = [[s, w], [n, e]]
    if typed is not None and place.name.startswith("box"):
        set_area(box_geometry(w, s, e, n))
        st.success(f"Your area is the {place.name}.", icon=":material/crop_square:")
    else:
        st.success(f"Showing {place.name}. Draw your area there.", icon=":material/location_on:")


def examples_row() -> None:
    st.markdown("**Or start from an example**")
    cols = st.columns(len(EXAMPLES), gap="small")
    for col, example in zip(cols, EXAMPLES):
        col.button(example.button_label, key=f"ex-{example.key}", help=f"{example.title} — {example.description}",
                   width="stretch", on_click=apply_example, args=(example,))  # before the map is drawn


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


def ask_for_search() -> None:
    """The "Find scenes" click, kept as state until the search ends (see ``PENDING_SEARCH``)."""
    st.session_state[PENDING_SEARCH] = True


def search_controls(aoi) -> None:
    """Date range, max cloud cover and the scene search."""
    q = ui.query()
    st.session_state.setdefault("w_dates", (q["start"], q["end"]))
    st.session_state.setdefault("w_cloud", int(q["max_cloud"]))
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    dates = c1.date_input("Dates", key="w_dates", min_value=date.fromisoformat(CONTROLS.first_date),
                          max_value=date.today())
    cloud = c2.slider("Max cloud cover of a scene (%)", int(CONTROLS.cloud[0]), int(CONTROLS.cloud[1]), key="w_cloud")
    if isinstance(dates, (tuple, list)) and len(dates) == 2:
        q["start"], q["end"] = dates
    q["max_cloud"] = float(cloud)
    c3.button("Find scenes", icon=":material/travel_explore:", disabled=aoi is None, width="stretch",
              key="w_find", on_click=ask_for_search)
    if st.session_state.get(PENDING_SEARCH) and aoi is not None:
        try:
            find_scenes(aoi)
        except Exception:  # a bug, not a cut-short run (Streamlit's rerun and stop are BaseExceptions): no retry
            st.session_state.pop(PENDING_SEARCH, None)
            raise
        st.session_state.pop(PENDING_SEARCH, None)


def find_scenes(aoi) -> None:
    """Search HLS and measure each scene's clear fraction over the area."""

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
    days = day_frames(scenes, aoi)
    panel.status.update(label=f"Found {len(days)} dates ({len(scenes)} scenes)", state="complete", expanded=False)
    st.session_state.pop(SEARCH_MSG, None)
    st.session_state[ui.SCENES] = days
    if st.session_state.pop(KEEP_SELECTION, False):  # a link's scenes: keep those the search found
        found = {s.id for s in scenes}
        q["scene_ids"] = tuple(i for i in q.get("scene_ids") or () if i in found)
    else:
        q["scene_ids"] = ()


def scenes_table(days) -> pd.DataFrame:
    """One row per date and sensor (the mosaic of that day's tiles over the area): its clear share of the area,
    sensor, the largest scene cloud cover, a thumbnail and the scene ids."""
    rows = []
    for frame, clear in days:
        best = max(frame, key=lambda s: (s.clear_fraction or 0.0, s.id))
        rows.append({
            "date": frame[0].date.isoformat(), "sensor": SENSORS.get(frame[0].sensor, frame[0].sensor),
            "clear_percent": round(100.0 * clear, 1),
            "cloud_cover": round(max(float(s.cloud_cover) for s in frame), 1),
            "thumbnail": fresh_href(best.thumbnail), "tiles": ", ".join(sorted({s.tile for s in frame})),
            "ids": ", ".join(s.id for s in frame),
        })
    return pd.DataFrame(rows, columns=["date", "sensor", "clear_percent", "cloud_cover", "thumbnail", "tiles",
                                       "ids"])


def timeline(table: pd.DataFrame) -> alt.Chart:
    """Clear share of the area per date, one point per date and sensor; clicking a point selects that date."""
    import altair as alt  # lazy: altair (imported when a chart is drawn: 0.3 s off the app's cold start)

    pick = alt.selection_point(name="pick", fields=["date"], on="click")
    return alt.Chart(table).mark_circle(size=90).encode(
        x=alt.X("date:T", title=None),
        y=alt.Y("clear_percent:Q", title="Clear over the area (%)", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("sensor:N", title="Sensor", scale=alt.Scale(domain=list(SENSORS.values()),
                                                                     range=["#e8590c", "#1f6feb"])),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
        tooltip=["date", "sensor", "clear_percent", "ids"],
    ).add_params(pick).properties(height=170)


def _ids_of_dates(table: pd.DataFrame, dates: list[str]) -> tuple[str, ...]:
    rows = table[table["date"].isin(dates)]
    return tuple(i for ids in rows["ids"] for i in ids.split(", "))


def scenes_list() -> None:
    message = st.session_state.get(SEARCH_MSG)
    if message:
        st.error(message, icon=":material/error:")
    days = st.session_state.get(ui.SCENES)
    if not days:
        return
    n_scenes = sum(len(frame) for frame, _ in days)
    st.markdown(f"**{len(days)} dates found** ({n_scenes} scenes). Pick a date on the timeline or select rows "
                "to use those dates; otherwise the clearest are chosen.")
    table = scenes_table(days)

    def on_pick() -> None:  # a click on the timeline: that date's scenes
        picked = st.session_state["w_timeline"].selection.get("pick") or []
        dates = [str(p["date"])[:10] if not isinstance(p["date"], (int, float)) else
                 date.fromtimestamp(p["date"] / 1000).isoformat() for p in picked if "date" in p]
        if dates:
            ui.query()["scene_ids"] = _ids_of_dates(table, dates)

    st.altair_chart(timeline(table), width="stretch", on_select=on_pick, key="w_timeline")

    chosen = tuple(ui.query().get("scene_ids") or ())
    chosen_rows = [i for i, ids in enumerate(table["ids"]) if set(ids.split(", ")) & set(chosen)]
    # The table's key follows the selection, so a selection made elsewhere (a timeline pick, a link) is drawn
    # ticked: Streamlit applies ``selection_default`` when a table first appears under a key.
    key = "w_scenes-" + hashlib.sha1(",".join(chosen).encode()).hexdigest()[:10]

    def on_select() -> None:  # only when the user changes the selection (not when the widget is rebuilt)
        rows = list(st.session_state[key].selection.rows)
        ui.query()["scene_ids"] = _ids_of_dates(table, list(table["date"].iloc[rows])) if rows else ()

    st.dataframe(
        table, hide_index=True, width="stretch", on_select=on_select, selection_mode="multi-row",
        key=key, selection_default={"selection": {"rows": chosen_rows}} if chosen_rows else None,
        column_config={
            "date": "Date", "sensor": "Sensor", "tiles": "Tiles",
            "cloud_cover": st.column_config.NumberColumn("Cloud (scene) %", format="%.0f",
                                                         help="The scene's own cloud cover (whole tile)"),
            "clear_percent": st.column_config.ProgressColumn("Clear over your area", format="%.0f %%",
                                                             min_value=0, max_value=100),
            "thumbnail": st.column_config.ImageColumn("Preview"),
            "ids": st.column_config.TextColumn("Scene ids", width="large"),
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
        if ui.pressed(col.button, task.title, key=f"task-{task.name}", type="primary" if primary else "secondary",
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
    read_link()
    show_link_notice()
    take_drawn_area()
    st.title("See what a geospatial foundation model sees")
    st.caption("Draw an area on the map, find Harmonized Landsat-Sentinel-2 scenes, and run NASA/IBM's Prithvi "
               "models on them: " + ", ".join(t.title.lower() for t in TASKS.values()) + ".")
    place_search()
    aoi, problem = ui.area_of_query()
    area_map(aoi)
    st.caption(":material/draw: Draw your area with the **rectangle** (■) or **polygon** (⬟) tool at the left edge "
               "of the map; a new drawing replaces the old one. Areas up to "
               f"{_limit_km():g} × {_limit_km():g} km; a few km run in seconds.")
    examples_row()
    if aoi is None and ui.query().get("geometry"):
        st.error(problem, icon=":material/error:")
    elif aoi is None:
        st.info(problem, icon=":material/draw:")
    else:
        example = ui.query().get("example")
        label = next((e.title for e in EXAMPLES if e.key == example), None)
        st.markdown((f"**{label}:** " if label else "**Your area:** ") + ui.area_caption(aoi))
    q = ui.query()
    if (aoi is not None and q.get("scene_ids") and not st.session_state.get(ui.SCENES)
            and not st.session_state.get(SEARCH_MSG)):  # scenes named by a link: show them in the table
        st.session_state[PENDING_SEARCH] = st.session_state[KEEP_SELECTION] = True
    search_controls(aoi)
    scenes_list()
    task_picker(aoi)
    write_link()
