"""oneDNN linears on CPU: same parameters and numbers as nn.Linear, fallbacks where oneDNN does not apply."""

import pytest
import torch
from torch import nn

from geofm.inference.device import tune_for_device
from geofm.models.onednn import OneDNNLinear, onednn_linear_available, use_onednn_linears

pytestmark = pytest.mark.skipif(not onednn_linear_available(), reason="this PyTorch has no oneDNN linear")


def test_swap_keeps_parameters_and_numbers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(96, 384), nn.GELU(), nn.Linear(384, 96))
    keys = list(model.state_dict())
    x = torch.randn(3, 197, 96)
    with torch.inference_mode():
        ref = model(x)
    assert use_onednn_linears(model) == 2
    assert all(type(m) is OneDNNLinear for m in (model[0], model[2])) and list(model.state_dict()) == keys
    with torch.inference_mode():
        got = model(x)
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(model(x.transpose(0, 1).contiguous().transpose(0, 1)), ref, rtol=1e-5, atol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert model(x).dtype == torch.bfloat16  # autocast: the plain (autocast-aware) path
    assert use_onednn_linears(model) == 0  # already swapped


def test_training_still_gets_gradients():
    layer = nn.Linear(8, 4)
    use_onednn_linears(nn.Sequential(layer))
    layer(torch.randn(2, 8)).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.shape == (4, 8)


def test_cpu_tuning_swaps_the_transformers_linears():
    from geofm.config import get_model_spec
    from geofm.models import create_model
    from tests.checkpoints import tiny_segmenter

    model = create_model(get_model_spec("flood"), arch=tiny_segmenter(num_classes=2))
    tune_for_device(model, torch.device("cpu"))
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears and all(type(m) is OneDNNLinear for m in linears)


def test_linear_takes_a_strided_bias_and_weight():
    """oneDNN reads the bias as dense memory: a column view of a bias map summed the wrong numbers (error ~2)."""
    from geofm.models.onednn import linear

    g = torch.Generator().manual_seed(3)
    x, bias_map = torch.randn(10, 8, generator=g), torch.randn(6, 3, generator=g)
    weight = torch.randn(8, 6, generator=g).t()  # strided too
    bias = bias_map[:, 1]
    assert not bias.is_contiguous() and not weight.is_contiguous()
    with torch.inference_mode():
        torch.testing.assert_close(linear(x, weight, bias), torch.nn.functional.linear(x, weight, bias),
                                   rtol=1e-5, atol=1e-5)
