"""A ready copy of the weights is as trustworthy as its source: damaged bytes, NaN, zeroed spans and another
model's tensors are caught at load, and the copy is rebuilt from the source (or the load stops in one line)."""

from __future__ import annotations

import dataclasses
import json
import struct
import time
from pathlib import Path

import pytest
import torch

from geofm.config import MODELS
from geofm.errors import CheckpointError, WeightsNotFoundError
from geofm.inference.fold import fold_segmenter
from geofm.models.prepared import SUFFIX, LoadTimes, load_ready_model, read_metadata, write_prepared
from geofm.models.weights import load_model
from tests.checkpoints import tiny_segmenter, write_mmseg_checkpoint

FLOOD = dataclasses.replace(MODELS["prithvi-eo-1.0-100m-sen1floods11"], arch=tiny_segmenter(num_classes=2))
BURN = dataclasses.replace(MODELS["prithvi-eo-1.0-100m-burn-scar"], arch=tiny_segmenter(num_classes=2),
                           sha256=None, revision=None)
SPAN = 64 << 10


def _logits(model: torch.nn.Module) -> torch.Tensor:
    x = torch.randn(2, 6, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return model(x)


def _reference(spec, folder: Path) -> torch.Tensor:  # noqa: ANN001
    return _logits(fold_segmenter(load_model(spec, weights_dir=folder), inplace=True))


def _ready(tmp_path: Path, spec=FLOOD, seed: int = 0) -> Path:  # noqa: ANN001
    write_mmseg_checkpoint(tmp_path / spec.filename, spec.arch, seed, classes=(0, 1))
    times = LoadTimes()
    load_ready_model(spec, weights_dir=tmp_path, times=times)
    assert times.prepared == "written"
    return tmp_path / (spec.filename + SUFFIX)


def _layout(path: Path) -> tuple[int, dict]:
    """(offset of the data section, header) of a safetensors file."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return 8 + n, json.loads(raw[8:8 + n])


def _tensor_span(path: Path, name: str) -> tuple[int, int]:
    start, header = _layout(path)
    lo, hi = header[name]["data_offsets"]
    return start + lo, start + hi


def _patch(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def _loads_the_source_again(tmp_path: Path, spec=FLOOD) -> LoadTimes:  # noqa: ANN001
    times = LoadTimes()
    model = load_ready_model(spec, weights_dir=tmp_path, times=times)
    torch.testing.assert_close(_logits(model), _reference(spec, tmp_path), rtol=0, atol=0)
    return times


def test_flipped_tensor_bytes_are_caught_and_the_copy_is_rebuilt(tmp_path: Path) -> None:
    copy = _ready(tmp_path)
    lo, hi = _tensor_span(copy, "backbone.patch_embed.proj.weight")
    assert hi - lo >= SPAN
    raw = copy.read_bytes()
    meta = read_metadata(copy)
    _patch(copy, lo, bytes(b ^ 0xFF for b in raw[lo:lo + SPAN]))
    times = _loads_the_source_again(tmp_path)
    assert times.prepared == "damaged"
    assert read_metadata(copy) == meta and copy.stat().st_size == len(raw)  # rebuilt: the same tensors again
    again = LoadTimes()
    load_ready_model(FLOOD, weights_dir=tmp_path, times=again)
    assert again.prepared == "used"


def test_nan_in_one_weight_is_caught(tmp_path: Path) -> None:
    copy = _ready(tmp_path)
    lo, _ = _tensor_span(copy, "backbone.blocks.0.attn.qkv.weight")
    _patch(copy, lo + 40, struct.pack("<f", float("nan")))
    assert _loads_the_source_again(tmp_path).prepared == "damaged"


def test_zeroed_span_is_caught(tmp_path: Path) -> None:
    copy = _ready(tmp_path)
    lo, _ = _tensor_span(copy, "backbone.patch_embed.proj.weight")
    _patch(copy, lo + 4096, bytes(SPAN))
    assert _loads_the_source_again(tmp_path).prepared == "damaged"


def _rewrite(copy: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    save_file(tensors, str(copy), metadata=metadata)


def test_another_models_copy_never_loads_as_this_model(tmp_path: Path) -> None:
    flood_dir, burn_dir = tmp_path / "flood", tmp_path / "burn"
    flood_dir.mkdir()
    burn_dir.mkdir()
    flood_copy = _ready(flood_dir, FLOOD, seed=0)
    burn_copy = _ready(burn_dir, BURN, seed=5)
    flood_meta = read_metadata(flood_copy)
    # the burn-scar copy renamed as the flood copy
    flood_copy.write_bytes(burn_copy.read_bytes())
    assert _loads_the_source_again(flood_dir).prepared in ("stale", "damaged")
    # the burn-scar tensors under the flood copy's own header (model name, source checksum, digest)
    from safetensors.torch import load_file

    _rewrite(flood_copy, load_file(str(burn_copy)), flood_meta)
    assert _loads_the_source_again(flood_dir).prepared == "damaged"


def test_a_damaged_copy_without_its_source_stops_in_one_line(tmp_path: Path) -> None:
    copy = _ready(tmp_path)
    lo, _ = _tensor_span(copy, "backbone.patch_embed.proj.weight")
    _patch(copy, lo, bytes(SPAN))
    (tmp_path / FLOOD.filename).unlink()
    with pytest.raises(WeightsNotFoundError) as err:
        load_ready_model(FLOOD, weights_dir=tmp_path)
    assert "\n" not in str(err.value) and FLOOD.filename in str(err.value)


@pytest.mark.parametrize("damage", ["nan", "inf", "zeros"])
def test_a_copy_with_nan_inf_or_zeroed_spans_is_never_stored(tmp_path: Path, damage: str) -> None:
    """The source checks hold for the copy too: it is refused when written, and the digest then keeps its
    bytes from changing unseen."""
    model = load_model(FLOOD, weights_dir=_source(tmp_path))
    with torch.no_grad():
        w = model.backbone.patch_embed.proj.weight.view(-1)
        if damage == "zeros":
            w[100:100 + SPAN // 4] = 0.0
        else:
            w[7] = float("nan") if damage == "nan" else float("inf")
    target = tmp_path / "copy" / ("x" + SUFFIX)
    with pytest.raises(CheckpointError, match="zeroed spans" if damage == "zeros" else "NaN or infinite"):
        write_prepared(model, FLOOD, target, "0" * 64, folded=False)
    assert not target.exists()


def _source(tmp_path: Path) -> Path:
    write_mmseg_checkpoint(tmp_path / FLOOD.filename, FLOOD.arch, 0, classes=(0, 1))
    return tmp_path


def test_digest_check_costs_little(tmp_path: Path) -> None:
    """The digest of 64 MB of tensors takes well under a second (the full check of a 400 MB copy is
    measured by bench/cold_start.py)."""
    from geofm.models.prepared import tensor_digest

    tensors = {f"w{i}": torch.randn(1024, 1024) for i in range(16)}
    started = time.perf_counter()
    first = tensor_digest(tensors, "m", "s")
    assert time.perf_counter() - started < 2.0
    tensors["w3"][5, 5] += 1.0
    assert tensor_digest(tensors, "m", "s") != first
    assert tensor_digest(tensors, "other", "s") != tensor_digest(tensors, "m", "s")
