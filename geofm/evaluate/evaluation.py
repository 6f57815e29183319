"""Did the model get it right? Compare a result with a reference and make the agreement products."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from geofm.config import (AGREEMENT_CLASSES, BAND_LABELS, CLASS_NODATA, DISAGREEMENT_CLASSES, NEW_WATER_CLASSES,
                          REFERENCE_LAYERS, REFERENCE_WATER_CLASSES, WATER_CHANGE_CLASSES, ClassInfo, TaskSpec,
                          get_model_spec, get_task)
from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.errors import GeofmError, InputError
from geofm.evaluate.metrics import (binary_agreement, new_water, pixel_area_km2,  # not from the package: its
                                    water_change)  # __init__ imports this module (two threads would deadlock)
from geofm.evaluate.metrics import confusion as confusion_matrix
from geofm.evaluate.recon import neighbour_baseline, patch_error_map
from geofm.evaluate.recon import scores as recon_scores
from geofm.evaluate.notes import out_of_depth
from geofm.evaluate.reference import (ReferenceRead, crop_classes, read_reference, read_reference_file,
                                      water_mask)
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

log = logging.getLogger(__name__)


@dataclass
class EvalLayer:
    """One agreement product: a class layer (uint8, 255 = not compared) or a heat map (float32, NaN = none)."""

    key: str  #: file-name part and widget key ("agreement", "new-water", ...)
    title: str  #: layer name on the map
    data: np.ndarray
    classes: tuple[ClassInfo, ...] = ()  #: empty: a heat map
    see_through: tuple[int, ...] = ()  #: classes left transparent on the map
    unit: str = ""  #: heat maps: what the values are


@dataclass
class Evaluation:
    """A result compared with a reference: numbers, layers, a table and notes."""

    task: str
    reference: str  #: what was compared with (shown to the user)
    metrics: dict[str, Any]
    layers: list[EvalLayer]
    crs: CRS
    transform: Affine
    table: list[dict[str, Any]] = field(default_factory=list)  #: per class (crops) or per band (reconstruction)
    confusion: np.ndarray | None = None  #: crops: rows = reference, columns = model
    class_names: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    reference_read: ReferenceRead | None = None
    meaning: str = ""  #: what the reference means for this task

    def summary_lines(self) -> list[str]:
        """The metrics as short text lines (the CLI prints them)."""
        lines = [f"reference: {self.reference}"]
        for k, v in self.metrics.items():
            if isinstance(v, float):
                lines.append(f"{k}: {v:.4g}")
            elif isinstance(v, (int, str)):
                lines.append(f"{k}: {v}")
        return lines


def grid_of(crs: CRS, transform: Affine, shape: tuple[int, int]) -> Grid:
    return Grid(crs, transform, shape[1], shape[0])


def lonlat_bounds(grid: Grid) -> tuple[float, float, float, float]:
    t = grid.transform
    x0, y1 = t.c, t.f
    x1, y0 = t.c + t.a * grid.width, t.f + t.e * grid.height
    w, s, e, n = transform_bounds(grid.crs, "EPSG:4326", min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    return float(w), float(s), float(e), float(n)


def load_reference(task: TaskSpec, reference: str | Path, grid: Grid, *, aoi: AOI | None = None,
                   year: int | None = None, stac_url: str | None = None) -> ReferenceRead:
    """``reference``: "auto" (the task's public layers, first that has data), a layer name of
    REFERENCE_LAYERS, or a GeoTIFF path."""
    ref = str(reference)
    if ref != "auto" and ref not in REFERENCE_LAYERS:
        return read_reference_file(ref, grid)
    names = task.reference_layers if ref == "auto" else (ref,)
    if not names:
        raise InputError(f"{task.title} has no public reference layer; give a reference GeoTIFF instead.")
    area = aoi or AOI.from_bbox(*lonlat_bounds(grid))
    problem: GeofmError | None = None
    for name in names:
        try:
            return read_reference(name, area, grid, year=year, stac_url=stac_url)
        except GeofmError as err:
            log.info("reference %s not usable here: %s", name, err)
            problem = problem or err
    assert problem is not None
    raise problem


def evaluate_flood(result: SegmentationResult, ref: ReferenceRead, *, target_class: int = 1) -> Evaluation:
    """Model water vs the reference's normal water: agreement layer, IoU / precision / recall / F1, areas, and
    newly flooded water (model water that is not normal water)."""
    px = pixel_area_km2(result.transform.a, result.transform.e)
    normal, ref_valid = water_mask(ref)
    valid = (result.classes != CLASS_NODATA) & ref_valid
    model_water = result.classes == target_class
    layer, sc = binary_agreement(model_water, normal, valid, px)
    new_layer, new_km2 = new_water(model_water, normal, valid, px)
    m: dict[str, Any] = {k: v for k, v in sc.as_dict().items()}
    m["new_water_km2"] = new_km2
    m["compared_share"] = float(valid.mean()) if valid.size else 0.0
    return Evaluation(
        task="flood", reference=ref.describe(), metrics=m, crs=result.crs, transform=result.transform,
        layers=[EvalLayer("agreement", "Agreement with reference", layer, AGREEMENT_CLASSES, see_through=(0,)),
                EvalLayer("new-water", "Newly flooded water", new_layer, NEW_WATER_CLASSES, see_through=(0,)),
                EvalLayer("reference", f"Reference: {ref.title}", np.where(ref_valid, normal.astype(np.uint8),
                                                                           CLASS_NODATA).astype(np.uint8),
                          REFERENCE_WATER_CLASSES,
                          see_through=(0,))],
        reference_read=ref, meaning=REFERENCE_LAYERS[ref.layer].meaning if ref.layer in REFERENCE_LAYERS else
        "water: any value other than 0 in the reference file")


def evaluate_crops(result: SegmentationResult, ref: ReferenceRead) -> Evaluation:
    """Model classes vs the reference's (CDL mapped to the 13 classes): confusion matrix, per-class F1 and
    area, overall accuracy, a disagreement layer."""
    k = len(result.class_names)
    px = pixel_area_km2(result.transform.a, result.transform.e)
    ref_cls = crop_classes(ref, k)
    valid = (result.classes != CLASS_NODATA) & (ref_cls != CLASS_NODATA)
    layer, sc = confusion_matrix(result.classes, ref_cls, valid, k, px)
    table = [{"class": name, "f1": float(sc.f1[i]), "precision": float(sc.precision[i]),
              "recall": float(sc.recall[i]), "model_km2": float(sc.model_km2[i]),
              "reference_km2": float(sc.reference_km2[i])} for i, name in enumerate(result.class_names)]
    f1 = sc.f1[~np.isnan(sc.f1)]
    m: dict[str, Any] = {"overall_accuracy": sc.overall_accuracy, "mean_f1": float(f1.mean()) if f1.size else
                         float("nan"), "compared_pixels": sc.total, "compared_share": float(valid.mean())}
    ref_layer = EvalLayer("reference", f"Reference: {ref.title}", ref_cls,
                          tuple(ClassInfo(n, c) for n, c in zip(result.class_names, result.class_colors)))
    return Evaluation(
        task="crops", reference=ref.describe(), metrics=m, crs=result.crs, transform=result.transform,
        layers=[EvalLayer("disagreement", "Disagreement with reference", layer, DISAGREEMENT_CLASSES,
                          see_through=(0,)), ref_layer],
        table=table, confusion=sc.matrix, class_names=result.class_names, reference_read=ref,
        meaning=REFERENCE_LAYERS[ref.layer].meaning if ref.layer in REFERENCE_LAYERS else
        "crop classes from the reference file")


def evaluate_reconstruction(stack: HLSStack, result: ReconstructionResult, *, patch: int | None = None) -> Evaluation:
    """The reconstruction against the pixels it hid, and the same for the neighbour-fill baseline."""
    patch = patch or get_model_spec(result.model).encoder.patch_size
    original = stack.data
    model_sc = recon_scores(original, result.reconstructed, result.mask, stack.valid)
    base = neighbour_baseline(original, result.mask, stack.valid, patch)
    base_sc = recon_scores(original, base, result.mask, stack.valid)
    heat = patch_error_map(original, result.reconstructed, result.mask, stack.valid, patch)
    base_heat = patch_error_map(original, base, result.mask, stack.valid, patch)
    table = [{"band": name, "model_rmse": model_sc.rmse_per_band[i], "baseline_rmse": base_sc.rmse_per_band[i],
              "model_mae": model_sc.mae_per_band[i], "baseline_mae": base_sc.mae_per_band[i]}
             for i, name in enumerate(BAND_LABELS)]
    m: dict[str, Any] = {"psnr_db": model_sc.psnr_db, "baseline_psnr_db": base_sc.psnr_db,
                         "psnr_gain_db": model_sc.psnr_db - base_sc.psnr_db,
                         "rmse": float(np.sqrt(np.mean(np.square(model_sc.rmse_per_band)))),
                         "baseline_rmse": float(np.sqrt(np.mean(np.square(base_sc.rmse_per_band)))),
                         "hidden_pixels": model_sc.pixels, "patch_px": patch}
    return Evaluation(
        task="reconstruct", reference="the hidden input pixels", metrics=m, crs=result.crs,
        transform=result.transform,
        layers=[EvalLayer("patch-error", "Error per hidden patch (model)", heat, unit="RMSE, DN"),
                EvalLayer("baseline-error", "Error per hidden patch (neighbour fill)", base_heat, unit="RMSE, DN")],
        table=table, meaning="the input itself: errors on the hidden patches only; baseline = each hidden patch "
                             "filled with the mean of its visible neighbour patches")


def before_after(before: SegmentationResult, after: SegmentationResult, *, target_class: int = 1) -> Evaluation:
    """Water gained and lost between a dry date (``before``) and the event (``after``), on one grid."""
    if before.classes.shape != after.classes.shape:
        raise InputError("The dry-date result and the event result are on different grids.")
    px = pixel_area_km2(after.transform.a, after.transform.e)
    valid = (before.classes != CLASS_NODATA) & (after.classes != CLASS_NODATA)
    layer, gained, lost = water_change(before.classes == target_class, after.classes == target_class,
                                               valid, px)
    return Evaluation(task="flood", reference="the dry date", metrics={"water_gained_km2": gained,
                                                                       "water_lost_km2": lost},
                      layers=[EvalLayer("water-change", "Water gained / lost since the dry date", layer,
                                        WATER_CHANGE_CLASSES, see_through=(0,))],
                      crs=after.crs, transform=after.transform)


def evaluate(task: str, result: SegmentationResult | ReconstructionResult, *, reference: str | Path = "auto",
             stack: HLSStack | None = None, aoi: AOI | None = None, year: int | None = None,
             stac_url: str | None = None) -> Evaluation:
    """Compare ``result`` of ``task`` with a reference ("auto": the task's public layer, read through STAC over
    the result's grid; a layer name; or a GeoTIFF). Reconstruction needs ``stack`` (its reference is the input).
    Out-of-depth notes are added when ``stack`` is given."""
    spec = get_task(task)
    if isinstance(result, ReconstructionResult):
        if stack is None:
            raise InputError("Evaluating a reconstruction needs the input it hid patches of.")
        ev = evaluate_reconstruction(stack, result)
    else:
        grid = grid_of(result.crs, result.transform, result.classes.shape)
        if year is None and stack is not None and stack.times and stack.times[-1] is not None:
            year = stack.times[-1].year
        ref = load_reference(spec, reference, grid, aoi=aoi, year=year, stac_url=stac_url)
        if spec.reference_kind == "cropland":
            ev = evaluate_crops(result, ref)
            ev.task = spec.name
        else:
            ev = evaluate_flood(result, ref, target_class=spec.target_class)
            ev.task = spec.name
            if not spec.reference_layers:  # a target class other than water (burn scars): no "new water"
                ev.task = spec.name
                ev.layers = [lay for lay in ev.layers if lay.key != "new-water"]
                ev.metrics.pop("new_water_km2", None)
        if year is not None and ref.year is not None and ref.year != year:
            ev.notes.append(f"The reference is from {ref.year}, the nearest year the service holds to the "
                            f"imagery's {year}.")
    if stack is not None:
        grid = grid_of(stack.crs, stack.transform, stack.shape)
        ev.notes += out_of_depth(spec, bounds_lonlat=lonlat_bounds(grid), times=stack.times,
                                 invalid_share=1.0 - float(stack.valid.all(axis=0).mean()), shape=stack.shape,
                                 model=getattr(result, "model", None))
    return ev
