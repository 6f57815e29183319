"""bf16 / fp16 against fp32 on the full-size flood and crop models (published-layout random weights), on CPU.

Random weights are a weak proxy for the published ones (their logits were never trained apart, so
near-ties differ); the inputs are the stand-in's synthetic scene values. fp16 autocast on this CPU has no
fast kernels (~15 s per flood window), so fp16 is checked on one flood window; the crop model's fp16 figures
come from ``bench/precision.py`` and, on a GPU, ``bench/gpu_check.sh``.
"""

import numpy as np
import pytest
import torch

from geofm.config import PRECISION_POLICY, get_model_spec
from geofm.inference.device import tune_for_device
from geofm.models.fold import fold_segmenter
from geofm.inference.prepare import prepare_input
from geofm.inference.sliding import slide_logits
from geofm.models.factory import empty_model
from tests.checkpoints import mmseg_state_dict
from tests.standin.layout import dn

pytestmark = pytest.mark.slow
CPU = torch.device("cpu")


def _engine(task: str) -> torch.nn.Module:
    spec = get_model_spec(task)
    model = empty_model(spec)
    state = {k: v for k, v in mmseg_state_dict(spec.arch, 0).items() if not k.startswith("auxiliary_head.")}
    model.load_state_dict(state, strict=True)
    return tune_for_device(fold_segmenter(model.eval()), CPU)


def _standin_input(task: str, width: int) -> torch.Tensor:
    spec = get_model_spec(task)
    rows, cols = np.mgrid[0:224, 0:width]
    data = np.stack([np.stack([dn(b, t, 0, cols + 300, rows + 200) for b in range(6)])
                     for t in range(spec.num_frames)])
    return torch.from_numpy(prepare_input(data, spec))


def _classes(model, x, k, precision):
    return slide_logits(model, x, k, batch_size=2, precision=precision).argmax(0)


def _peak_activation(model, x, dtype):
    peak = [0.0]

    def hook(_m, _i, out):
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            assert out.dtype in (dtype, torch.float32)
            peak[0] = max(peak[0], float(out.float().abs().max()))

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    with torch.inference_mode(), torch.autocast("cpu", dtype=dtype):
        out = model(x)
    for h in handles:
        h.remove()
    return peak[0], out


def test_flood_fp16_does_not_overflow_and_matches_fp32():
    model = _engine("flood")
    x = _standin_input("flood", 224)
    peak, out = _peak_activation(model, x[None], torch.float16)  # one window: its logits are the map's
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    assert 0 < peak < 65504 / 100  # two orders of magnitude of headroom
    with torch.inference_mode():
        ref = model(x[None]).argmax(1)
    agree = (ref == out.float().argmax(1)).float().mean().item()
    assert agree >= 0.999, agree


@pytest.mark.parametrize("task, width, bar", [("flood", 448, 0.995), ("crops", 336, 0.99)])
def test_bf16_class_maps_agree_with_fp32(task, width, bar):
    """Flood: >= 99.5 %. Crops: >= 99 % only (measured 99.26-99.37 %), below the 99.5 % bar: that is why
    ``auto`` stays fp32 on CPU."""
    spec = get_model_spec(task)
    model = _engine(task)
    x = _standin_input(task, width)
    ref = _classes(model, x, len(spec.classes), "fp32")
    low = _classes(model, x, len(spec.classes), "bf16")
    agree = (ref == low).float().mean().item()
    assert agree >= bar, agree
    assert agree < 1.0  # bf16 really ran: some pixels differ
    assert PRECISION_POLICY.cpu_auto == "fp32"
