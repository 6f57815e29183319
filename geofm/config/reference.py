"""Reference layers and agreement products ("Did the model get it right?"), with the CDL mapping
beside its layer; facts and sources in docs/reference-data.md. Adding a reference layer: one
``ReferenceLayer`` in ``REFERENCE_LAYERS`` (and its value mapping here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from geofm.config.models import ClassInfo


@dataclass(frozen=True)
class ReferenceLayer:
    """A public reference raster read through STAC like HLS (only the area's pixels, on the result's grid)."""

    name: str  #: key in REFERENCE_LAYERS and value of ``--reference`` layer choices
    title: str
    collection: str  #: Planetary Computer collection id
    asset: str  #: the asset read
    resolution_m: float  #: native pixel size (approximate for geographic grids)
    nodata: int  #: the asset's no-data value (pixels with it are left out of every comparison)
    kind: Literal["water", "cropland"]
    #: values of ``asset`` that mean "normal water" (water layers)
    water_values: tuple[int, ...] = ()
    #: item ids of the kind to read start with this (usda-cdl serves cropland, cultivated and frequency items)
    item_prefix: str = ""
    years: tuple[int, int] = (0, 0)  #: first and last year the service holds
    meaning: str = ""  #: one line for the user: what the layer says
    source: str = ""  #: where the facts come from


REFERENCE_LAYERS: dict[str, ReferenceLayer] = {
    layer.name: layer
    for layer in (
        ReferenceLayer(
            name="jrc-gsw", title="JRC Global Surface Water (seasonality)", collection="jrc-gsw",
            asset="seasonality", resolution_m=30.0, nodata=255, kind="water", water_values=(12,),
            years=(2020, 2020),
            meaning="normal water: water in all 12 months of the JRC seasonality layer (year 2020)",
            source="Planetary Computer jrc-gsw (stactools-packages/jrc-gsw examples; Pekel et al. 2016, "
                   "doi:10.1038/nature20584)",
        ),
        ReferenceLayer(
            name="esa-worldcover", title="ESA WorldCover (permanent water bodies)", collection="esa-worldcover",
            asset="map", resolution_m=10.0, nodata=0, kind="water", water_values=(80,), years=(2020, 2021),
            meaning="normal water: ESA WorldCover class 80, permanent water bodies",
            source="Planetary Computer esa-worldcover (stactools-packages/esa-worldcover examples, "
                   "classification:classes of the map asset)",
        ),
        ReferenceLayer(
            name="usda-cdl", title="USDA Cropland Data Layer", collection="usda-cdl", asset="cropland",
            resolution_m=30.0, nodata=0, kind="cropland", item_prefix="cropland_", years=(2008, 2021),
            meaning="USDA NASS Cropland Data Layer mapped to the crop model's 13 classes",
            source="Planetary Computer usda-cdl (PlanetaryComputerExamples datasets/usda-cdl, "
                   "stactools-packages/usda-cdl examples)",
        ),
    )
}

#: CDL code -> crop dataset class id (1..13; model output k = id - 1), exactly as the training labels of
#: ibm-nasa-geospatial/multi-temporal-crop-classification were made: the ``new_class_value`` column of
#: easierdata/multi-temporal-crop-classification-training-data
#: data/required/preprocessed_data/cdl_total_dst.csv (commit 46bf92db, read by
#: crop_classification/data_prep/generate_training_chips.py; the ClarkCGA repository's data/cdl_total_dst.csv
#: is its earlier 16-class draft). Codes not listed (0 background, unused codes) have no class.
_CDL_GROUPS: dict[int, tuple[int, ...]] = {
    1: (37, 152, 176),  # Natural Vegetation: Other Hay/Non Alfalfa, Shrubland, Grassland/Pasture
    2: (141, 142, 143),  # Forest: deciduous, evergreen, mixed
    3: (1,),  # Corn
    4: (5,),  # Soybeans
    5: (190, 195),  # Wetlands: woody, herbaceous
    6: (121, 122, 123, 124, 131),  # Developed/Barren: developed open/low/med/high, barren
    7: (111,),  # Open Water
    8: (24,),  # Winter Wheat
    9: (36,),  # Alfalfa
    10: (61,),  # Fallow/Idle Cropland
    11: (2,),  # Cotton
    12: (4,),  # Sorghum
    13: (3, 6, 10, 11, 12, 13, 14, 21, 22, 23, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 38, 39, 41, 42, 43,
         44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 62, 63, 64, 65, 66, 67, 68, 69, 70,
         71, 72, 74, 75, 76, 77, 81, 82, 83, 87, 88, 92, 112, *range(204, 251), 254),  # Other
}
CDL_TO_CROP_ID: dict[int, int] = {code: cid for cid, codes in _CDL_GROUPS.items() for code in codes}
#: CDL codes left out of comparisons although the training table lists them: 81 is "Clouds/No Data".
CDL_EXCLUDED: tuple[int, ...] = (0, 81)

#: Colours of the comparison layers: apart from one another, from the crop classes, from the area outline
#: (black on white) and from true-colour imagery (green, orange and brown land, water, cities), also with
#: colour-blind vision: tests/render/test_palette.py measures it (CIELAB ΔE, simulated colour-blindness).
#: Strong magenta, light sky blue, pure blue, lime and violet: colours land and water hardly ever have.
COMPARE_COLORS: dict[str, tuple[int, int, int]] = {
    "model": (200, 0, 200),  # deep magenta
    "reference": (153, 204, 255),  # light sky blue
    "both": (0, 60, 255),  # pure blue
    "new": (0, 255, 0),  # lime
    "normal water": (0, 0, 160),  # navy
    "disagree": (140, 0, 255),  # violet
}
#: Agreement layer of a two-class comparison (model water vs reference water).
AGREEMENT_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("Neither", (235, 235, 225)),
    ClassInfo("Model only", COMPARE_COLORS["model"]),
    ClassInfo("Reference only", COMPARE_COLORS["reference"]),
    ClassInfo("Both", COMPARE_COLORS["both"]),
)
#: Newly flooded water: model water that is not normal water.
NEW_WATER_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("Not new water", (235, 235, 225)),
    ClassInfo("Newly flooded", COMPARE_COLORS["new"]),
)
#: The reference's normal water (a water reference read for a flood comparison).
REFERENCE_WATER_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("Not water", (235, 235, 225)),
    ClassInfo("Normal water", COMPARE_COLORS["normal water"]),
)
#: Before / after: water gained and lost between a dry date and the event.
WATER_CHANGE_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("Unchanged", (235, 235, 225)),
    ClassInfo("Water gained", COMPARE_COLORS["reference"]),
    ClassInfo("Water lost", COMPARE_COLORS["model"]),
)
#: Crops: where the model and the reference disagree.
DISAGREEMENT_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("Agree", (235, 235, 225)),
    ClassInfo("Disagree", COMPARE_COLORS["disagree"]),
)


@dataclass(frozen=True)
class EvaluationLimits:
    """When geofm says a model is out of its depth, and how it picks a dry date before a flood."""

    #: contiguous US (the crop model's and the burn-scar model's training area), W S E N degrees
    conus_bbox: tuple[float, float, float, float] = (-125.0, 24.0, -66.5, 49.5)
    #: months the crop model's training scenes come from (March to September)
    growing_season: tuple[int, int] = (3, 9)
    #: share of cloud / no data above which results are flagged
    max_invalid_share: float = 0.25
    #: days before the event searched for a dry reference date
    dry_window_days: int = 90
    #: gap left before the event date when searching for a dry date
    dry_gap_days: int = 10


EVALUATION = EvaluationLimits()
#: Name of the reference in provenance when the user gives a file.
REFERENCE_FILE = "file"
