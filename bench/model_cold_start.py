"""Cold start: a fresh process to its first result, split into import, weight loading, folding, first forward.

    python bench/model_cold_start.py                    # flood model, CPU, published-layout file written once
    python bench/model_cold_start.py --task crops --weights-dir /tmp/geofm-bench-weights

Each measurement is a new Python process (nothing warm but the OS page cache, which the first "before"
run fills for both paths). Paths:

* before: what geofm did until now — ``load_model`` (restricted unpickling of the published ``.pth``),
  ``fold_segmenter`` on CPU, then the first window through ``segment_stack``;
* after, first start: ``load_ready_model`` finds no ready copy — the same work plus the sha256 of the
  source and writing the folded safetensors copy (once per machine and weights file);
* after: ``load_ready_model`` verifies the source's sha256 and reads the folded copy with safetensors into
  a meta-built folded model — no unpickling, no fold.

With the app's background preload (``geofm.serve.warmup``), a visitor who arrives after the preload finished
waits only for the first forward. Weights are random, full size, in the published key layout
(``tests/checkpoints.py``): load time does not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAGES = ("import", "checksum", "weights", "fold", "write copy", "first forward")


def _child(mode: str, task: str, weights_dir: str) -> None:
    """Runs in the fresh process: time each stage and print them as JSON."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    import numpy as np
    import torch
    from affine import Affine
    from rasterio.crs import CRS

    from geofm.config import get_model_spec
    from geofm.models.fold import fold_segmenter
    from geofm.inference.segment import segment_stack
    from geofm.models.prepared import LoadTimes, load_ready_model
    from geofm.models.weights import load_model
    from geofm.stack import HLSStack
    seconds["import"] = time.perf_counter() - t0
    torch.set_num_threads(max(1, torch.get_num_threads()))
    spec = get_model_spec(task)
    prepared = ""
    if mode == "before":
        t = time.perf_counter()
        model = load_model(spec, weights_dir=weights_dir)
        seconds["weights"] = time.perf_counter() - t
        t = time.perf_counter()
        model = fold_segmenter(model, inplace=True)
        seconds["fold"] = time.perf_counter() - t
    else:
        times = LoadTimes()
        model = load_ready_model(spec, weights_dir=weights_dir, times=times)
        seconds.update(times.seconds)
        prepared = times.prepared
    rng = np.random.default_rng(0)
    frames = spec.num_frames
    data = rng.integers(200, 4000, (frames, 6, 224, 224)).astype(np.int16)
    stack = HLSStack(data, np.ones((frames, 224, 224), bool), CRS.from_epsg(32615),
                     Affine(30, 0, 700000, 0, -30, 4600000))
    t = time.perf_counter()
    result = segment_stack(model, spec, stack, device=torch.device("cpu"))
    seconds["first forward"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "prepared": prepared, "classes": int(result.classes.max())}))


def _write_weights(task: str, folder: Path) -> Path:
    from geofm.config import get_model_spec
    from tests.checkpoints import write_mmseg_checkpoint

    spec = get_model_spec(task)
    path = folder / spec.filename
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"writing a full-size {spec.filename} in the published layout to {folder} …", flush=True)
        classes = (0, 1) if task == "flood" else tuple(range(1, 14))
        write_mmseg_checkpoint(path, spec.arch, 1, classes=classes)
    return path


def _run(mode: str, task: str, weights_dir: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--task", task,
                          "--weights-dir", str(weights_dir)], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="flood", choices=["flood", "crops"])
    p.add_argument("--weights-dir", default=None, help="folder for the published-layout file (kept)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.child, args.task, args.weights_dir)
        return 0
    from geofm.config import get_model_spec
    from geofm.models.prepared import SUFFIX

    folder = Path(args.weights_dir or Path(tempfile.gettempdir()) / "geofm-bench-weights")
    source = _write_weights(args.task, folder)
    copy = source.with_name(source.name + SUFFIX)
    copy.unlink(missing_ok=True)
    print(f"{get_model_spec(args.task).title}, CPU, {source.stat().st_size / 1e6:.0f} MB source file; "
          "each column a fresh process", flush=True)
    _run("before", args.task, folder)  # warm the page cache for both paths alike
    rows = {"before": _run("before", args.task, folder), "after, first start": _run("after", args.task, folder),
            "after": _run("after", args.task, folder)}
    assert rows["after"]["prepared"] == "used", rows["after"]
    assert len({r["classes"] for r in rows.values()}) == 1
    names = list(rows)
    print(f"{'stage (s)':<16}" + "".join(f"{n:>20}" for n in names))
    for stage in (*STAGES, "total"):
        print(f"{stage:<16}" + "".join(f"{rows[n]['seconds'].get(stage, 0.0):>20.2f}" for n in names))
    before, after = rows["before"]["seconds"], rows["after"]["seconds"]
    load_before = before["weights"] + before.get("fold", 0.0)
    load_after = after["weights"] + after.get("checksum", 0.0)
    print(f"model ready (weights + fold [+ checksum]): {load_before:.2f} s -> {load_after:.2f} s "
          f"({load_before / load_after:.1f}x faster)")
    print(f"fresh process to first result: {before['total']:.2f} s -> {after['total']:.2f} s "
          f"({before['total'] / after['total']:.2f}x)")
    print(f"visitor after the background preload: first forward only, {after['first forward']:.2f} s")
    print(f"folded copy: {copy.stat().st_size / 1e6:.0f} MB at {copy}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
