"""Issue 9, point 6: a local input over the command line's memory budget runs block by block in bounded
memory, with the same result as the whole-image run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from rasterio.crs import CRS

from geofm import pipeline
from geofm.inference import model_cache
from geofm.cli import main
from geofm.config import INPUT_LIMITS, get_model_spec
from geofm.inference.blockwise import segment_blocks
from geofm.inference.segment import segment_stack
from geofm.models import create_model
from geofm.stack import HLSStack
from tests.geotiff_helpers import hls_like, write_tif
from tests.inference.support import TINY_SEG

CPU = torch.device("cpu")


@pytest.mark.parametrize("h, w, block", [(600, 500, 200), (224, 700, 128), (450, 451, 1024)])
def test_blocks_give_the_whole_image_result(h, w, block):
    spec = get_model_spec("flood")
    model = create_model(spec, arch=TINY_SEG).eval()
    data = hls_like(1, h, w, seed=4)
    valid = np.ones((1, h, w), bool)
    data[:, :, 30:40, 50:70] = -9999
    valid[:, 30:40, 50:70] = False
    stack = HLSStack(data, valid, CRS.from_epsg(32614), Affine(30, 0, 700000, 0, -30, 4600000))
    ref = segment_stack(model, spec, stack, device=CPU, batch_size=1, probabilities=True)
    classes = np.full((h, w), 77, np.uint8)
    probs = np.zeros((2, h, w), np.float32)
    regions = []

    def read(y0, y1, x0, x1):
        regions.append((y1 - y0) * (x1 - x0))
        return data[:, :, y0:y1, x0:x1], valid[:, y0:y1, x0:x1]

    def take(y, x, c, p):
        classes[y:y + c.shape[0], x:x + c.shape[1]] = c
        probs[:, y:y + c.shape[0], x:x + c.shape[1]] = p

    segment_blocks(model, spec, read, h, w, take, block=block, device=CPU, batch_size=1, probabilities=True)
    np.testing.assert_array_equal(classes, ref.classes)
    np.testing.assert_allclose(probs, ref.probabilities, atol=1e-5)
    assert max(regions) <= (min(block, h) + 2 * 224) * (min(block, w) + 2 * 224)  # one block + halo at a time


@pytest.fixture
def tiny_flood(monkeypatch):
    spec = get_model_spec("flood")
    model = create_model(spec, arch=TINY_SEG).eval()
    monkeypatch.setattr(pipeline, "get_model", lambda name, **kw: (model, spec))
    monkeypatch.setattr(pipeline, "ensure_model_weights", lambda *a, **kw: None)  # no weight files: tiny model
    monkeypatch.setattr(pipeline, "checkpoint_sha256", lambda spec, weights_dir: "ab" * 32)
    for name, stub in (("get_model", lambda name, **kw: (model, spec)), ("ensure_model_weights", lambda *a, **kw: None),
                       ("checkpoint_sha256", lambda spec, weights_dir: "ab" * 32)):
        monkeypatch.setattr(model_cache, name, stub)  # blockwise runs take the model from the cache directly
    return model


def test_cli_runs_an_input_over_budget_block_by_block_with_the_same_output(tiny_flood, tmp_path, capsys,
                                                                            monkeypatch):
    from geofm.io import header, large

    scene = write_tif(tmp_path / "big.tif", hls_like(1, 520, 610, seed=8)[0])
    args = ["run", "flood", "--input", str(scene), "--device", "cpu", "--batch-size", "1"]
    assert main([*args, "--out", str(tmp_path / "whole.tif"), "--probabilities", str(tmp_path / "wp.tif")]) == 0
    whole_line = capsys.readouterr().out
    monkeypatch.setattr(header, "cli_budget_bytes", lambda: 2 * 2**20)  # 2 MiB: the input needs ~7
    monkeypatch.setattr(large, "INPUT_LIMITS", replace(INPUT_LIMITS, block_px=256))
    code = main([*args, "--out", str(tmp_path / "blocks.tif"), "--probabilities", str(tmp_path / "bp.tif")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "running block by block" in err and out.endswith("block by block\n")
    # the same summary figures as the whole-image run
    assert out.split(": ", 1)[1].split("; model")[0] == whole_line.split(": ", 1)[1].split("; model")[0]
    with rasterio.open(tmp_path / "whole.tif") as a, rasterio.open(tmp_path / "blocks.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())
        assert b.tags()["CHECKPOINT_SHA256"] == "ab" * 32 and b.colormap(1)[1] == a.colormap(1)[1]
        assert b.crs == a.crs and b.transform == a.transform and b.nodata == 255
        assert b.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    with rasterio.open(tmp_path / "wp.tif") as a, rasterio.open(tmp_path / "bp.tif") as b:
        np.testing.assert_allclose(a.read(), b.read(), atol=1e-5)
        assert b.descriptions == a.descriptions
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".geofm-write")]


def test_over_budget_reconstruction_is_refused_with_size_and_limit(tmp_path, capsys, monkeypatch):
    from geofm.io import header

    monkeypatch.setattr(header, "cli_budget_bytes", lambda: 2 * 2**20)
    scene = write_tif(tmp_path / "big.tif", hls_like(1, 300, 300)[0])
    code = main(["run", "reconstruct", "--input", str(scene), "--out", str(tmp_path / "r.tif")])
    err = capsys.readouterr().err
    assert code == 2
    assert ("geofm: error: big.tif is 300 x 300 px x 6 bands of int16: reading it would take about 9 MiB of "
            "memory; the command line takes inputs up to 2 MiB.") in err
