"""Where a model is out of its depth: plain notes shown next to a result."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from geofm.config import EVALUATION, MODELS, TaskSpec


def _outside_conus(bounds: tuple[float, float, float, float]) -> bool:
    w, s, e, n = bounds
    cw, cs, ce, cn = EVALUATION.conus_bbox
    return e < cw or w > ce or n < cs or s > cn


def out_of_depth(task: TaskSpec, *, bounds_lonlat: tuple[float, float, float, float] | None,
                 times: Sequence[datetime | None], invalid_share: float, shape: tuple[int, int],
                 model: str | None = None) -> list[str]:
    """Notes for ``task`` run over an area (lon/lat bounds), dates, share of cloud / no data, and grid shape."""
    spec = MODELS[model or task.model]
    notes: list[str] = []
    if task.reference_layers == ("usda-cdl",) or spec.name == "prithvi-eo-1.0-100m-multi-temporal-crop":
        if bounds_lonlat is not None and _outside_conus(bounds_lonlat):
            notes.append("The crop model was trained on the contiguous United States only; here its classes are a "
                         "guess, and the USDA reference does not exist.")
        lo, hi = EVALUATION.growing_season
        months = [t.month for t in times if t is not None]
        if months and any(not lo <= m <= hi for m in months):
            notes.append("The crop model was trained on dates from March to September; some dates here are outside "
                         "that growing season.")
    if "sen1floods11" in spec.name:  # both Sen1Floods11 fine-tunes (EO-1.0 and EO-2.0) learnt from L1C chips
        notes.append("The flood model was trained on Sentinel-2 L1C top-of-atmosphere chips; HLS is surface "
                     "reflectance, so water can be missed or over-called, most of all in dark or hazy scenes.")
    if invalid_share > EVALUATION.max_invalid_share:
        notes.append(f"{100 * invalid_share:.0f} % of the area is cloud, shadow or no data; those pixels are left "
                     "out, so the numbers describe the rest.")
    window = spec.window
    if shape[0] < window or shape[1] < window:
        notes.append(f"The area ({shape[1]}×{shape[0]} px) is smaller than one {window}×{window}-px model window; "
                     "it was padded, and the model saw little context.")
    return notes
