"""A series' cost: N dates through the model together (their windows share fixed-size batches, what
``geofm series`` does) vs the same N dates run one by one (N ``geofm run``s with the model already loaded).

    python bench/series.py                         # CPU or GPU (auto), 6 dates, areas of 200 and 300 px
    python bench/series.py --dates 12 --sizes 200,300,520 --device cuda --rounds 3

Both paths run the same folded flood segmenter (random weights, full size: speed does not depend on their
values) on the same synthetic dates, in alternating rounds so that background load on a shared machine hits
both alike; each round's ratio comes from that round's two timings, and the class maps of both paths are
checked to be identical. The one-by-one path is given the model already loaded: a real ``geofm run`` per date
also loads the model each time, so the measured ratio is the least a series saves.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from affine import Affine
from rasterio.crs import CRS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inference import synthetic_dn  # noqa: E402

from geofm.config import get_model_spec  # noqa: E402
from geofm.inference.device import default_batch_size, device_label, resolve_device, tune_for_device  # noqa: E402
from geofm.inference.fold import fold_segmenter  # noqa: E402
from geofm.inference.precision import resolve_precision  # noqa: E402
from geofm.inference.segment import segment_stack, segment_stacks  # noqa: E402
from geofm.inference.sliding import grid_count  # noqa: E402
from geofm.models import create_model  # noqa: E402
from geofm.stack import HLSStack  # noqa: E402


def dates(n: int, size: int) -> list[HLSStack]:
    return [HLSStack(data=synthetic_dn(1, size, size, seed=k), valid=np.ones((1, size, size), bool),
                     crs=CRS.from_epsg(32642), transform=Affine(30, 0, 357000, 0, -30, 2937000)) for k in range(n)]


def timed(fn) -> tuple[float, list]:  # noqa: ANN001
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dates", type=int, default=6)
    p.add_argument("--sizes", default="200,300", help="square areas' sides in px, comma-separated")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--precision", default=None)
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    spec = get_model_spec("flood")
    precision = resolve_precision(args.precision, device)
    torch.manual_seed(0)
    model = tune_for_device(fold_segmenter(create_model(spec).to(device).eval()), device)
    batch = args.batch_size or default_batch_size(device, spec, precision)
    kw = dict(device=device, batch_size=batch, precision=precision)
    print(f"device {device_label(device)}, precision {precision}, batch {batch}, {args.dates} dates, "
          f"{torch.get_num_threads()} threads")
    segment_stacks(model, spec, dates(1, 224), **kw)  # warm-up
    for size in (int(s) for s in args.sizes.split(",")):
        stacks = dates(args.dates, size)
        per_date = grid_count(size, spec.window, spec.stride) ** 2
        ratios, together_s, single_s = [], 0.0, 0.0
        for r in range(args.rounds):
            first_together = r % 2 == 0
            runs = {}
            for name in (("together", "single") if first_together else ("single", "together")):
                if name == "together":
                    runs[name] = timed(lambda st=stacks: segment_stacks(model, spec, st, **kw))
                else:
                    runs[name] = timed(lambda st=stacks: [segment_stack(model, spec, s, **kw) for s in st])
            same = all(np.array_equal(a.classes, b.classes) for a, b in zip(runs["together"][1], runs["single"][1]))
            assert same, "a date's class map differs between the two paths"
            together_s += runs["together"][0]
            single_s += runs["single"][0]
            ratios.append(runs["single"][0] / runs["together"][0])
        windows = per_date * args.dates
        single_batches = args.dates * -(-per_date // batch)
        together_batches = -(-windows // batch)
        print(f"{size:4d} px ({per_date} window(s) a date, {windows} in all): "
              f"together {together_s / args.rounds:7.2f} s "
              f"({together_batches} batches), one by one {single_s / args.rounds:7.2f} s ({single_batches} batches); "
              f"one by one / together = {np.mean(ratios):.2f} (rounds: {', '.join(f'{x:.2f}' for x in ratios)}); "
              "class maps identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
