"""A link to share: the page's URL holds the state (area, dates, cloud, task, scenes, task settings).

Parameters: ``bbox`` (W,S,E,N) or ``geojson``, ``start``, ``end`` (YYYY-MM-DD), ``cloud``, ``task``, ``scenes``
(comma-separated ids), ``mask_ratio``, ``seed``, ``model``. Opening such a link (or reloading) restores them;
the task page then shows the cached result for those inputs if the server has it.

A link is a stranger's input: :func:`parse_link` checks every parameter in one place before any widget sees
it (ranges from ``geofm.config.CONTROLS``, GeoJSON size and nesting from ``GEOJSON_LIMITS``).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from geofm.config import CONTROLS, MODELS, TASKS
from geofm.data.aoi import AOI, parse_geojson
from geofm.errors import AOIError
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
                   "if it is still in the server's cache). Copy it with the button at its top right.")
        st.code(f"{base}?{urlencode(params)}", language=None, wrap_lines=True)


@dataclass(frozen=True)
class LinkState:
    """A link's parameters, each checked: None where the link has no usable value for it."""

    geometry: dict | None = None
    start: date | None = None
    end: date | None = None
    max_cloud: float | None = None
    task: str | None = None
    scene_ids: tuple[str, ...] | None = None
    mask_ratio: float | None = None
    seed: int | None = None
    model: str | None = None
    problems: tuple[str, ...] = ()  # what could not be read (or was brought into range), for the visitor


_SCENE_ID = re.compile(r"[A-Za-z0-9._-]+")
_NUMBER_CHARS = 40  # longer "numbers" are not read at all


def _number(text: str, what: str) -> float:
    text = text.strip()
    if len(text) > _NUMBER_CHARS:
        raise ValueError(f"{what} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{what} is not a finite number")
    return value


def _clamped(value: float, low: float, high: float, what: str, problems: list[str]) -> float:
    if value < low or value > high:
        used = min(max(value, low), high)
        problems.append(f"{what} {_fmt(value)} is outside {_fmt(low)}–{_fmt(high)}; {_fmt(used)} is used")
        return used
    return value


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def _geometry(params: dict[str, str]) -> dict:
    """The link's area (``bbox`` first, else ``geojson``) as a GeoJSON geometry: AOIError when it is no area."""

    if "bbox" in params:
        parts = str(params["bbox"]).split(",")
        if len(parts) != 4:
            raise AOIError("The box must be four numbers: W,S,E,N.")
        try:
            w, s, e, n = (_number(v, "the box") for v in parts)
        except ValueError:
            raise AOIError("The box must be four numbers: W,S,E,N.") from None
        AOI.from_bbox(w, s, e, n, max_km=math.inf)  # the page says so if it is over the size limit
        return box_geometry(w, s, e, n)
    obj = parse_geojson(params["geojson"])
    if isinstance(obj, dict) and obj.get("type") == "FeatureCollection" and isinstance(obj.get("features"), list) \
            and len(obj["features"]) == 1:
        obj = obj["features"][0]
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if not isinstance(obj, dict):
        raise AOIError("The area must be one GeoJSON Polygon or MultiPolygon.")
    AOI.from_geojson(obj, max_km=math.inf)
    return {"type": obj["type"], "coordinates": obj["coordinates"]}  # no properties, no foreign members


def _dates(params: dict[str, str], problems: list[str]) -> tuple[date | None, date | None]:
    first, last = date.fromisoformat(CONTROLS.first_date), date.today()
    found: dict[str, date | None] = {}
    for key in ("start", "end"):
        found[key] = None
        if key not in params:
            continue
        text = str(params[key]).strip()
        try:
            day = date.fromisoformat(text) if len(text) <= 10 else None
        except ValueError:
            day = None
        if day is None:
            problems.append(f"the {key} date {text[:20]!r} is not a date (YYYY-MM-DD)")
        elif not first <= day <= last:
            problems.append(f"the {key} date {day} is outside {first}–{last}")
        else:
            found[key] = day
    if found["start"] and found["end"] and found["start"] > found["end"]:
        problems.append(f"the start date {found['start']} is after the end date {found['end']}")
        return None, None
    return found["start"], found["end"]


def _masking_models() -> set[str]:
    kinds = {task.model_kind for task in TASKS.values() if task.masking}
    return {name for name, spec in MODELS.items() if spec.kind in kinds}


