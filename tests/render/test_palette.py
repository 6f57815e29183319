"""The map's colours stay apart — for normal vision and simulated protanopia, deuteranopia and tritanopia
(Machado et al. 2009), measured as CIELAB ΔE: the comparison layers from one another, from the crop classes they
share a legend with, from the area outline and from what true-colour imagery looks like."""

from __future__ import annotations

import pytest

from geofm.config import (AGREEMENT_CLASSES, BURN_SCAR_CLASSES, CROP_CLASSES, DISAGREEMENT_CLASSES, FLOOD_CLASSES,
                          NEW_WATER_CLASSES, REFERENCE_WATER_CLASSES, WATER_CHANGE_CLASSES)
from geofm.render import maps
from geofm.render.palette import IMAGERY_COLORS, delta_e, lab, min_distance, simulate

#: Below this ΔE two colours no longer read as different at a glance on a map.
APART = 15.0


def _rgb(css: str) -> tuple[int, int, int]:
    return tuple(int(css[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _shown(classes) -> list[tuple[int, int, int]]:
    return [c.color for c in classes[1:]]  # class 0 is left see-through on the map


OUTLINE = [_rgb(maps.OUTLINE_COLOR), _rgb(maps.OUTLINE_HALO)]
IMAGERY = list(IMAGERY_COLORS.values())


def test_colour_science_matches_known_values():
    assert lab((255, 255, 255)) == pytest.approx([100, 0, 0], abs=0.05)
    assert lab((255, 0, 0)) == pytest.approx([53.24, 80.09, 67.20], abs=0.1)  # sRGB red in CIELAB (D65)
    # deuteranopes see red and green alike; normal vision does not
    assert delta_e((220, 30, 60), (90, 140, 40)) > 60
    assert delta_e((220, 30, 60), (90, 140, 40), "deuteranopia") < 0.5 * delta_e((220, 30, 60), (90, 140, 40))
    assert simulate((0, 0, 0), "tritanopia") == pytest.approx([0, 0, 0])


def test_the_old_palette_clashed():
    """The clashes a user reported read as clashes here: the measure would catch them again."""
    old_outline, old_model_only, old_disagree = (232, 89, 12), (240, 140, 20), (220, 30, 60)
    assert min_distance([old_outline], [old_model_only])[0] < APART  # one orange for everyone but the sharpest eyes
    assert min_distance([old_disagree], _shown(CROP_CLASSES))[0] < APART  # Cotton


@pytest.mark.parametrize("legend", [
    AGREEMENT_CLASSES[1:] + NEW_WATER_CLASSES[1:] + REFERENCE_WATER_CLASSES[1:],  # the flood comparison map
    WATER_CHANGE_CLASSES[1:],  # the dry-date map
    DISAGREEMENT_CLASSES[1:] + CROP_CLASSES,  # the crops comparison map: disagreement and the reference classes
], ids=["flood-comparison", "dry-date", "crops-comparison"])
def test_comparison_colours_stay_apart_for_every_vision(legend):
    own = [c.color for c in legend]
    shared = list(dict.fromkeys(own))  # a colour reused in another layer of the same meaning counts once
    compare = [c for c in own if c not in {x.color for x in CROP_CLASSES}]  # the published colours are kept
    d, where = min_distance(shared) if len(compare) > 1 else min_distance(compare, [c for c in own
                                                                                   if c not in compare])
    assert d >= APART, where
    d, where = min_distance(compare, OUTLINE)
    assert d >= APART, where
    d, where = min_distance(compare, IMAGERY)
    assert d >= APART, where


def test_the_outline_stands_apart_from_every_result_colour():
    results = [c.color for c in (*FLOOD_CLASSES[1:], *BURN_SCAR_CLASSES[1:], *AGREEMENT_CLASSES[1:],
                                 *NEW_WATER_CLASSES[1:], *WATER_CHANGE_CLASSES[1:], *DISAGREEMENT_CLASSES[1:])]
    d, where = min_distance([OUTLINE[0]], results)
    assert d >= APART, where
    # and the black line on its white halo reads on dark and on bright ground alike
    assert max(delta_e(OUTLINE[0], g) for g in IMAGERY) > 50 and min(delta_e(OUTLINE[1], g) for g in IMAGERY) > 10
