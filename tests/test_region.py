"""`geofm region` on a Dask LocalCluster over the stand-in: pixel-exact equality with `geofm run`, a batch of
features, a region across two UTM zones, resume after a killed worker / run, and a chunk that keeps failing.

Dates and places come from tests/standin/layout.py so they follow the stand-in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geofm.cli import main
from geofm.config import REGION
from geofm.region import BatchResult, run_region
from geofm.region.chunks import Span, _sliding_extent, chunk_pixels, read_span
from geofm.inference.sliding import window_starts
from tests.standin.layout import DATES, FREMONT, TILES

#: A date without clouds on either tile (so per-chunk and whole-area choices agree), and a 224-px chunk.
CLEAR = next(d for d in DATES if not d.clouds and not d.fill_columns)
DAY = CLEAR.when.date().isoformat()
CHUNK_KM = 224 * 30 / 1000
# ~7.5 x 12 km near Fremont, inside tile 14TQL only: 2 x 2 chunks of 224 px, edge windows snapped.
LON, LAT = FREMONT
FREMONT_BOX = (LON - 0.05, LAT - 0.054, LON + 0.04, LAT + 0.054)
# Across lon -96 (UTM 14 | 15), inside both stand-in tiles' overlap in latitude.
ACROSS_ZONES = (-96.03, 41.36, -95.96, 41.40)


def _read(path: Path) -> tuple[np.ndarray, object, object]:
    with rasterio.open(path) as src:
        return src.read(), src.transform, src.crs


# ------------------------------------------------------------------------------------------ geometry (fast)

@pytest.mark.parametrize("size", [224, 300, 400, 449, 1000, 1234])
def test_chunk_halos_give_every_core_pixel_exactly_its_single_process_windows(size):
    """For every chunk and every core pixel, the windows placed inside the chunk's read extent are exactly the
    global windows covering that pixel (snapped edge window included)."""
    starts = window_starts(size)
    for c0 in range(0, size, 224):
        c1 = min(c0 + 224, size)
        a, b = _sliding_extent(c0, c1, size, 224, 112)
        local = [a + s for s in window_starts(b - a)]
        for p in range(c0, c1):
            want = [s for s in starts if s <= p < s + 224]
            got = [s for s in local if s <= p < s + 224]
            assert got == want, (size, c0, p)


def test_chunk_size_rounds_to_whole_224_px_units():
    assert chunk_pixels(6.72) == 224 and chunk_pixels(0.1) == 224 and chunk_pixels(50) == 1568
    assert REGION.chunk_multiple_px == 224


# ------------------------------------------------------------------------------------------ end to end

@pytest.mark.slow
def test_region_equals_single_process_run_pixel_for_pixel(standin, published_weights_dir, tmp_path, capsys):
    single = tmp_path / "single.tif"
    code = main(["run", "flood", "--bbox", *map(str, FREMONT_BOX), "--start", DAY, "--end", DAY, "--out",
                 str(single), "--weights-dir", str(published_weights_dir), "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    out = tmp_path / "region"
    res = run_region("flood", FREMONT_BOX, DAY, DAY, out, workers=2, processes=False, chunk_km=CHUNK_KM,
                     weights_dir=published_weights_dir, device="cpu")
    assert res.ok and res.chunks_total == 4 and res.chunks_done == 4
    want, t_want, crs_want = _read(single)
    got, t_got, crs_got = _read(res.mosaic)
    assert crs_got == crs_want and t_got == t_want and got.shape == want.shape
    assert want.shape[1] > 224 and want.shape[2] > 224  # really 2 x 2 chunks
    assert (got == want).all()
    assert set(np.unique(want)) - {255} and (want != 255).mean() > 0.9
    # every tile is the single run's pixels on its own window of the grid
    manifest = json.loads((out / REGION.manifest_name).read_text())
    for rec in manifest["chunks"]:
        r0, r1, c0, c1 = rec["core"]
        tile, t_tile, _ = _read(out / rec["file"])
        assert (tile[0] == want[0, r0:r1, c0:c1]).all()
        assert (t_tile.c, t_tile.f) == (t_want.c + 30 * c0, t_want.f - 30 * r0)
        assert rec["status"] == "done" and len(rec["sha256"]) == 64
        assert rec["scenes"] == [[f"HLS.{CLEAR.sensor}.T{TILES[0].name}.{CLEAR.when.year}"
                                  f"{CLEAR.when.timetuple().tm_yday:03d}T{CLEAR.when:%H%M%S}.v2.0"]]
    assert manifest["mosaic"]["file"] == REGION.mosaic_name
    item = json.loads((out / REGION.item_name).read_text())
    import pystac

    pystac.Item.from_dict(item)
    assert item["assets"]["mosaic"]["href"] == f"./{REGION.mosaic_name}"
    with rasterio.open(res.mosaic) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