def parse_link(params: dict[str, str]) -> LinkState:
    """Every parameter of a link checked in this one place, before any widget sees it; never raises.

    Numbers out of the controls' ranges are brought into range, anything else unusable is dropped; each is
    listed in ``problems`` (in words for the visitor).
    """
    problems: list[str] = []
    fields: dict[str, Any] = {}

    def read(name: str, what: str, parse: Callable[[], Any]) -> None:
        try:
            fields[name] = parse()
        except AOIError as err:
            problems.append(f"the area: {err.user_message()}")
        except Exception as err:  # a stranger's link: whatever it holds, the page never shows an exception
            log.info("link parameter %s not understood: %s", name, err)
            problems.append(f"the {what} is not a number in range")

    if "bbox" in params or "geojson" in params:
        read("geometry", "area", lambda: _geometry(params))
    start, end = _dates(params, problems)
    fields.update(start=start, end=end)
    if "cloud" in params:
        low, high = CONTROLS.cloud
        read("max_cloud", "cloud cover",
             lambda: _clamped(_number(str(params["cloud"]), "cloud"), low, high, "cloud cover", problems))
    if "task" in params:
        if params["task"] in TASKS:
            fields["task"] = str(params["task"])
        else:
            problems.append(f"there is no task {str(params['task'])[:30]!r}")
    if "scenes" in params:
        ids = [i.strip() for i in str(params["scenes"]).split(",") if i.strip()]
        good = [i for i in ids if len(i) <= CONTROLS.scene_id_chars and _SCENE_ID.fullmatch(i)]
        if len(good) < len(ids):
            problems.append(f"{len(ids) - len(good)} scene id(s) are not scene ids")
        if len(good) > CONTROLS.link_scenes:
            problems.append(f"{len(good)} scenes named; the first {CONTROLS.link_scenes} are used")
            good = good[:CONTROLS.link_scenes]
        fields["scene_ids"] = tuple(good)
    if "mask_ratio" in params:
        def ratio() -> float:
            low, high = CONTROLS.mask_ratio
            value = _clamped(_number(str(params["mask_ratio"]), "mask ratio"), low, high, "mask ratio", problems)
            step = CONTROLS.mask_ratio_step
            return round(low + round((value - low) / step) * step, 4)  # on the slider's steps
        read("mask_ratio", "mask ratio", ratio)
    if "seed" in params:
        def seed() -> int:
            text = str(params["seed"]).strip()
            if len(text) > _NUMBER_CHARS:
                raise ValueError("seed too long")
            return int(_clamped(int(text), 0, CONTROLS.seed_max, "seed", problems))
        read("seed", "seed", seed)
    if "model" in params:
        if params["model"] in _masking_models():
            fields["model"] = str(params["model"])
        else:
            problems.append(f"there is no model {str(params['model'])[:30]!r}")
    return LinkState(**fields, problems=tuple(problems))

#: Session-state key: the notice about the link just read, shown by the page it opens.
NOTICE = "geofm_link_notice"


def read_link() -> str | None:
    """Restore the state from the URL once per session (an opened link or a reload).

    Returns the link's task when this run read a link that names one (the app then opens that task's page),
    else None.
    """
    if st.session_state.get(READ):
        return None
    st.session_state[READ] = True
    params = {k: str(st.query_params.get(k)) for k in PARAMS if st.query_params.get(k)}
    if not params:
        return None
    link = parse_link(params)
    restore(link)
    if link.problems:  # a hand-edited or damaged link: keep what parsed, say what did not (on the page shown)
        log.info("link parameters not understood: %s", "; ".join(link.problems))
        st.session_state[NOTICE] = (f"Part of this link could not be read ({'; '.join(link.problems)}); "
                                    "the rest is restored.")
    return link.task if link.task in TASKS and ui.query().get("geometry") else None


def show_link_notice() -> None:
    """The notice about a link's unreadable parts, once, on the page the link opened (after any page switch)."""
    text = st.session_state.pop(NOTICE, None)
    if text:
        st.warning(text, icon=":material/link_off:")


def restore(link: LinkState) -> None:
    """Set the session's query (and the task settings' widgets) from a checked link."""
    q = ui.query()
    if link.geometry is not None:
        q["geometry"] = link.geometry
    if link.start is not None:
        q["start"] = link.start
    if link.end is not None:
        q["end"] = link.end
    if link.max_cloud is not None:
        q["max_cloud"] = link.max_cloud
    if link.task is not None:
        q["task"] = link.task
    if link.scene_ids is not None:
        q["scene_ids"] = link.scene_ids
    for key in ("w_dates", "w_cloud"):
        st.session_state.pop(key, None)
    task = q.get("task")
    if task in TASKS and TASKS[task].masking:
        if link.mask_ratio is not None:
            st.session_state[f"{task}-ratio"] = link.mask_ratio
        if link.seed is not None:
            st.session_state[f"{task}-seed"] = link.seed
        if link.model is not None:
            st.session_state[f"{task}-model"] = link.model
