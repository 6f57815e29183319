"""Issue 9, inputs: rasters are judged from their header before any pixel is decoded (memory budget, sample
type, pixel size); uploads live in a private per-run folder."""

from __future__ import annotations

import os
import stat
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from geofm.cli import main
from geofm.errors import InputError
from geofm.serve import uploads
from tests.geotiff_helpers import ORIGIN, UTM14, hls_like, write_tif


def _declared(path: Path, width: int, height: int, count: int, dtype: str = "int16", *,
              crs: str = UTM14, transform: Affine = ORIGIN) -> Path:
    """A GeoTIFF that declares a size but holds no pixel data (sparse): a few hundred KB on disk."""
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=count, dtype=dtype, crs=crs,
                       transform=transform, tiled=True, blockxsize=512, blockysize=512, sparse_ok=True,
                       interleave="pixel", BIGTIFF="YES"):
        pass
    return path


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("geofm: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------- 5: bands x pixels x dtype before decode

def test_upload_declaring_600_bands_is_refused_from_its_header(tmp_path):
    path = _declared(tmp_path / "00_bomb.tif", 1600, 1600, 600)
    assert path.stat().st_size < 1_000_000  # a small file...
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as info:
            uploads.check_raster_files([path])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith("bomb.tif is 1600 x 1600 px x 600 bands of int16: reading it would take about ")
    assert "GiB of memory; the app takes inputs up to 1.0 GiB." in message
    assert peak < 20e6  # ...refused without decoding its 3 GB of samples


def test_upload_with_a_wide_dtype_is_refused_from_its_header(tmp_path):
    path = _declared(tmp_path / "00_wide.tif", 1600, 1600, 60, "float64")  # within the side limit
    with pytest.raises(InputError, match=r"wide.tif is 1600 x 1600 px x 60 bands of float64: reading it"):
        uploads.check_raster_files([path])
    ok = write_tif(tmp_path / "00_ok.tif", hls_like(1, 50, 50)[0])
    uploads.check_raster_files([ok])  # an ordinary upload passes


def test_cli_refuses_an_input_over_its_memory_budget_before_decoding(tmp_path, capsys, monkeypatch):
    from geofm.io import header

    monkeypatch.setattr(header, "cli_budget_bytes", lambda: 512 * 2**20)  # as on a small machine
    path = _declared(tmp_path / "bomb.tif", 1600, 1600, 600)
    started = time.perf_counter()
    code = main(["run", "reconstruct", "--input", str(path), "--out", str(tmp_path / "o.tif"), "--weights-dir",
                 str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2 and time.perf_counter() - started < 5
    line = _one_error_line(err)
    assert "bomb.tif is 1600 x 1600 px x 600 bands of int16: reading it would take about 25.7 GiB" in line
    assert "the command line takes inputs up to 512 MiB" in line


# ---------------------------------------------------------------- 6: a 100 000² file on the command line
# (class maps of inputs over the budget run block by block: tests/inference/test_blockwise.py)

def test_cli_refuses_a_huge_sparse_input_with_its_size_and_the_limit(tmp_path, capsys):
    from geofm.io.header import cli_budget_bytes

    path = _declared(tmp_path / "huge.tif", 100_000, 100_000, 6)
    code = main(["run", "reconstruct", "--input", str(path), "--out", str(tmp_path / "o.tif"), "--weights-dir",
                 str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2
    line = _one_error_line(err)
    budget = cli_budget_bytes() / 2**30
    assert "huge.tif is 100000 x 100000 px x 6 bands of int16: reading it would take about 1005.8 GiB" in line
    assert f"takes inputs up to {budget:.1f} GiB" in line


# ---------------------------------------------------------------- 7: what cannot be HLS

def test_one_degree_pixels_are_refused(tmp_path, capsys):
    path = write_tif(tmp_path / "deg.tif", hls_like(1, 20, 20)[0], crs="EPSG:4326",
                     transform=Affine(1.0, 0, 60.0, 0, -1.0, 30.0))
    code = main(["run", "flood", "--input", str(path), "--out", str(tmp_path / "o.tif"), "--weights-dir",
                 str(tmp_path)])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "deg.tif has 104.6 km x 111.3 km pixels; the models were trained on 30 m HLS pixels and take 3 to 300 m." \
        in line
    with pytest.raises(InputError, match="deg.tif has 104.6 km x 111.3 km pixels"):
        uploads.check_raster_files([tmp_path / "deg.tif"])


def test_complex_samples_are_refused(tmp_path, capsys):
    path = write_tif(tmp_path / "cplx.tif", hls_like(1, 20, 20)[0].astype(np.complex64), nodata=None)
    code = main(["run", "flood", "--input", str(path), "--out", str(tmp_path / "o.tif"), "--weights-dir",
                 str(tmp_path)])
    assert code == 2
    assert "cplx.tif holds complex64 samples; HLS bands are integers (DN) or floats" in \
        _one_error_line(capsys.readouterr().err)


def test_pixels_far_from_30_m_run_with_a_warning(tmp_path, capsys):
    from geofm.config import MODELS
    from tests.checkpoints import write_mae_checkpoint

    spec = MODELS["prithvi-eo-2.0-tiny-tl"]
    write_mae_checkpoint(tmp_path / spec.filename, spec.arch, seed=3)
    path = write_tif(tmp_path / "s10.tif", hls_like(1, 40, 40)[0], transform=Affine(10, 0, 700_000, 0, -10, 4.6e6))
    code = main(["run", "reconstruct", "--model", spec.name, "--input", str(path), "--out", str(tmp_path / "r.tif"),
                 "--weights-dir", str(tmp_path), "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("wrote ")
    assert "geofm: s10.tif has 10 m pixels, far from HLS's 30 m: results may be poor" in err


def test_ordinary_utm_and_degree_grids_pass_without_a_warning(tmp_path):
    from geofm.io.header import check_header, read_header

    utm = write_tif(tmp_path / "utm.tif", hls_like(1, 10, 10)[0])
    deg = write_tif(tmp_path / "deg.tif", hls_like(1, 10, 10)[0], crs="EPSG:4326",
                    transform=Affine(0.00027, 0, 10.0, 0, -0.00027, 45.0))  # ~30 m at 45 N: 21 x 30 m
    assert check_header(read_header(utm)) == []
    assert check_header(read_header(deg)) == []


# ---------------------------------------------------------------- 12: private per-run upload folder

def test_uploads_go_to_a_private_folder_removed_after_the_run(tmp_path):
    content = b"II*\x00data"
    long_name = "a" * 300 + ".tif"
    odd = "../../etc/pass wd\x00;.TIFF"
    with uploads.saved_files([(long_name, content), (odd, content), ("..", content)]) as paths:
        folder = paths[0].parent
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert folder.name.startswith("geofm-upload-") and all(p.parent == folder for p in paths)
        names = [p.name for p in paths]
        assert all(len(n) <= uploads.MAX_NAME_CHARS for n in names)
        assert names[0].startswith("00_aaaa") and names[0].endswith(".tif")
        assert names[1] == "01_pass_wd.tiff" and names[2] == "02_upload.tif"
        assert all(p.read_bytes() == content for p in paths)
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths)
    assert not folder.exists()
    with uploads.saved_files([("a.tif", content)]) as again:
        assert again[0].parent != folder  # a fresh, unpredictable folder each run


def test_uploads_never_write_through_a_planted_link(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    planted = tmp_path / "run"
    planted.mkdir(mode=0o700)
    (planted / "00_a.tif").symlink_to(victim)
    monkeypatch.setattr(uploads.tempfile, "mkdtemp", lambda prefix="": str(planted))
    with pytest.raises(OSError):
        with uploads.saved_files([("a.tif", b"evil")]):
            pass
    assert victim.read_text() == "keep me"


def test_uploaded_folder_is_removed_when_the_run_fails(tmp_path):
    with pytest.raises(InputError):
        with uploads.saved_files([("four.tif", b"not a tiff")]) as paths:
            folder = paths[0].parent
            uploads.check_raster_files(paths)
    assert not folder.exists() and not os.path.exists(paths[0])
