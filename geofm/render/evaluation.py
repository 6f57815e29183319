"""An Evaluation rendered for a front end: map overlays, the confusion matrix as a long table, a zip download."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from geofm.evaluate.evaluation import EvalLayer, Evaluation
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


def evaluation_zip(ev: Evaluation, prov: Provenance, stem: str = "geofm") -> bytes:
    """The layers as COGs (provenance tags), their STAC Items and the metrics JSON, zipped."""
    from geofm.evaluate.export import write_evaluation

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_evaluation(ev, Path(tmp) / f"{stem}.tif", prov)
        items = [p.with_name(p.stem + ".item.json") for p in paths if p.suffix == ".tif"]
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in paths + items:
                zf.write(p, p.name)
    return buffer.getvalue()
