"""Windows per second: the official demo's way vs geofm's engine, for the flood and crop segmenters.

    python bench/inference.py                      # CPU or GPU (auto), 4 windows per path and model
    python bench/inference.py --windows 64 --device cuda --compile --precision bf16

* demo path: the unfolded model, fp32, one window per forward, plain ``model(window)`` under no_grad
  (what the official Space / mmseg ``slide`` inference does);
* engine: ``geofm.inference`` as the pipeline runs it: folded head, tuned kernels (oneDNN linears on
  CPU), windows in fixed-size batches through ``slide_logits``, the precision ``auto`` picks for the
  device (or ``--precision``), inference_mode.

Weights are random and full size (``create_model``): speed does not depend on their values. On a shared
CPU the two paths are timed in alternating rounds so that background load hits both alike; the ratio of
each round is computed from the same round's two timings. GFLOP/s = convolution + matmul FLOPs (torch's
counter) per window x windows/s. When the engine runs below fp32 it also prints how often its class
map agrees with the fp32 one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geofm.config import get_model_spec  # noqa: E402
from geofm.inference.device import default_batch_size, device_label, resolve_device, tune_for_device  # noqa: E402
from geofm.inference.precision import autocast, resolve_precision  # noqa: E402
from geofm.models.fold import fold_segmenter  # noqa: E402
from geofm.inference.prepare import prepare_input  # noqa: E402
from geofm.inference.sliding import slide_logits  # noqa: E402
from geofm.models import create_model  # noqa: E402

WINDOW, STRIDE = 224, 112


def synthetic_dn(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """(T, 6, H, W) int16 DN with HLS-like band levels and texture."""
    rng = np.random.default_rng(seed)
    base = np.array([600, 900, 1000, 2800, 2200, 1500], np.float32).reshape(1, 6, 1, 1)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = (np.sin(yy / 11) + np.cos(xx / 17))[None, None] * 400
    return np.clip(base + texture + rng.normal(0, 200, (frames, 6, height, width)), 1, 9000).astype(np.int16)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def strip_input(spec, windows: int) -> torch.Tensor:
    """A normalised (6, T, 224, W) strip that the slide engine cuts into exactly ``windows`` windows."""
    width = WINDOW + STRIDE * (windows - 1)
    return torch.from_numpy(prepare_input(synthetic_dn(spec.num_frames, WINDOW, width), spec))


def demo_round(model, tiles: torch.Tensor, device: torch.device) -> tuple[float, float]:
    """(wall, process CPU) seconds for the demo path over ``tiles`` (N, 6, T, 224, 224): one fp32 forward each."""
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        for tile in tiles:
            model(tile[None].to(device)).argmax(1).cpu()
    _sync(device)
    return time.perf_counter() - start, time.process_time() - cpu


def engine_round(model, strip: torch.Tensor, classes: int, batch: int, device: torch.device,
                 precision: str) -> tuple[float, float]:
    """(wall, process CPU) seconds for the engine over a strip (slide windows, batched, folded)."""
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    logits = slide_logits(model, strip, classes, window=WINDOW, stride=STRIDE, batch_size=batch, device=device,
                          precision=precision)
    logits.argmax(0).cpu()
    _sync(device)
    return time.perf_counter() - start, time.process_time() - cpu


def agreement(model, tiles: torch.Tensor, device: torch.device, precision: str) -> float:
    """% of pixels whose class is the same under ``precision``'s autocast as in fp32."""
    with torch.inference_mode():
        x = tiles.to(device)
        ref = model(x).argmax(1)
        with autocast(device, precision):
            low = model(x).float().argmax(1)
    return 100.0 * (ref == low).float().mean().item()


