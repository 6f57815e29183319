"""Peak memory per window of one forward pass, per model and precision (the batch-size table's source).

    python bench/memory.py                      # CPU: PyTorch's CPU allocator, via torch.profiler
    python bench/memory.py --device cuda        # GPU: torch.cuda.max_memory_allocated

For each batch size B in ``--batches`` it runs one forward of the engine (folded, tuned, under the
precision's autocast, inference mode) and takes the peak of the memory allocated *during* the forward
above what was allocated before it (weights and the input batch excluded). The per-window figure is the
slope between the two batch sizes, (peak(B2) - peak(B1)) / (B2 - B1), which also drops any fixed cost;
the peak/B of the larger batch is printed next to it. On CPU the peak comes from the profiler's
allocation events ([memory] rows: +bytes on allocate, -bytes on free), summed in time order.
Paste the printed ``WINDOW_MEMORY_MIB`` rows into geofm/config.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geofm.config import get_model_spec  # noqa: E402
from geofm.inference.device import device_label, resolve_device, tune_for_device  # noqa: E402
from geofm.models.fold import fold_segmenter  # noqa: E402
from geofm.inference.precision import autocast  # noqa: E402
from geofm.models import create_model  # noqa: E402


def cpu_peak_bytes(fn) -> int:
    """Peak of PyTorch CPU allocations made during ``fn()`` (net of frees), from the profiler's events."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    level = peak = 0
    for e in events:
        level += e.self_cpu_memory_usage
        peak = max(peak, level)
    return peak


def cuda_peak_bytes(fn, device: torch.device) -> int:
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base


def measure(task: str, precision: str, batches: tuple[int, int], device: torch.device) -> tuple[float, float]:
    """(MiB per window by slope, MiB per window at the larger batch)."""
    spec = get_model_spec(task)
    torch.manual_seed(0)
    model = tune_for_device(fold_segmenter(create_model(spec)).to(device), device)
    peaks = []
    for b in batches:
        x = torch.randn(b, 6, spec.num_frames, spec.window, spec.window, device=device)

        def forward():
            with torch.inference_mode(), autocast(device, precision):
                model(x)

        forward()  # warm-up: kernels, bias maps, allocator
        peaks.append(cuda_peak_bytes(forward, device) if device.type == "cuda" else cpu_peak_bytes(forward))
    mib = 2**20
    slope = (peaks[1] - peaks[0]) / (batches[1] - batches[0]) / mib
    return slope, peaks[1] / batches[1] / mib


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--tasks", nargs="+", default=["flood", "crops"], choices=["flood", "crops", "burn-scars"])
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16", "fp16"])
    p.add_argument("--batches", nargs=2, type=int, default=None, help="two batch sizes (default 1 2 CPU, 8 16 GPU)")
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    batches = tuple(args.batches or ((8, 16) if device.type == "cuda" else (1, 2)))
    print(f"device: {device_label(device)}; torch {torch.__version__}; batches {batches[0]} and {batches[1]}")
    print(f"{'model':6s} {'precision':9s} {'MiB/window (slope)':>19s} {'MiB/window (peak/B)':>20s}")
    rows = {}
    for task in args.tasks:
        for precision in args.precisions:
            slope, per = measure(task, precision, batches, device)
            rows[(task, precision)] = slope
            print(f"{task:6s} {precision:9s} {slope:19.0f} {per:20.0f}")
    for task in args.tasks:
        name = get_model_spec(task).name
        half = rows.get((task, "bf16"), rows.get((task, "fp16")))
        fp32 = rows.get((task, "fp32"))
        if fp32 is not None and half is not None:
            print(f'    "{name}": WindowMemory(fp32={fp32:.0f}, half={half:.0f}, how="{device.type}"),')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
