"""Issue 9, outputs: a full disk is an error, colliding and unwritable paths are refused up front, writes are
atomic (a killed writer never leaves a file that looks valid)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from geofm.cli import main
from geofm.config import MODELS
from tests.geotiff_helpers import hls_like, write_tif

REPO = Path(__file__).resolve().parents[2]
TINY = MODELS["prithvi-eo-2.0-tiny-tl"]


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory) -> dict[str, Path]:
    from tests.checkpoints import write_mae_checkpoint

    folder = tmp_path_factory.mktemp("rel_out")
    write_mae_checkpoint(folder / TINY.filename, TINY.arch, seed=3)
    scene = write_tif(folder / "scene.tif", hls_like(1, 100, 130, seed=2)[0])
    return {"weights": folder, "scene": scene}


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["run", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def _recon_args(setup, out) -> list:
    return ["reconstruct", "--model", TINY.name, "--input", setup["scene"], "--out", out,
            "--weights-dir", setup["weights"], "--device", "cpu"]


def _one_error_line(err: str) -> str:
    # progress notes ("geofm: loading ...") may come first; libtiff itself prints "_tiffWriteProc: ..."
    lines = [line for line in err.splitlines() if line.startswith("geofm: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _no_temp_left(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if p.name.startswith(".geofm-write") or p.name.endswith(".tmp")]
    assert not left, left


# ---------------------------------------------------------------- 1: a full disk is an error, old output kept

def test_full_disk_is_an_error_and_keeps_the_previous_output(tiny_setup, tmp_path):
    out = tmp_path / "rec.tif"
    old = write_tif(out, hls_like(1, 20, 20, seed=9)[0])
    before = old.read_bytes()
    limit = 24_000  # bytes: the reconstruction COG is far larger, so the write hits the limit

    def limit_size() -> None:  # the child sees EFBIG on writes past the limit, as on a full file system
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "geofm", "run", *map(str, _recon_args(tiny_setup, out))],
                          cwd=REPO, env=env, capture_output=True, text=True, preexec_fn=limit_size, timeout=300)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "wrote" not in proc.stdout
    line = _one_error_line(proc.stderr)
    assert "rec.tif" in line and "could not be written completely" in line
    assert "The previous file was kept." in line
    assert out.read_bytes() == before  # the valid old output is untouched
    _no_temp_left(tmp_path)


# ---------------------------------------------------------------- 2: colliding paths refused up front

def test_out_equal_to_input_is_refused_and_the_input_kept(tiny_setup, tmp_path, capsys):
    scene = write_tif(tmp_path / "scene.tif", hls_like(1, 40, 40, seed=1)[0])
    before = scene.read_bytes()
    code, stdout, err = _run(capsys, "reconstruct", "--model", TINY.name, "--input", scene, "--out",
                             tmp_path / "." / "scene.tif", "--weights-dir", tiny_setup["weights"])
    assert code == 2 and not stdout
    assert "is also an input" in _one_error_line(err)
    assert scene.read_bytes() == before


def test_out_equal_to_probabilities_is_refused_before_the_model_runs(tmp_path, capsys):
    scene = write_tif(tmp_path / "s.tif", hls_like(1, 40, 40)[0])
    code, _, err = _run(capsys, "flood", "--input", scene, "--out", tmp_path / "x.tif", "--probabilities",
                        tmp_path / "x.tif", "--weights-dir", tmp_path / "no-weights-here")
    assert code == 2
    line = _one_error_line(err)
    assert "--out and --probabilities are the same file" in line  # not a weights error: checked first
    assert not (tmp_path / "x.tif").exists()


def test_outputs_colliding_through_a_link_are_refused(tmp_path, capsys):
    scene = write_tif(tmp_path / "s.tif", hls_like(1, 40, 40)[0])
    (tmp_path / "link.tif").symlink_to(scene)
    code, _, err = _run(capsys, "flood", "--input", scene, "--out", tmp_path / "link.tif",
                        "--weights-dir", tmp_path)
    assert code == 2 and "is also an input" in _one_error_line(err)


# ---------------------------------------------------------------- 4: unwritable paths refused up front

@pytest.mark.parametrize("where", ["under_a_file", "proc", "sys"])
def test_unwritable_output_is_refused_up_front_in_one_line(where, tmp_path, capsys):
    scene = write_tif(tmp_path / "s.tif", hls_like(1, 40, 40)[0])
    (tmp_path / "plain.txt").write_text("a file")
    out = {"under_a_file": tmp_path / "plain.txt" / "out.tif", "proc": Path("/proc/geofm-out/out.tif"),
           "sys": Path("/sys/out.tif")}[where]
    started = time.perf_counter()
    code, stdout, err = _run(capsys, "flood", "--input", scene, "--out", out, "--weights-dir",
                             tmp_path / "no-weights-here")
    assert code == 2 and not stdout
    line = _one_error_line(err)
    assert line.startswith(f"geofm: error: Cannot write --out {out}")  # before the (missing) weights
    assert time.perf_counter() - started < 5


def test_missing_output_folder_is_created(tiny_setup, tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "rec.tif"
    code, stdout, _ = _run(capsys, *_recon_args(tiny_setup, out))
    assert code == 0 and stdout.startswith(f"wrote {out}")
    with rasterio.open(out) as src:
        assert src.count == 6
    _no_temp_left(out.parent)


# ---------------------------------------------------------------- 3: atomic writes

_WRITER = textwrap.dedent("""
    import sys, numpy as np
    from affine import Affine
    from rasterio.crs import CRS
    from geofm.cli import _sigterm_unwinds
    from geofm.stack import SegmentationResult
    from geofm.io.geotiff import write_class_map_cog
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 2, size=(5000, 5000), dtype=np.uint8)
    res = SegmentationResult(classes=classes, crs=CRS.from_epsg(32614),
                             transform=Affine(30, 0, 700000, 0, -30, 4600000), model="m",
                             class_names=("a", "b"), class_colors=((0, 0, 0), (255, 255, 255)))
    print("ready", flush=True)
    with _sigterm_unwinds():
        while True:
            write_class_map_cog(res, sys.argv[1])
