"""Which model got it right? Two models' class maps of the same area and scenes, compared with each other.

The model-agreement layer marks the task's target class (water, burn scar) found by both models, by only the
first, by only the second, or by neither; IoU and areas come from the same pixel counts. Pixels that are no data
in either map are left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geofm.config import CLASS_NODATA, MODELS, ClassInfo, get_task
from geofm.errors import InputError
from geofm.evaluate import metrics
from geofm.evaluate.evaluation import EvalLayer, Evaluation
from geofm.stack import SegmentationResult


def short_name(model: str) -> str:
    """"EO-1.0" / "EO-2.0" ... from a registry name, for legends ("Only EO-2.0")."""
    parts = model.split("-")
    return f"EO-{parts[2]}" if len(parts) > 2 and parts[0] == "prithvi" and parts[1] == "eo" else model


def model_agreement_classes(a: str, b: str) -> tuple[ClassInfo, ...]:
    """Classes of the model-agreement layer (0 neither, 1 only ``a``, 2 only ``b``, 3 both)."""
    sa, sb = short_name(a), short_name(b)
    if sa == sb:
        sa, sb = a, b
    return (ClassInfo("Neither", (235, 235, 225)), ClassInfo(f"Only {sa}", (240, 140, 20)),
            ClassInfo(f"Only {sb}", (150, 60, 200)), ClassInfo("Both", (30, 100, 220)))


def compare_models(task: str, a: SegmentationResult, b: SegmentationResult) -> Evaluation:
    """Model-agreement layer and figures of two class maps of ``task`` on the same grid."""
    spec = get_task(task)
    if a.classes.shape != b.classes.shape or not a.transform.almost_equals(b.transform) or a.crs != b.crs:
        raise InputError("The two models' maps are not on the same grid; run both on the same area and scenes.")
    valid = (a.classes != CLASS_NODATA) & (b.classes != CLASS_NODATA)
    px = metrics.pixel_area_km2(a.transform.a, a.transform.e)
    layer, sc = metrics.binary_agreement(a.classes == spec.target_class, b.classes == spec.target_class, valid, px)
    target = spec.target_label.lower() or "target class"
    m: dict[str, Any] = {
        "iou": sc.iou, "agreement_share": metrics._ratio(sc.both + sc.neither, sc.compared),
        "a_km2": sc.model_km2, "b_km2": sc.reference_km2, "both_km2": sc.both_km2,
        "only_a_km2": sc.model_only * px, "only_b_km2": sc.reference_only * px, "neither_km2": sc.neither * px,
        "pixels": {"both": sc.both, "only_a": sc.model_only, "only_b": sc.reference_only, "neither": sc.neither,
                   "not_compared": int((~valid).sum())},
        "pixel_km2": px,
    }
    title = f"{MODELS[a.model].title} vs {MODELS[b.model].title}"
    return Evaluation(task=spec.name, reference=title, metrics=m, crs=a.crs, transform=a.transform,
                      layers=[EvalLayer("model-agreement", f"Model agreement ({target})", layer,
                                        model_agreement_classes(a.model, b.model), see_through=(0,))],
                      meaning=f"{target} of {a.model} (A) and {b.model} (B) on the same scenes")


def model_figures(ev: Evaluation) -> dict[str, float]:
    """A reference comparison's figures kept per model in compare.json."""
    keys = ("iou", "precision", "recall", "f1", "model_km2", "reference_km2", "both_km2", "compared_pixels")
    return {k: ev.metrics[k] for k in keys if k in ev.metrics}


def pixel_counts(a: np.ndarray, b: np.ndarray, target: int) -> dict[str, int]:
    """Both / only A / only B / neither counts of two class maps (no data 255 in either: left out)."""
    valid = (a != CLASS_NODATA) & (b != CLASS_NODATA)
    ta, tb = (a == target) & valid, (b == target) & valid
    return {"both": int((ta & tb).sum()), "only_a": int((ta & ~tb).sum()), "only_b": int((~ta & tb).sum()),
            "neither": int((valid & ~ta & ~tb).sum())}
