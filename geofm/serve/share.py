"""A link to share: the page's URL holds the state (area, dates, cloud, task, scenes, task settings).

Parameters: ``bbox`` (W,S,E,N) or ``geojson``, ``start``, ``end`` (YYYY-MM-DD), ``cloud``, ``task``, ``scenes``
(comma-separated ids), ``mask_ratio``, ``seed``, ``model``. Opening such a link (or reloading) restores them;
the task page then shows the cached result for those inputs if the server has it.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from geofm.config import TASKS
from geofm.serve import ui
from geofm.serve.runs import RunRequest

log = logging.getLogger(__name__)

READ = "geofm_link_read"  # session flag: the link was read once for this session
PARAMS = ("bbox", "geojson", "start", "end", "cloud", "task", "scenes", "mask_ratio", "seed", "model")


def box_geometry(w: float, s: float, e: float, n: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _bbox_of(geometry: dict) -> list[float] | None:
    """W,S,E,N when ``geometry`` is an axis-aligned rectangle (then ``bbox`` is enough), else None."""
    if geometry.get("type") != "Polygon" or len(geometry.get("coordinates", [])) != 1:
        return None
    ring = [tuple(p[:2]) for p in geometry["coordinates"][0]]
    if len(ring) != 5 or ring[0] != ring[-1]:
        return None
    xs, ys = {p[0] for p in ring}, {p[1] for p in ring}
    if len(xs) != 2 or len(ys) != 2:
        return None
    w, e, s, n = min(xs), max(xs), min(ys), max(ys)
    return [w, s, e, n] if ring[0] == (w, s) else None


def _round(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def link_params(page: str | None = None, request: RunRequest | None = None) -> dict[str, str]:
    """The session's state as URL parameters (``page``: the task of a task page, if any)."""
    q = ui.query()
    params: dict[str, str] = {}
    geometry = q.get("geometry")
    if geometry:
        bbox = _bbox_of(geometry)
        if bbox is not None:
            params["bbox"] = ",".join(_round(v) for v in bbox)
        else:
            params["geojson"] = json.dumps(geometry, separators=(",", ":"))
    params["start"], params["end"] = ui.fmt_date(q["start"]), ui.fmt_date(q["end"])
    params["cloud"] = f"{float(q['max_cloud']):g}"
    if page:  # a task page's link opens that page; the Explore page's link opens Explore
        params["task"] = page
    if q.get("scene_ids"):
        params["scenes"] = ",".join(q["scene_ids"])
    if request is not None and TASKS[request.task].masking:
        params["mask_ratio"] = f"{request.mask_ratio:g}"
        params["seed"] = str(request.seed)
        if request.model:
            params["model"] = request.model
    return params


def write_link(page: str | None = None, request: RunRequest | None = None) -> None:
    """Put the state in the address bar (no rerun) and offer a "Copy link" button."""
    params = link_params(page, request)
    current = {k: st.query_params.get(k) for k in PARAMS if st.query_params.get(k) is not None}
    if current != params:
        st.query_params.from_dict(params)
    base = (getattr(st.context, "url", None) or "").split("?")[0]
    with st.popover("Copy link", icon=":material/link:"):
        st.caption("Anyone with this link sees this area, these dates and settings (and the result, "
                   "if it is still in the server's cache). Copy it with the button at the right.")
        st.code(f"{base}?{urlencode(params)}", language=None, wrap_lines=True)


def _date(text: str) -> date:
    return date.fromisoformat(text.strip())


def read_link() -> str | None:
    """Restore the state from the URL once per session (an opened link or a reload).

    Returns the link's task when this run read a link that names one (the app then opens that task's page),
    else None.
    """
    if st.session_state.get(READ):
        return None
    st.session_state[READ] = True
    params = {k: st.query_params.get(k) for k in PARAMS if st.query_params.get(k)}
    if not params:
        return None
    try:
        restore(params)
    except (ValueError, KeyError, TypeError) as err:  # a hand-edited link: keep what parsed, say so
        log.info("link parameters not understood: %s (%s)", params, err)
        st.warning("Part of this link could not be read; the rest is restored.", icon=":material/link_off:")
    task = params.get("task")
    return task if task in TASKS and ui.query().get("geometry") else None


def restore(params: dict[str, Any]) -> None:
    """Set the session's query (and the task settings' widgets) from link parameters."""
    q = ui.query()
    if "bbox" in params:
        w, s, e, n = (float(v) for v in str(params["bbox"]).split(","))
        q["geometry"] = box_geometry(w, s, e, n)
    elif "geojson" in params:
        q["geometry"] = json.loads(params["geojson"])
    if "start" in params:
        q["start"] = _date(params["start"])
    if "end" in params:
        q["end"] = _date(params["end"])
    if "cloud" in params:
        q["max_cloud"] = float(params["cloud"])
    if params.get("task") in TASKS:
        q["task"] = params["task"]
    if "scenes" in params:
        q["scene_ids"] = tuple(i for i in str(params["scenes"]).split(",") if i)
    for key in ("w_dates", "w_cloud"):
        st.session_state.pop(key, None)
    task = q.get("task")
    if task in TASKS and TASKS[task].masking:
        if "mask_ratio" in params:
            st.session_state[f"{task}-ratio"] = float(params["mask_ratio"])
        if "seed" in params:
            st.session_state[f"{task}-seed"] = int(params["seed"])
        if "model" in params:
            st.session_state[f"{task}-model"] = str(params["model"])