""")


def _old_class_map(path: Path) -> np.ndarray:
    from geofm.io.geotiff import write_class_map_cog
    from geofm.stack import SegmentationResult

    arr = np.full((50, 60), 1, np.uint8)
    write_class_map_cog(SegmentationResult(classes=arr, crs=CRS.from_epsg(32614),
                                           transform=Affine(30, 0, 700000, 0, -30, 4600000), model="old",
                                           class_names=("a", "b"), class_colors=((0, 0, 0), (9, 9, 9))), path)
    return arr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_writer_killed_mid_write_leaves_the_old_file_or_the_new_one(sig, tmp_path):
    out = tmp_path / "classes.tif"
    old = _old_class_map(out)
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(out)], cwd=REPO, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".geofm-write") for p in tmp_path.iterdir()):
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.005)
        time.sleep(0.05)  # inside GDAL's COG write
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with rasterio.open(out) as src:  # the target is always a complete file: the old one or a full new one
        got = src.read(1)
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    if got.shape == old.shape:
        assert np.array_equal(got, old)
    else:
        assert got.shape == (5000, 5000) and set(np.unique(got)) == {0, 1}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".ovr.tmp")]
    if sig == signal.SIGTERM:  # a catchable signal also removes the temporary folder
        _no_temp_left(tmp_path)


# ---------------------------------------------------------------- issue 18: tags in the one write; stale temporaries

def test_a_full_disk_during_the_provenance_keeps_the_old_output_and_never_says_wrote(tiny_setup, tmp_path, capsys):
    """The provenance tags are part of the one atomic write: a disk that takes the bare class map but not the
    tagged one fails before the rename, the old file survives and nothing says "wrote"."""
    probe = tmp_path / "probe" / "rec.tif"
    code, out_text, _ = _run(capsys, *_recon_args(tiny_setup, probe))
    assert code == 0 and out_text.startswith("wrote")
    with rasterio.open(probe) as src:
        assert src.tags()["GEOFM_TASK"] == "reconstruct" and src.tags()["GEOFM_CHECKPOINT_SHA256"]
    full_size = probe.stat().st_size
    bare = tmp_path / "bare.tif"
    from geofm.io.geotiff import _write_cog
    with rasterio.open(probe) as src:
        _write_cog(src.read(), bare, crs=src.crs, transform=src.transform, nodata=src.nodata,
                   tags={k: v for k, v in src.tags().items() if not k.startswith("GEOFM_")})
    assert bare.stat().st_size < full_size - 1  # the tags alone would push the file past the limit below

    out = tmp_path / "rec.tif"
    old = write_tif(out, hls_like(1, 20, 20, seed=9)[0])
    before = old.read_bytes()
    limit = full_size - 1

    def limit_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "geofm", "run", *map(str, _recon_args(tiny_setup, out))],
                          cwd=REPO, env=env, capture_output=True, text=True, preexec_fn=limit_size, timeout=300)
    print(f"full disk at the provenance: exit {proc.returncode} after {time.monotonic() - started:.1f} s")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "wrote" not in proc.stdout
    line = _one_error_line(proc.stderr)
    assert "rec.tif" in line and ".part" not in line and TEMP_NAME not in line, line
    assert out.read_bytes() == before  # the old output is untouched
    assert not out.with_name("rec.item.json").exists()
    _no_temp_left(tmp_path)


TEMP_NAME = ".geofm-write"


def test_stale_temporaries_of_killed_writes_are_removed_on_the_next_write(tmp_path):
    import fcntl

    old_time = time.time() - 2 * 86400  # two days: far past any write still in progress
    stale = tmp_path / ".geofm-write-killed1"
    stale.mkdir()
    (stale / "classes.tif").write_bytes(b"II*\x00" + bytes(5000))  # what a SIGKILL mid-write leaves
    (stale / ".lock").touch()
    old_style = tmp_path / ".geofm-write-killed2"  # left by an older geofm: no lock file
    old_style.mkdir()
    (old_style / "x.tif").write_bytes(bytes(100))
    probe = tmp_path / ".geofm-write-abc.probe"
    probe.touch()
    busy = tmp_path / ".geofm-write-busy"  # a live writer in another process: old, but its lock is held
    busy.mkdir()
    held = os.open(busy / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)
    fresh = tmp_path / ".geofm-write-fresh"  # started a moment ago
    fresh.mkdir()
    for p in (stale / "classes.tif", stale / ".lock", stale, old_style / "x.tif", old_style, probe, busy):
        os.utime(p, (old_time, old_time))
    try:
        _old_class_map(tmp_path / "classes.tif")
        left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(TEMP_NAME))
        assert left == [".geofm-write-busy", ".geofm-write-fresh"], left
        assert (tmp_path / "classes.tif").is_file()
    finally:
        os.close(held)
