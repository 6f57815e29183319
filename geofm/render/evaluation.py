"""An Evaluation rendered for a front end: map overlays, the confusion matrix as a long table, a zip download."""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from geofm.evaluate.evaluation import EvalLayer, Evaluation
from geofm.evaluate.export import write_evaluation
from geofm.evaluate.provenance import Provenance
from geofm.render.preview import colorize_classes
from geofm.render.webmerc import OverlayImage, reproject_rgba_to_mercator

#: Heat maps: light yellow (small error) to dark red (the largest), over the 2nd..98th percentile.
HEAT_LOW, HEAT_HIGH = np.array([255, 240, 160]), np.array([160, 0, 30])


def heat_rgba(values: np.ndarray) -> np.ndarray:
    """(H, W) float, NaN = none -> (H, W, 4) RGBA."""
    finite = np.isfinite(values)
    out = np.zeros((*values.shape, 4), np.uint8)
    if not finite.any():
        return out
    lo, hi = np.percentile(values[finite], [2, 98])
    t = np.clip((np.where(finite, values, lo) - lo) / max(hi - lo, 1e-9), 0, 1)[..., None]
    out[..., :3] = (HEAT_LOW * (1 - t) + HEAT_HIGH * t).astype(np.uint8)
    out[..., 3] = np.where(finite, 255, 0)
    return out


def layer_rgba(layer: EvalLayer) -> np.ndarray:
    """A layer in its colours; see-through classes and no data transparent."""
    if not layer.classes:
        return heat_rgba(layer.data)
    rgba = colorize_classes(layer.data, [c.color for c in layer.classes])
    if layer.see_through:
        rgba = rgba.copy()
        rgba[np.isin(layer.data, layer.see_through), 3] = 0
    return rgba


def layer_overlays(ev: Evaluation) -> list[tuple[EvalLayer, OverlayImage]]:
    """Every layer of ``ev`` in web mercator."""
    return [(layer, reproject_rgba_to_mercator(layer_rgba(layer), ev.crs, ev.transform)) for layer in ev.layers]


def confusion_table(ev: Evaluation) -> pd.DataFrame:
    """Long form of the confusion matrix: reference, model, pixels, share of the reference class."""
    if ev.confusion is None:
        return pd.DataFrame(columns=["reference", "model", "pixels", "share"])
    m = ev.confusion
    rows = m.sum(axis=1, keepdims=True)
    share = np.where(rows > 0, m / np.maximum(rows, 1), 0.0)
    names = list(ev.class_names)
    return pd.DataFrame([{"reference": names[i], "model": names[j], "pixels": int(m[i, j]),
                          "share": float(share[i, j])} for i in range(len(names)) for j in range(len(names))])


def confusion_cells(ev: Evaluation) -> pd.DataFrame:
    """The confusion matrix to read at a glance: only the classes the model or the reference found here, each
    cell's share of its reference class (row) as a whole percent ("" for an empty cell, "<1" for a trace), and
    the pixel counts for a tooltip."""
    table = confusion_table(ev)
    if table.empty or ev.confusion is None:
        return table.assign(label=pd.Series(dtype=str))
    m = ev.confusion
    present = [name for k, name in enumerate(ev.class_names) if m[k, :].sum() or m[:, k].sum()]
    table = table[table["reference"].isin(present) & table["model"].isin(present)].copy()
    pct = 100 * table["share"]
    table["label"] = [("" if n == 0 else "<1" if p < 0.5 else f"{p:.0f}") for n, p in zip(table["pixels"], pct)]
    table["percent"] = pct.round(1)
    return table.reset_index(drop=True)


def short_names(names: Sequence[str]) -> dict[str, str]:
    """A short code for each class name, unique among ``names``, for a matrix's axes on a narrow screen (with a
    key beside it): the initials of a name of several words ("Open Water" -> "OW"), else its first two letters
    ("Corn" -> "Co"); on a clash the first letter and a later one ("Cotton" -> "Ct")."""
    codes: dict[str, str] = {}
    for name in names:
        words = [w for w in re.split(r"[\s/-]+", name) if w]
        first = name[:1].upper()
        later = [c.lower() for c in "".join(words)[1:] if c.isalnum()]
        candidates = ["".join(w[0].upper() for w in words)] if len(words) > 1 else []
        candidates += [first + c for c in later] + [f"{first}{k}" for k in range(2, len(names) + 2)]
        codes[name] = next(c for c in candidates if c not in codes.values())
    return codes


#: The per-class table's columns as the page shows them: (key in Evaluation.table, header, number format).
CLASS_TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("class", "Class", ""),
    ("f1", "F1", "{:.2f}"),
    ("precision", "Precision", "{:.2f}"),
    ("recall", "Recall", "{:.2f}"),
    ("model_km2", "Model area (km²)", "{:.2f}"),
    ("reference_km2", "Reference area (km²)", "{:.2f}"),
)
#: Shown for a score that is not defined (0 out of 0: the class is in neither map here).
UNDEFINED = "—"


def class_table(ev: Evaluation) -> pd.DataFrame:
    """The per-class scores and areas with readable headers and units, as text: scores that are not defined
    (the class is absent from the reference or the model here) read "—"."""
    rows = []
    for row in ev.table:
        out = {}
        for key, header, fmt in CLASS_TABLE_COLUMNS:
            value = row.get(key)
            if not fmt:
                out[header] = str(value)
            elif value is None or (isinstance(value, float) and value != value):
                out[header] = UNDEFINED
            else:
                out[header] = fmt.format(float(value))
        rows.append(out)
    return pd.DataFrame(rows, columns=[header for _, header, _ in CLASS_TABLE_COLUMNS])


#: The reconstruction's per-band table as the page shows it: (key in Evaluation.table, header); errors in DN.
BAND_TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("band", "Band"),
    ("model_rmse", "RMSE, model"),
    ("baseline_rmse", "RMSE, neighbour fill"),
    ("model_mae", "Mean abs. error, model"),
    ("baseline_mae", "Mean abs. error, neighbour fill"),
)


def band_table(ev: Evaluation) -> pd.DataFrame:
    """The reconstruction's errors per band with readable headers, as whole DN (the page's heading says the
    unit); a missing value reads "—"."""
    rows = []
    for row in ev.table:
        out = {}
        for key, header in BAND_TABLE_COLUMNS:
            value = row.get(key)
            if key == "band":
                out[header] = str(value)
            elif value is None or (isinstance(value, float) and value != value):
                out[header] = UNDEFINED
            else:
                out[header] = f"{float(value):,.0f}"
        rows.append(out)
    return pd.DataFrame(rows, columns=[header for _, header in BAND_TABLE_COLUMNS])


def evaluation_zip(ev: Evaluation, prov: Provenance, stem: str = "geofm") -> bytes:
    """The layers as COGs (provenance tags), their STAC Items and the metrics JSON, zipped."""

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_evaluation(ev, Path(tmp) / f"{stem}.tif", prov)
        items = [p.with_name(p.stem + ".item.json") for p in paths if p.suffix == ".tif"]
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in paths + items:
                zf.write(p, p.name)
    return buffer.getvalue()
