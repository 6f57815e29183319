"""EO-1.0 100M vs EO-2.0 300M fine-tunes of one task: speed per window and per area, FLOPs, memory, bf16.

    python bench/models.py                              # flood on CPU (auto device), 512 x 512 px area
    python bench/models.py --task burn-scars --device cuda --size 2048

Each model runs as the pipeline runs it (``geofm.inference.segment.segment_stack``: EO-1.0 folded, kernels
tuned for the device, fixed-size batches, the registry's windowing: EO-1.0 224 px windows at stride 112,
EO-2.0 512 px windows at stride 512 resized to the model's input) over the same synthetic area. Weights
are random and full size (speed does not depend on them). On a shared CPU the models are timed in
alternating rounds; the ratio of each round comes from the same round's two timings.

Per model: windows/s, seconds per km2 (the area's time / its km2 at 30 m), GFLOP per window (conv + matmul,
torch's counter), peak memory per window (CPU: PyTorch's allocator via the profiler, one window's forward;
CUDA: max_memory_allocated), and with ``--bf16`` the share of pixels whose class under bf16 autocast equals
fp32's (CPU with AVX512-BF16 or CUDA).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from affine import Affine  # noqa: E402
from rasterio.crs import CRS  # noqa: E402

from geofm.config import get_model_spec, task_models  # noqa: E402
from geofm.inference.device import device_label, resolve_device, tune_for_device  # noqa: E402
from geofm.inference.fold import fold_segmenter  # noqa: E402
from geofm.inference.segment import segment_stack  # noqa: E402
from geofm.inference.sliding import window_origins  # noqa: E402
from geofm.models import create_model  # noqa: E402
from geofm.stack import HLSStack  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from inference import synthetic_dn  # noqa: E402
from memory import cpu_peak_bytes, cuda_peak_bytes  # noqa: E402


def area(size: int) -> HLSStack:
    data = synthetic_dn(1, size, size).astype(np.float32)
    return HLSStack(data=data, valid=np.ones((1, size, size), bool), crs=CRS.from_epsg(32615),
                    transform=Affine(30, 0, 500000, 0, -30, 3300000), times=[datetime(2022, 8, 30)],
                    scene_ids=["bench"])


def build(name: str, device: torch.device) -> torch.nn.Module:
    spec = get_model_spec(name)
    model = create_model(spec)
    if spec.checkpoint_layout == "mmseg":
        model = fold_segmenter(model, inplace=True)
    return tune_for_device(model.to(device).eval(), device)


def window_input(name: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    spec = get_model_spec(name)
    x = torch.randn(1, 6, 1, spec.window, spec.window)
    coords = {}
    if spec.config_file:
        coords = {"temporal_coords": torch.tensor([[[2022.0, 242.0]]]),
                  "location_coords": torch.tensor([[29.8, -95.4]])}
    return x, coords


def gflop(model: torch.nn.Module, name: str) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    from geofm.inference.onednn import plain_linears

    x, coords = window_input(name)
    with torch.inference_mode(), plain_linears(), FlopCounterMode(display=False) as counter:
        model(x.to(next(model.parameters()).device), **{k: v.to(x.device) for k, v in coords.items()})
    return counter.get_total_flops() / 1e9


def peak_mib(model: torch.nn.Module, name: str, device: torch.device) -> float:
    x, coords = window_input(name)
    x = x.to(device)
    coords = {k: v.to(device) for k, v in coords.items()}

    def run() -> None:
        with torch.inference_mode():
            model(x, **coords)

    run()
    peak = cuda_peak_bytes(run, device) if device.type == "cuda" else cpu_peak_bytes(run)
    return peak / 2**20


def bf16_agreement(model: torch.nn.Module, stack: HLSStack, name: str, device: torch.device) -> float:
    spec = get_model_spec(name)
    ref = segment_stack(model, spec, stack, device=device, precision="fp32").classes
    low = segment_stack(model, spec, stack, device=device, precision="bf16").classes
    return 100.0 * float((ref == low).mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="flood", choices=["flood", "burn-scars"])
    p.add_argument("--device", default="auto")
    p.add_argument("--size", type=int, default=512, help="side of the square area, px (default 512)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--bf16", action="store_true", help="also bf16 agreement with fp32")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    names = list(task_models(args.task))
    stack = area(args.size)
    km2 = (args.size * 30 / 1000) ** 2
    models = {n: build(n, device) for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    for n in names:  # warm-up
        segment_stack(models[n], get_model_spec(n), area(get_model_spec(n).window), device=device,
                      batch_size=args.batch_size, precision="fp32")
    for _ in range(args.rounds):
        for n in names:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t0 = time.perf_counter()
            segment_stack(models[n], get_model_spec(n), stack, device=device, batch_size=args.batch_size,
                          precision="fp32")
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times[n].append(time.perf_counter() - t0)
    print(f"{args.task} on {device_label(device)}, {torch.get_num_threads()} threads, area {args.size} px "
          f"({km2:.1f} km2), fp32, {args.rounds} alternating rounds")
    rows = {}
    for n in names:
        spec = get_model_spec(n)
        windows = len(window_origins(args.size, args.size, spec.window, spec.stride))
        best = min(times[n])
        rows[n] = {"windows": windows, "seconds": best, "windows_per_s": windows / best, "s_per_km2": best / km2,
                   "gflop_per_window": gflop(models[n], n), "peak_mib_per_window": peak_mib(models[n], n, device),
                   "window_px": spec.window, "model_px": spec.resize or spec.window}
        if args.bf16:
            rows[n]["bf16_agreement_pct"] = bf16_agreement(models[n], stack, n, device)
        r = rows[n]
        extra = f", bf16 agrees on {r['bf16_agreement_pct']:.2f}% of pixels" if args.bf16 else ""
        print(f"  {n}: {r['windows']} windows of {r['window_px']} px (model {r['model_px']} px), "
              f"{r['windows_per_s']:.3f} windows/s, {r['s_per_km2']:.3f} s/km2, {r['gflop_per_window']:.0f} "
              f"GFLOP/window, peak {r['peak_mib_per_window']:.0f} MiB/window{extra}")
    a, b = names
    ratios = [tb / ta for ta, tb in zip(times[a], times[b])]
    print(f"  time per area {b} / {a}: {', '.join(f'{x:.2f}' for x in ratios)} (per round)")
    if args.json:
        args.json.write_text(json.dumps({"task": args.task, "device": device_label(device), "size": args.size,
                                         "rows": rows, "ratios": ratios}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
