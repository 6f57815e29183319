"""Many users, one model: N concurrent small-area runs sharing batches vs the same runs one at a time.

    python bench/shared.py                                   # CPU, flood, 4 runs of 224 x 336 px
    python bench/shared.py --device cuda --area 672 672 --runs 4

Both modes go through the app's machinery: a ``JobQueue`` and ``geofm.serve.flight.SharedBatches``.
*one at a time*: each run takes its own turn in the queue (what the app did before: one run on the model
at a time). *shared*: the N runs arrive together from N threads while the model is busy, join one group
and their windows share forward passes. Every forward has exactly the batch size (the last one padded),
so the gain comes from filling batches that a single small run leaves partly empty. Also checks that
every shared result equals its run alone, bit for bit. Model: full size, random weights, folded, tuned.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from affine import Affine
from rasterio.crs import CRS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from geofm.config import get_model_spec  # noqa: E402
from geofm.inference.device import default_batch_size, device_label, resolve_device, tune_for_device  # noqa: E402
from geofm.models.fold import fold_segmenter  # noqa: E402
from geofm.inference.precision import resolve_precision  # noqa: E402
from geofm.inference.segment import segment_stacks  # noqa: E402
from geofm.inference.sliding import window_origins  # noqa: E402
from geofm.models import create_model  # noqa: E402
from geofm.serve.flight import SharedBatches  # noqa: E402
from geofm.serve.queue import JobQueue  # noqa: E402
from geofm.stack import HLSStack  # noqa: E402


def stacks_for(task: str, runs: int, height: int, width: int) -> list[HLSStack]:
    from inference import synthetic_dn

    spec = get_model_spec(task)
    out = []
    for i in range(runs):
        data = synthetic_dn(spec.num_frames, height, width, seed=i)
        out.append(HLSStack(data, np.ones((spec.num_frames, height, width), bool), CRS.from_epsg(32614),
                            Affine(30, 0, 700000 + 10000 * i, 0, -30, 4600000)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--task", default="flood", choices=["flood", "crops"])
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--area", nargs=2, type=int, default=[224, 336], metavar=("H", "W"), help="pixels per run")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--precision", default="auto")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    spec = get_model_spec(args.task)
    precision = resolve_precision(args.precision, device)
    torch.manual_seed(0)
    model = tune_for_device(fold_segmenter(create_model(spec)).to(device), device)
    batch = args.batch_size or default_batch_size(device, spec, precision)
    stacks = stacks_for(args.task, args.runs, *args.area)
    windows = len(window_origins(max(args.area[0], 224), max(args.area[1], 224))) * args.runs
    forwards = []

    def execute(_key, items, _progresses):
        forwards.append(len(items))
        return segment_stacks(model, spec, list(items), device=device, batch_size=batch, precision=precision)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def one_at_a_time() -> list:
        queue = JobQueue()
        return [queue.run(execute, "k", [s], None)[0] for s in stacks]

    def shared() -> list:
        queue = JobQueue()
        group = SharedBatches(execute)
        busy = queue.join("busy")
        queue.wait_turn(busy)  # the model is busy when the N runs arrive
        out: list = [None] * len(stacks)
        threads = [threading.Thread(target=lambda i=i: out.__setitem__(
            i, group.run("k", stacks[i], queue=queue, poll_s=0.01))) for i in range(len(stacks))]
        for t in threads:
            t.start()
        while group.waiting_groups() != 1 or sum(len(g.works) for g in group._open.values()) != len(stacks):
            time.sleep(0.005)
        queue.leave(busy)
        for t in threads:
            t.join()
        return out

    print(f"device: {device_label(device)}; {args.task}, {precision}, batch {batch}; {args.runs} runs of "
          f"{args.area[0]} x {args.area[1]} px ({windows // args.runs} window(s) each)")
    execute("k", [stacks[0]], None)  # warm-up
    times = {"one at a time": [], "shared": []}
    results = {}
    for _ in range(args.rounds):  # alternate, so background load hits both alike
        for name, fn in (("one at a time", one_at_a_time), ("shared", shared)):
            forwards.clear()
            sync()
            start = time.perf_counter()
            results[name] = fn()
            sync()
            times[name].append(time.perf_counter() - start)
            results[name + " groups"] = list(forwards)
    same = all(np.array_equal(a.classes, b.classes) for a, b in zip(results["one at a time"], results["shared"]))
    base = min(times["one at a time"])
    for name in ("one at a time", "shared"):
        best = min(times[name])
        print(f"  {name:14s}: {best:7.2f} s for {windows} windows = {windows / best:7.2f} windows/s "
              f"({base / best:.2f}x), model jobs {results[name + ' groups']}")
    print(f"  shared class maps identical to each run alone: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
