"""Precision and batch sizing: what ``auto`` means per device and the measured memory per window."""

from __future__ import annotations

from dataclasses import dataclass



@dataclass(frozen=True)
class PrecisionPolicy:
    """What ``auto`` means on each device.

    * CUDA with compute capability >= ``bf16_min_capability`` (A100, H100, L4, RTX 30xx+): bf16 autocast
      (native bf16 tensor cores, fp32 exponent range: nothing overflows);
    * older CUDA GPUs (T4 = 7.5, V100 = 7.0: no bf16 tensor cores): fp16 autocast, with a per-batch
      fallback to fp32 if a batch's logits are not finite;
    * CPU: ``cpu_auto``. bf16 autocast on the project's AVX512-BF16 CPU (AMD EPYC, no AMX) is ~2x faster
      than fp32, and its class maps agree with fp32 on 99.68-99.82 % of pixels for flood but only
      99.26-99.37 % for crops (bench/precision.py, published-layout random weights, bench and stand-in
      inputs; random weights are a weak proxy for the real ones). Crops miss the 99.5 % bar, so CPU
      stays fp32 unless an operator asks for bf16. (fp16 on this CPU has no fast kernels: ~30x slower.)
    """

    bf16_min_capability: tuple[int, int] = (8, 0)
    cpu_auto: str = "fp32"


PRECISION_POLICY = PrecisionPolicy()


@dataclass(frozen=True)
class WindowMemory:
    """Peak device memory per 224x224 window of one forward pass, MiB (activations, weights excluded)."""

    fp32: float
    half: float  # bf16 or fp16 autocast
    how: str = ""


#: Measured per model (``bench/memory.py``). CPU figures: peak of PyTorch's CPU allocator during a batch-2
#: forward (``torch.profiler`` memory profiling), minus the input, per window. GPU: ``bench/gpu_check.sh``
#: (``torch.cuda.max_memory_allocated`` over batches of 8 and 16, slope per window) replaces these when run.
WINDOW_MEMORY_MIB: dict[str, WindowMemory] = {
    "prithvi-eo-1.0-100m-sen1floods11": WindowMemory(
        fp32=111, half=56, how="CPU, torch 2.13, folded + oneDNN, batches 1 and 2 (bench/memory.py)"),
    "prithvi-eo-1.0-100m-burn-scar": WindowMemory(
        fp32=111, half=56, how="CPU, torch 2.13, folded + oneDNN, batches 1 and 2 (bench/memory.py)"),
    "prithvi-eo-1.0-100m-multi-temporal-crop": WindowMemory(
        fp32=332, half=167, how="CPU, torch 2.13, folded + oneDNN, batches 1 and 2 (bench/memory.py)"),
    # EO-2.0: per 512-px window (resized inside the model); half = fp32 / 2 is an estimate
    "prithvi-eo-2.0-300m-tl-sen1floods11": WindowMemory(
        fp32=176, half=88, how="CPU, torch 2.13, oneDNN, one window at 448 px (bench/models.py)"),
    "prithvi-eo-2.0-300m-burn-scars": WindowMemory(
        fp32=176, half=88, how="estimate: at most the flood model's (it runs 224 px, the flood model 448 px)"),
}
#: Used for a model not in the table (e.g. the MAEs): a generous guess per window and frame.
WINDOW_MEMORY_FALLBACK_MIB: float = 300.0


@dataclass(frozen=True)
class BatchPolicy:
    """Windows per forward pass. GPU: the memory table x ``headroom`` of the free memory, at most
    ``max_gpu``. CPU: ``cpu`` (oneDNN runs a 197-token window at full speed already; larger batches only
    add padding to the last one)."""

    cpu: int = 2
    max_gpu: int = 64
    headroom: float = 0.6


BATCH_POLICY = BatchPolicy()

