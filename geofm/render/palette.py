"""Colour distance as people see it: CIELAB ΔE (CIE76), with colour-blind vision simulated.

Used to keep the map's colours apart — the evaluation layers from one another, from the crop classes they sit
next to in a legend, from the area outline and from what satellite imagery itself looks like — for everyone,
including the 1 in 12 men with a red-green colour vision deficiency.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

RGB = tuple[int, int, int]
Color = RGB | Sequence[float] | np.ndarray

#: Machado, Oliveira & Fernandes (2009), "A physiologically-based model for simulation of color vision
#: deficiency", severity 1.0 matrices (linear RGB).
CVD_MATRICES: dict[str, np.ndarray] = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
VISIONS: tuple[str, ...] = ("normal", *CVD_MATRICES)

#: What true-colour HLS imagery itself looks like (stretched for display): colours a result layer or the area
#: outline must not be mistaken for.
IMAGERY_COLORS: dict[str, RGB] = {
    "green vegetation": (70, 110, 50),
    "dry grass": (165, 160, 105),
    "orange arid land": (205, 140, 85),
    "brown soil": (140, 100, 70),
    "sand": (225, 205, 160),
    "dark water": (25, 45, 70),
    "turbid water": (110, 120, 105),
    "city": (150, 145, 140),
}


def _linear(rgb: np.ndarray) -> np.ndarray:
    c = rgb / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    return 255.0 * np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def simulate(rgb: Color, vision: str = "normal") -> np.ndarray:
    """``rgb`` (0..255) as seen with ``vision`` ("normal", "protanopia", "deuteranopia", "tritanopia")."""
    value = np.asarray(rgb, np.float64)
    if vision == "normal":
        return value
    return _srgb(CVD_MATRICES[vision] @ _linear(value))


def lab(rgb: Color) -> np.ndarray:
    """sRGB (0..255) -> CIELAB (D65)."""
    lin = _linear(np.asarray(rgb, np.float64))
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a: Color, b: Color, vision: str = "normal") -> float:
    """CIE76 ΔE between two colours as seen with ``vision`` (about 2.3 is just noticeable; 20+ reads as another
    colour at a glance)."""
    return float(np.linalg.norm(lab(simulate(a, vision)) - lab(simulate(b, vision))))


def min_distance(first: Iterable[RGB], second: Iterable[RGB] | None = None) -> tuple[float, str]:
    """The smallest ΔE over every vision between the colours of ``first`` (pairwise) or between ``first`` and
    ``second``, and which pair and vision it was."""
    a = list(first)
    pairs = [(x, y) for i, x in enumerate(a) for y in a[i + 1:]] if second is None else \
        [(x, y) for x in a for y in second]
    best, where = float("inf"), ""
    for x, y in pairs:
        for vision in VISIONS:
            d = delta_e(x, y, vision)
            if d < best:
                best, where = d, f"{x} vs {y} ({vision})"
    return best, where
