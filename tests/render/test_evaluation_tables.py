"""The crops comparison's table and confusion matrix read at a glance: readable headers with units, a dash
(not "None") where a score is undefined, and a matrix of whole percents over only the classes found here."""

from __future__ import annotations

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from geofm.config import CROP_CLASSES
from geofm.evaluate.evaluation import Evaluation
from geofm.render.evaluation import UNDEFINED, class_table, confusion_cells

NAMES = tuple(c.name for c in CROP_CLASSES)


def _crops_evaluation() -> Evaluation:
    m = np.zeros((13, 13), np.int64)
    m[2, 2], m[2, 3], m[2, 0] = 9_000, 985, 15  # corn: 90 % right, 9.85 % called soybeans, a trace natural veg.
    m[3, 3], m[3, 2] = 4_000, 1_000  # soybeans
    m[0, 0] = 300  # natural vegetation
    table = [{"class": n, "f1": float("nan") if k not in (0, 2, 3) else 0.5 + k / 100, "precision": float("nan"),
              "recall": 0.25, "model_km2": 1.23456, "reference_km2": 0.0} for k, n in enumerate(NAMES)]
    return Evaluation(task="crops", reference="CDL 2021", metrics={}, layers=[], crs=CRS.from_epsg(32614),
                      transform=Affine(30, 0, 0, 0, -30, 0), table=table, confusion=m, class_names=NAMES)


def test_matrix_shows_whole_percents_of_the_classes_found_here():
    cells = confusion_cells(_crops_evaluation())
    assert sorted(set(cells["reference"])) == sorted({"Corn", "Soybeans", "Natural Vegetation"})
    assert len(cells) == 9  # 3 x 3, not 13 x 13
    label = {(r, m): t for r, m, t in zip(cells["reference"], cells["model"], cells["label"])}
    assert label[("Corn", "Corn")] == "90" and label[("Corn", "Soybeans")] == "10"  # 9.85 % -> 10
    assert label[("Corn", "Natural Vegetation")] == "<1"  # 0.15 %: a trace, not "0"
    assert label[("Soybeans", "Natural Vegetation")] == ""  # an empty cell stays empty
    assert label[("Soybeans", "Soybeans")] == "80"
    assert all(len(t) <= 3 for t in cells["label"])  # never a long pixel count that runs into its neighbour
    rows = cells.groupby("reference")["percent"].sum()
    assert np.allclose(rows.to_numpy(), 100.0, atol=0.2)


def test_class_table_has_readable_headers_units_and_dashes():
    table = class_table(_crops_evaluation())
    assert list(table.columns) == ["Class", "F1", "Precision", "Recall", "Model area (km²)", "Reference area (km²)"]
    assert not any("_" in c for c in table.columns)
    corn = table[table["Class"] == "Corn"].iloc[0]
    assert corn["F1"] == "0.52" and corn["Precision"] == UNDEFINED and corn["Model area (km²)"] == "1.23"
    assert "None" not in table.to_string() and "nan" not in table.to_string().lower()
    assert len(table) == 13


def test_confusion_chart_cells_are_big_enough_to_read():
    from geofm.serve.evaluate_view import confusion_chart

    spec = confusion_chart(_crops_evaluation()).to_dict()
    assert spec["width"] == spec["height"] == {"step": 38}  # 38 px cells, never squeezed to the page's width
    rows = {r for r in spec["datasets"][spec["data"]["name"]] for r in [r["reference"]]} if "data" in spec \
        else set()
    assert rows in (set(), {"Corn", "Soybeans", "Natural Vegetation"})  # the 3 classes found here
    text_layer = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "text")
    assert text_layer["encoding"]["text"]["field"] == "label" and text_layer["mark"]["fontSize"] >= 12


def test_short_names_are_unique_and_short_for_the_crop_classes():
    from geofm.render.evaluation import short_names

    codes = short_names(NAMES)
    assert len(set(codes.values())) == len(NAMES) and all(len(c) <= 3 for c in codes.values())
    assert codes["Open Water"] == "OW" and codes["Corn"] == "Co" and codes["Cotton"] == "Ct"


def test_compact_confusion_chart_fits_a_phone_with_all_classes():
    """The phone's matrix: short codes on the axes, cells sized so that 13 classes fit ~340 px, text readable."""
    from geofm.render.evaluation import short_names
    from geofm.serve.evaluate_view import COMPACT_WIDTH, confusion_chart, matrix_key

    ev = _crops_evaluation()
    ev.confusion = np.ones((13, 13), np.int64)  # every class found here
    spec = confusion_chart(ev, compact=True).to_dict()
    step = spec["width"]["step"]
    assert spec["height"]["step"] == step and 20 <= step and 13 * step + 48 <= COMPACT_WIDTH
    data = spec["datasets"][spec["data"]["name"]] if "data" in spec else spec["layer"][0]["data"]["values"]
    assert {r["model"] for r in data} == set(short_names(NAMES).values())  # codes on the axes
    assert all(r["model_name"] in NAMES for r in data)  # names in the tooltip
    text_layer = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "text")
    assert text_layer["mark"]["fontSize"] >= 10
    key = matrix_key(ev)
    assert "**OW** Open Water" in key and key.count("**") == 2 * 13
    # three classes found: bigger cells, still within the width
    spec = confusion_chart(_crops_evaluation(), compact=True).to_dict()
    assert spec["width"]["step"] == 30 and "Cotton" not in matrix_key(_crops_evaluation())

