"""Agreement between a model's map and a reference: counts, scores and layers (pure numpy, no I/O).

Every function takes boolean or class arrays on one grid and a ``valid`` mask; pixels outside ``valid``
(cloud, no data in the result or the reference) count nowhere and are CLASS_NODATA in the layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geofm.config import CLASS_NODATA


def pixel_area_km2(transform_a: float, transform_e: float) -> float:
    """Area of one pixel in km² from the grid's pixel width and height in metres."""
    return abs(float(transform_a) * float(transform_e)) / 1e6


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


@dataclass(frozen=True)
class BinaryScores:
    """Two-class agreement (e.g. water): pixel counts, scores and areas."""

    both: int  # true positives
    model_only: int  # false positives
    reference_only: int  # false negatives
    neither: int  # true negatives
    pixel_km2: float

    @property
    def iou(self) -> float:
        return _ratio(self.both, self.both + self.model_only + self.reference_only)

    @property
    def precision(self) -> float:
        return _ratio(self.both, self.both + self.model_only)

    @property
    def recall(self) -> float:
        return _ratio(self.both, self.both + self.reference_only)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.both, 2 * self.both + self.model_only + self.reference_only)

    @property
    def compared(self) -> int:
        return self.both + self.model_only + self.reference_only + self.neither

    @property
    def model_km2(self) -> float:
        return (self.both + self.model_only) * self.pixel_km2

    @property
    def reference_km2(self) -> float:
        return (self.both + self.reference_only) * self.pixel_km2

    @property
    def both_km2(self) -> float:
        return self.both * self.pixel_km2

    def as_dict(self) -> dict[str, float]:
        return {"iou": self.iou, "precision": self.precision, "recall": self.recall, "f1": self.f1,
                "model_km2": self.model_km2, "reference_km2": self.reference_km2, "both_km2": self.both_km2,
                "model_only_km2": self.model_only * self.pixel_km2,
                "reference_only_km2": self.reference_only * self.pixel_km2, "compared_pixels": self.compared}


def binary_agreement(model: np.ndarray, reference: np.ndarray, valid: np.ndarray,
                     pixel_km2: float) -> tuple[np.ndarray, BinaryScores]:
    """Agreement layer (0 neither, 1 model only, 2 reference only, 3 both; 255 not compared) and scores."""
    m, r, v = np.asarray(model, bool), np.asarray(reference, bool), np.asarray(valid, bool)
    layer = np.full(m.shape, CLASS_NODATA, np.uint8)
    layer[v] = (m[v].astype(np.uint8) + 2 * r[v].astype(np.uint8))
    counts = np.bincount(layer[v], minlength=4)
    scores = BinaryScores(both=int(counts[3]), model_only=int(counts[1]), reference_only=int(counts[2]),
                          neither=int(counts[0]), pixel_km2=pixel_km2)
    return layer, scores


def new_water(model_water: np.ndarray, normal_water: np.ndarray, valid: np.ndarray,
              pixel_km2: float) -> tuple[np.ndarray, float]:
    """Newly flooded water: model water that is not normal water. Layer (0/1, 255 not compared) and km²."""
    m, n, v = np.asarray(model_water, bool), np.asarray(normal_water, bool), np.asarray(valid, bool)
    layer = np.full(m.shape, CLASS_NODATA, np.uint8)
    layer[v] = (m & ~n)[v]
    return layer, float(np.count_nonzero(layer == 1)) * pixel_km2


def water_change(before: np.ndarray, after: np.ndarray, valid: np.ndarray,
                 pixel_km2: float) -> tuple[np.ndarray, float, float]:
    """Before / after: layer (0 unchanged, 1 water gained, 2 water lost; 255 not compared), gained and lost km²."""
    b, a, v = np.asarray(before, bool), np.asarray(after, bool), np.asarray(valid, bool)
    layer = np.full(b.shape, CLASS_NODATA, np.uint8)
    change = np.where(a & ~b, 1, np.where(b & ~a, 2, 0)).astype(np.uint8)
    layer[v] = change[v]
    return layer, float(np.count_nonzero(layer == 1)) * pixel_km2, float(np.count_nonzero(layer == 2)) * pixel_km2


@dataclass(frozen=True)
class ClassScores:
    """Multi-class agreement: the confusion matrix (rows = reference, columns = model) and what follows."""

    matrix: np.ndarray  # (K, K) int64
    pixel_km2: float

    @property
    def total(self) -> int:
        return int(self.matrix.sum())

    @property
    def overall_accuracy(self) -> float:
        return _ratio(np.trace(self.matrix), self.total)

    @property
    def precision(self) -> np.ndarray:
        col = self.matrix.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(col > 0, np.diag(self.matrix) / np.maximum(col, 1), np.nan)

    @property
    def recall(self) -> np.ndarray:
        row = self.matrix.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(row > 0, np.diag(self.matrix) / np.maximum(row, 1), np.nan)

    @property
    def f1(self) -> np.ndarray:
        d = np.diag(self.matrix).astype(float)
        den = self.matrix.sum(axis=0) + self.matrix.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, 2 * d / np.maximum(den, 1), np.nan)

    @property
    def model_km2(self) -> np.ndarray:
        return self.matrix.sum(axis=0) * self.pixel_km2

    @property
    def reference_km2(self) -> np.ndarray:
        return self.matrix.sum(axis=1) * self.pixel_km2


def confusion(model: np.ndarray, reference: np.ndarray, valid: np.ndarray, num_classes: int,
              pixel_km2: float) -> tuple[np.ndarray, ClassScores]:
    """Disagreement layer (0 agree, 1 disagree, 255 not compared) and the confusion matrix of valid pixels
    whose model and reference classes are both in 0..num_classes-1."""
    m, r = np.asarray(model).astype(np.int64), np.asarray(reference).astype(np.int64)
    v = np.asarray(valid, bool) & (m >= 0) & (m < num_classes) & (r >= 0) & (r < num_classes)
    matrix = np.bincount(r[v] * num_classes + m[v], minlength=num_classes * num_classes)
    layer = np.full(m.shape, CLASS_NODATA, np.uint8)
    layer[v] = (m[v] != r[v]).astype(np.uint8)
    return layer, ClassScores(matrix.reshape(num_classes, num_classes), pixel_km2)
