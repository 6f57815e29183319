"""bf16 / fp16 vs fp32: class-map agreement, fp16 headroom and speed of the engine, per model.

    python bench/precision.py                         # CPU: flood and crops, bf16 and fp16
    python bench/precision.py --device cuda --windows 64

Models are full size with the **published-layout random weights** of the tests (``tests/checkpoints.py``,
seed 0), folded and tuned as the pipeline runs them. Random weights are a weak proxy for the real ones:
their logits are not trained to separate classes, so near-ties (where low precision flips a class) may be
more or less common than with the published weights. Two inputs: ``bench`` = the bench's HLS-like texture,
``standin`` = the stand-in server's synthetic scene values (``tests/standin/layout.py``), both as one
strip of windows. "fp16 headroom" is the largest |activation| of any layer under fp16 autocast, against
fp16's 65504.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from geofm.config import get_model_spec  # noqa: E402
from geofm.inference.device import device_label, resolve_device, tune_for_device  # noqa: E402
from geofm.models.fold import fold_segmenter  # noqa: E402
from geofm.inference.prepare import prepare_input  # noqa: E402
from geofm.inference.sliding import slide_logits  # noqa: E402
from geofm.models.factory import empty_model  # noqa: E402

WINDOW, STRIDE = 224, 112


def published_random_model(task: str, seed: int = 0) -> torch.nn.Module:
    """The task's model, full size, filled with the tests' published-layout random weights."""
    from tests.checkpoints import mmseg_state_dict

    spec = get_model_spec(task)
    model = empty_model(spec)
    state = {k: v for k, v in mmseg_state_dict(spec.arch, seed).items() if not k.startswith("auxiliary_head.")}
    model.load_state_dict(state, strict=True)
    return model.eval()


def standin_dn(frames: int, height: int, width: int) -> np.ndarray:
    """(T, 6, H, W) DN as the stand-in writes them (band/date levels, position code, noise bit)."""
    from tests.standin.layout import dn

    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([np.stack([dn(b, t, 0, cols + 300, rows + 200) for b in range(6)]) for t in range(frames)])


def inputs(task: str, windows: int) -> dict[str, torch.Tensor]:
    from inference import synthetic_dn

    spec = get_model_spec(task)
    width = WINDOW + STRIDE * (windows - 1)
    raw = {"bench": synthetic_dn(spec.num_frames, WINDOW, width), "standin": standin_dn(spec.num_frames, WINDOW, width)}
    return {name: torch.from_numpy(prepare_input(dn, spec)) for name, dn in raw.items()}


def fp16_headroom(model: torch.nn.Module, tile: torch.Tensor, device: torch.device) -> float:
    """Largest |output| of any leaf module in one fp16-autocast forward."""
    peak = [0.0]

    def hook(_mod, _inp, out):
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            peak[0] = max(peak[0], float(out.detach().float().abs().max()))

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16):
            model(tile.to(device))
    finally:
        for h in handles:
            h.remove()
    return peak[0]


def run(task: str, args: argparse.Namespace, device: torch.device) -> None:
    spec = get_model_spec(task)
    model = tune_for_device(fold_segmenter(published_random_model(task)).to(device), device)
    k = len(spec.classes)
    for name, x in inputs(task, args.windows).items():
        times, maps = {}, {}
        for precision in ("fp32", *args.precisions):
            slide_logits(model, x[..., :WINDOW], k, batch_size=1, device=device, precision=precision)  # warm-up
            start = time.perf_counter()
            logits = slide_logits(model, x, k, batch_size=args.batch_size, device=device, precision=precision)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times[precision] = time.perf_counter() - start
            maps[precision] = logits.argmax(0).cpu()
        for precision in args.precisions:
            agree = 100.0 * (maps[precision] == maps["fp32"]).float().mean().item()
            print(f"{task:6s} {name:8s} {precision}: class maps {agree:7.3f} % identical to fp32; "
                  f"{args.windows / times[precision]:6.2f} windows/s vs fp32 {args.windows / times['fp32']:6.2f} "
                  f"({times['fp32'] / times[precision]:.2f}x)")
        if "fp16" in args.precisions:
            peak = fp16_headroom(model, x[None, ..., :WINDOW], device)
            print(f"{task:6s} {name:8s} fp16 headroom: largest |activation| {peak:.1f} (fp16 max 65504)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--windows", type=int, default=4, help="windows per input strip")
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--tasks", nargs="+", default=["flood", "crops"], choices=["flood", "crops", "burn-scars"])
    p.add_argument("--precisions", nargs="+", default=["bf16", "fp16"], choices=["bf16", "fp16"])
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    print(f"device: {device_label(device)}; torch {torch.__version__}; CPU threads {torch.get_num_threads()}")
    for task in args.tasks:
        run(task, args, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