def gflop_per_window(model, tile: torch.Tensor) -> float:
    """Convolution + matmul GFLOP of one forward on a (1, 6, T, 224, 224) window (torch's FLOP counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    from geofm.models.onednn import plain_linears

    with torch.inference_mode(), plain_linears(), FlopCounterMode(display=False) as counter:
        model(tile)
    return counter.get_total_flops() / 1e9


def bench_task(task: str, args: argparse.Namespace, device: torch.device) -> dict:
    spec = get_model_spec(task)
    precision = resolve_precision(args.precision, device)
    torch.manual_seed(0)
    model = create_model(spec).to(device)
    engine = tune_for_device(fold_segmenter(model), device)
    if args.compile:
        engine = torch.compile(engine, dynamic=False)
    batch = args.batch_size or default_batch_size(device, spec, precision)
    engine_windows = max(batch, args.windows, args.demo_windows)
    strip = strip_input(spec, engine_windows)
    tiles = torch.stack([strip[..., x:x + WINDOW] for x in range(0, STRIDE * args.demo_windows, STRIDE)])
    classes = len(spec.classes)

    one = tiles[:1].to(device)
    flops = (gflop_per_window(model, one), gflop_per_window(engine, one))  # oneDNN off while counting
    demo_round(model, tiles[:1], device)  # warm-up (allocator, kernels, compile)
    engine_round(engine, strip[..., :WINDOW + STRIDE * (batch - 1)], classes, batch, device, precision)
    demo = np.zeros(2)
    eng = np.zeros(2)
    round_ratios = []
    for _ in range(args.rounds):  # alternate so that background load affects both paths alike
        d = np.array(demo_round(model, tiles, device))
        e = np.array(engine_round(engine, strip, classes, batch, device, precision))
        demo, eng = demo + d, eng + e
        round_ratios.append((engine_windows / e[0]) / (len(tiles) / d[0]))
    demo_rate = args.rounds * len(tiles) / demo
    engine_rate = args.rounds * engine_windows / eng
    cpu_note = device.type == "cpu"

    def line(rate: np.ndarray, gflop: float) -> str:
        extra = f"  ({1 / rate[1]:.2f} CPU-s per window)" if cpu_note else ""
        speed = f", {gflop:6.1f} GFLOP/window = {gflop * rate[0]:5.0f} GFLOP/s"
        return f"{rate[0]:9.2f} windows/s{speed}{extra}"

    compiled = ", torch.compile" if args.compile else ""
    print(f"{task:6s} demo path (unfolded, fp32, batch 1):  {line(demo_rate, flops[0])}")
    print(f"{task:6s} engine (folded, {precision}, batch {batch}{compiled}): {line(engine_rate, flops[1])}")
    ratio = engine_rate / demo_rate
    cpu_ratio = f" (CPU time per window: {ratio[1]:.2f}x)" if cpu_note else ""
    median = float(np.median(round_ratios))
    print(f"{task:6s} speed-up per window: {ratio[0]:.2f}x wall (median of rounds {median:.2f}x)"
          f"{cpu_ratio}")
    agree = None
    if precision != "fp32":
        agree = agreement(engine, tiles, device, precision)
        print(f"{task:6s} {precision} vs fp32 class-map agreement: {agree:.3f} %")
    del model, engine
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"task": task, "precision": precision, "batch": batch, "compile": args.compile,
            "demo_windows_s": float(demo_rate[0]), "engine_windows_s": float(engine_rate[0]),
            "median_ratio": median, "gflop": flops, "agreement": agree}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--windows", type=int, default=None,
                   help="engine windows per round (default: 4 on CPU, 512 on GPU)")
    p.add_argument("--demo-windows", type=int, default=None,
                   help="demo-path windows per round (default: 2 on CPU, 32 on GPU)")
    p.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3)")
    p.add_argument("--batch-size", type=int, default=None, help="engine batch (default: by device)")
    p.add_argument("--tasks", nargs="+", default=["flood", "crops"], choices=["flood", "crops", "burn-scars"])
    p.add_argument("--compile", action="store_true", help="torch.compile the engine model")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp16", "fp32"],
                   help="engine precision (default auto: bf16 on GPUs with compute capability >= 8.0, fp16 on "
                        "older ones, fp32 on CPU)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    args.windows = args.windows or (512 if gpu else 4)
    args.demo_windows = args.demo_windows or (32 if gpu else 2)
    args.rounds = args.rounds or 3
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device: {device_label(device)}; torch {torch.__version__}; CPU threads {torch.get_num_threads()}")
    rows = [bench_task(task, args, device) for task in args.tasks]
    if args.json is not None:
        import json

        args.json.write_text(json.dumps({"device": device_label(device), "torch": torch.__version__,
                                         "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
