"""Precision per device (auto / bf16 / fp16 / fp32), batch sizes from the memory table, fp16 overflow retry."""

import pytest
import torch
from torch import nn

from geofm.config import MODELS, WINDOW_MEMORY_FALLBACK_MIB, BatchPolicy, WindowMemory, get_model_spec
from geofm.errors import InputError
from geofm.inference import device as device_mod
from geofm.inference import precision as prec
from geofm.inference.precision import choose_precision, resolve_precision
from geofm.inference.sliding import slide_logits
from geofm.settings import SettingsError

CUDA = torch.device("cuda")
CPU = torch.device("cpu")


@pytest.mark.parametrize("capability, expected", [((9, 0), "bf16"), ((8, 9), "bf16"), ((8, 0), "bf16"),
                                                  ((7, 5), "fp16"), ((7, 0), "fp16"), ((6, 1), "fp16")])
def test_auto_on_gpus_by_compute_capability(capability, expected):
    assert choose_precision("auto", "cuda", capability) == expected


def test_auto_on_cpu_is_the_policy_and_explicit_requests_pass():
    assert choose_precision("auto", "cpu") == "fp32"
    assert choose_precision("auto", "cpu", policy=prec.PrecisionPolicy(cpu_auto="bf16")) == "bf16"
    for want in ("bf16", "fp16", "fp32"):
        assert choose_precision(want, "cpu") == want
        assert choose_precision(want.upper(), "cuda", (9, 0)) == want
    assert choose_precision("fp16", "cuda", (7, 5)) == "fp16"
    assert choose_precision("fp32", "cuda", (7, 5)) == "fp32"


def test_bf16_on_an_old_gpu_and_unknown_names_are_input_errors():
    with pytest.raises(InputError, match=r"compute capability 7\.5\) has no native bf16"):
        choose_precision("bf16", "cuda", (7, 5))
    with pytest.raises(InputError, match="Unknown precision 'fp8'; use auto, bf16, fp16, fp32"):
        choose_precision("fp8", "cpu")


def test_resolve_asks_the_device_and_reads_the_operator_setting(monkeypatch):
    asked = []

    def capability(dev):
        asked.append(dev)
        return (7, 5)

    monkeypatch.setattr(torch.cuda, "get_device_capability", capability)
    monkeypatch.delenv("GEOFM_PRECISION", raising=False)
    assert resolve_precision(None, CUDA) == "fp16" and asked == [CUDA]
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda dev: (9, 0))
    assert resolve_precision(None, CUDA) == "bf16"
    monkeypatch.setenv("GEOFM_PRECISION", "fp32")
    assert resolve_precision(None, CUDA) == "fp32"
    assert resolve_precision("fp16", CUDA) == "fp16"  # an explicit request beats the setting
    monkeypatch.setenv("GEOFM_PRECISION", "bf16")
    assert resolve_precision(None, CPU) == "bf16"
    monkeypatch.setenv("GEOFM_PRECISION", "nonsense")  # a bad setting: one clear line
    with pytest.raises(SettingsError, match=r"^GEOFM_PRECISION must be auto, bf16, fp16 or fp32, got 'nonsense'\.$"):
        resolve_precision(None, CPU)


def test_batch_size_comes_from_the_measured_table(monkeypatch):
    flood = get_model_spec("flood")
    monkeypatch.setitem(device_mod.WINDOW_MEMORY_MIB, flood.name, WindowMemory(fp32=200.0, half=100.0))
    policy = BatchPolicy(cpu=2, max_gpu=64, headroom=0.5)
    gib = 2**30
    assert device_mod.batch_for_memory(8 * gib, flood, "fp32", policy) == 20  # 4 GiB / 200 MiB
    assert device_mod.batch_for_memory(8 * gib, flood, "bf16", policy) == 40
    assert device_mod.batch_for_memory(80 * gib, flood, "bf16", policy) == 64  # capped
    assert device_mod.batch_for_memory(2**20, flood, "fp32", policy) == 1  # at least one
    mae = MODELS["prithvi-eo-1.0-100m"]
    monkeypatch.delitem(device_mod.WINDOW_MEMORY_MIB, mae.name, raising=False)
    assert device_mod.window_mib(mae, "fp32") == WINDOW_MEMORY_FALLBACK_MIB * 3
    assert device_mod.default_batch_size(CPU, flood, "fp32") == device_mod.BATCH_POLICY.cpu


def test_every_segmenter_has_a_measured_memory_row():
    for spec in MODELS.values():
        if spec.kind == "segmenter":
            row = device_mod.WINDOW_MEMORY_MIB[spec.name]
            assert 0 < row.half < row.fp32 and row.how


class Overflowing(nn.Module):
    """Finite in fp32, but its hidden activation (~1e6) is beyond fp16's range under fp16 autocast."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.Conv2d(6, 4, 1)
        self.down = nn.Conv2d(4, 2, 1)
        with torch.no_grad():
            self.up.weight.fill_(2e5)
            self.up.bias.zero_()
            self.down.weight.fill_(1e-5)
            self.down.bias.zero_()
        self.dtypes = []

    def forward(self, x):
        b, c, t, h, w = x.shape
        hidden = self.up(x.reshape(b, c * t, h, w).abs() + 1)
        self.dtypes.append(hidden.dtype)
        return self.down(hidden)


def test_fp16_overflow_reruns_the_batch_in_fp32():
    model = Overflowing()
    x = torch.rand(6, 1, 224, 336)
    ref = slide_logits(model, x, 2, batch_size=2, precision="fp32")
    model.dtypes.clear()
    got = slide_logits(model, x, 2, batch_size=2, precision="fp16")
    assert model.dtypes == [torch.float16, torch.float32]  # one batch, overflowed, rerun in fp32
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, ref)


def test_fp16_and_bf16_autocast_really_run_in_half_precision():
    model = Overflowing()
    with torch.no_grad():
        model.up.weight.fill_(1.0)
    x = torch.rand(6, 1, 224, 224)
    for precision, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16), ("fp32", torch.float32)):
        model.dtypes.clear()
        slide_logits(model, x, 2, batch_size=1, precision=precision)
        assert model.dtypes == [dtype]
