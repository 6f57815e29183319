"""All of geofm's configuration in one place: bands, HLS facts, and the model registry.

Facts come from the published checkpoints and configs (see the project's docs); nothing here is
derived at run time. Other modules import these tables instead of repeating literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# --------------------------------------------------------------------------------------------
# Bands and HLS
# --------------------------------------------------------------------------------------------

#: Canonical model band order (HLS L30 names): Blue, Green, Red, NIR narrow, SWIR 1, SWIR 2.
MODEL_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B05", "B06", "B07")
BAND_LABELS: tuple[str, ...] = ("Blue", "Green", "Red", "NIR narrow", "SWIR 1", "SWIR 2")
RGB_INDICES: tuple[int, int, int] = (2, 1, 0)  # B04, B03, B02 in MODEL_BANDS

#: HLS asset keys per product, in model band order.
HLS_BAND_ASSETS: dict[str, tuple[str, ...]] = {
    "L30": ("B02", "B03", "B04", "B05", "B06", "B07"),
    "S30": ("B02", "B03", "B04", "B8A", "B11", "B12"),
}
HLS_FMASK_ASSET = "Fmask"
HLS_NODATA: int = -9999
HLS_SCALE: float = 1e-4  # DN -> reflectance
HLS_RESOLUTION_M: float = 30.0
FMASK_FILL: int = 255
#: Fmask bits that make a pixel unusable for the models: cloud (1), adjacent (2), shadow (3).
FMASK_NOT_CLEAR_BITS: int = 0b0000_1110

#: Value written for "no data" in uint8 class maps.
CLASS_NODATA: int = 255

# --------------------------------------------------------------------------------------------
# Normalisation constants
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalisation:
    """Per-band mean/std and the units they are expressed in."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    units: Literal["dn", "reflectance"]  # dn = HLS integer DN (reflectance x 10 000)


PRITHVI_V1_NORM = Normalisation(
    mean=(775.2290211032589, 1080.992780391705, 1228.5855250417867,
          2497.2022620507532, 2204.2139147975554, 1610.8324823273745),
    std=(1281.526139861424, 1270.0297974547493, 1399.4802505642526,
         1368.3446143747644, 1291.6764008585435, 1154.505683480695),
    units="dn",
)
PRITHVI_V2_NORM = Normalisation(
    mean=(1087.0, 1342.0, 1433.0, 2734.0, 1958.0, 1363.0),
    std=(2248.0, 2179.0, 2178.0, 1850.0, 1242.0, 1049.0),
    units="dn",
)
SEN1FLOODS11_NORM = Normalisation(
    mean=(0.14245495, 0.13921481, 0.12434631, 0.31420089, 0.20743526, 0.12046503),
    std=(0.04036231, 0.04186983, 0.05267646, 0.0822221, 0.06834774, 0.05294205),
    units="reflectance",
)
CROP_NORM = Normalisation(
    mean=(494.905781, 815.239594, 924.335066, 2968.881459, 2634.621962, 1739.579917),
    std=(284.925432, 357.84876, 575.566823, 896.601013, 951.900334, 921.407808),
    units="dn",
)

# --------------------------------------------------------------------------------------------
# Classes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassInfo:
    name: str
    color: tuple[int, int, int]


FLOOD_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("No water", (235, 235, 225)),
    ClassInfo("Water / flood", (30, 100, 220)),
)

#: Crop classes (model output k = dataset id k+1) with the published USDA CDL colours.
CROP_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("Natural Vegetation", (233, 255, 190)),
    ClassInfo("Forest", (149, 206, 147)),
    ClassInfo("Corn", (255, 212, 0)),
    ClassInfo("Soybeans", (38, 115, 0)),
    ClassInfo("Wetlands", (128, 179, 179)),
    ClassInfo("Developed/Barren", (156, 156, 156)),
    ClassInfo("Open Water", (77, 112, 163)),
    ClassInfo("Winter Wheat", (168, 112, 0)),
    ClassInfo("Alfalfa", (255, 168, 227)),
    ClassInfo("Fallow/Idle Cropland", (191, 191, 122)),
    ClassInfo("Cotton", (255, 38, 38)),
    ClassInfo("Sorghum", (255, 158, 15)),
    ClassInfo("Other", (0, 175, 77)),
)

# --------------------------------------------------------------------------------------------
# Architectures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ViTConfig:
    """Prithvi ViT encoder (and MAE decoder) hyper-parameters."""

    img_size: int = 224
    patch_size: int = 16
    tubelet_size: int = 1
    num_frames: int = 3
    in_chans: int = 6
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    ln_eps: float = 1e-6
    decoder_embed_dim: int = 512
    decoder_depth: int = 8
    decoder_num_heads: int = 16
    coords_encoding: bool = False  # EO-2.0 "TL": temporal + location encoders
    coords_scale_learn: bool = False

    @property
    def grid(self) -> int:
        return self.img_size // self.patch_size


@dataclass(frozen=True)
class SegmenterConfig:
    """mmseg fine-tune: Prithvi encoder + token-to-image neck + FCN head."""

    encoder: ViTConfig
    num_classes: int
    neck_channels: int  # embed_dim * num_frames
    head_channels: int = 256
    neck_ln_eps: float = 1e-6
    bn_eps: float = 1e-5


@dataclass(frozen=True)
class ModelSpec:
    """One published model: where its weights live and how to feed it."""

    name: str
    title: str
    kind: Literal["mae", "segmenter"]
    hf_repo: str
    filename: str
    checkpoint_layout: Literal["mae", "mmseg"]
    arch: ViTConfig | SegmenterConfig
    norm: Normalisation
    num_frames: int
    classes: tuple[ClassInfo, ...] = ()
    window: int = 224
    stride: int = 112
    #: Crop fine-tune quirk: the time-major 18-band chip is reshaped plainly to (6, 3, H, W).
    time_major_reshape: bool = False
    #: Older published names of the same weights (repo, file), tried after the current name.
    aliases: tuple[tuple[str, str], ...] = ()
    notes: str = ""
    size_mb: int = 0

    @property
    def encoder(self) -> ViTConfig:
        return self.arch.encoder if isinstance(self.arch, SegmenterConfig) else self.arch


_V1_MAE = ViTConfig()
_FLOOD_ENC = ViTConfig(num_frames=1, depth=12, num_heads=12, ln_eps=1e-5)
_CROP_ENC = ViTConfig(num_frames=3, depth=6, num_heads=8, ln_eps=1e-5)


def _v2(embed: int, depth: int, heads: int, patch: int = 16, tl: bool = False, frames: int = 4) -> ViTConfig:
    return ViTConfig(num_frames=frames, embed_dim=embed, depth=depth, num_heads=heads, patch_size=patch,
                     coords_encoding=tl, coords_scale_learn=tl)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="prithvi-eo-1.0-100m", title="Prithvi-EO-1.0-100M (masked autoencoder)", kind="mae",
            hf_repo="ibm-nasa-geospatial/Prithvi-EO-1.0-100M", filename="Prithvi_EO_V1_100M.pt",
            checkpoint_layout="mae", arch=_V1_MAE, norm=PRITHVI_V1_NORM, num_frames=3, stride=224,
            aliases=(("ibm-nasa-geospatial/Prithvi-100M", "Prithvi_100M.pt"),), size_mb=454,
        ),
        ModelSpec(
            name="prithvi-eo-1.0-100m-sen1floods11", title="Prithvi flood mapping (Sen1Floods11)",
            kind="segmenter", hf_repo="ibm-nasa-geospatial/Prithvi-EO-1.0-100M-sen1floods11",
            filename="sen1floods11_Prithvi_100M.pth", checkpoint_layout="mmseg",
            arch=SegmenterConfig(encoder=_FLOOD_ENC, num_classes=2, neck_channels=768),
            norm=SEN1FLOODS11_NORM, num_frames=1, classes=FLOOD_CLASSES,
            aliases=(("ibm-nasa-geospatial/Prithvi-100M-sen1floods11", "sen1floods11_Prithvi_100M.pth"),),
            notes="Trained on Sentinel-2 L1C (top of atmosphere); HLS is surface reflectance, "
                  "so results on HLS are a domain shift.",
            size_mb=1200,
        ),
        ModelSpec(
            name="prithvi-eo-1.0-100m-multi-temporal-crop", title="Prithvi multi-temporal crop classification",
            kind="segmenter",
            hf_repo="ibm-nasa-geospatial/Prithvi-EO-1.0-100M-multi-temporal-crop-classification",
            filename="multi_temporal_crop_classification_Prithvi_100M.pth", checkpoint_layout="mmseg",
            arch=SegmenterConfig(encoder=_CROP_ENC, num_classes=13, neck_channels=2304),
            norm=CROP_NORM, num_frames=3, classes=CROP_CLASSES, time_major_reshape=True,
            aliases=(("ibm-nasa-geospatial/Prithvi-100M-multi-temporal-crop-classification",
                      "multi_temporal_crop_classification_Prithvi_100M.pth"),),
            notes="Trained on cloud-free HLS S30 chips over the contiguous US, March to September 2022.",
            size_mb=1680,
        ),
        ModelSpec(
            name="prithvi-eo-2.0-300m", title="Prithvi-EO-2.0-300M (masked autoencoder)", kind="mae",
            hf_repo="ibm-nasa-geospatial/Prithvi-EO-2.0-300M", filename="Prithvi_EO_V2_300M.pt",
            checkpoint_layout="mae", arch=_v2(1024, 24, 16), norm=PRITHVI_V2_NORM, num_frames=4, stride=224,
            size_mb=1300,
        ),
        ModelSpec(
            name="prithvi-eo-2.0-300m-tl", title="Prithvi-EO-2.0-300M-TL (masked autoencoder)", kind="mae",
            hf_repo="ibm-nasa-geospatial/Prithvi-EO-2.0-300M-TL", filename="Prithvi_EO_V2_300M_TL.pt",
            checkpoint_layout="mae", arch=_v2(1024, 24, 16, tl=True), norm=PRITHVI_V2_NORM, num_frames=4,
            stride=224, size_mb=1300,
        ),
        ModelSpec(
            name="prithvi-eo-2.0-600m", title="Prithvi-EO-2.0-600M (masked autoencoder)", kind="mae",
            hf_repo="ibm-nasa-geospatial/Prithvi-EO-2.0-600M", filename="Prithvi_EO_V2_600M.pt",
            checkpoint_layout="mae", arch=_v2(1280, 32, 16, patch=14), norm=PRITHVI_V2_NORM, num_frames=4,
            stride=224, size_mb=2600,
        ),
        ModelSpec(
            name="prithvi-eo-2.0-600m-tl", title="Prithvi-EO-2.0-600M-TL (masked autoencoder)", kind="mae",
            hf_repo="ibm-nasa-geospatial/Prithvi-EO-2.0-600M-TL", filename="Prithvi_EO_V2_600M_TL.pt",
            checkpoint_layout="mae", arch=_v2(1280, 32, 16, patch=14, tl=True), norm=PRITHVI_V2_NORM,
            num_frames=4, stride=224, size_mb=2600,
        ),
        ModelSpec(
            name="prithvi-eo-2.0-100m-tl", title="Prithvi-EO-2.0-100M-TL (masked autoencoder)", kind="mae",
            hf_repo="ibm-nasa-geospatial/Prithvi-EO-2.0-100M-TL", filename="Prithvi_EO_V2_100M_TL.pt",
            checkpoint_layout="mae", arch=_v2(768, 12, 12, tl=True), norm=PRITHVI_V2_NORM, num_frames=4,
            stride=224, size_mb=450,
        ),
        ModelSpec(
            name="prithvi-eo-2.0-tiny-tl", title="Prithvi-EO-2.0-tiny-TL (masked autoencoder)", kind="mae",
            hf_repo="ibm-nasa-geospatial/Prithvi-EO-2.0-tiny-TL", filename="Prithvi_EO_V2_tiny_TL.pt",
            checkpoint_layout="mae", arch=_v2(192, 12, 3, tl=True, frames=1), norm=PRITHVI_V2_NORM,
            num_frames=1, stride=224, size_mb=25,
        ),
    )
}

#: The model each task uses by default.
TASK_MODELS: dict[str, str] = {
    "reconstruct": "prithvi-eo-1.0-100m",
    "flood": "prithvi-eo-1.0-100m-sen1floods11",
    "crops": "prithvi-eo-1.0-100m-multi-temporal-crop",
}
#: Number of dates each task takes (reconstruction: 1 to the model's frames).
TASK_FRAMES: dict[str, int] = {"reconstruct": 1, "flood": 1, "crops": 3}

# --------------------------------------------------------------------------------------------
# Runtime settings (environment variables)
# --------------------------------------------------------------------------------------------

ENV_WEIGHTS_DIR = "GEOFM_WEIGHTS_DIR"
ENV_STAC_URL = "GEOFM_STAC_URL"
ENV_CACHE_DIR = "GEOFM_CACHE_DIR"
ENV_MAX_AOI_KM = "GEOFM_MAX_AOI_KM"
ENV_HTTP_TIMEOUT = "GEOFM_HTTP_TIMEOUT"  # seconds per STAC/COG request (default 30)
ENV_HTTP_RETRIES = "GEOFM_HTTP_RETRIES"  # retries after the first try (default 3)
ENV_CACHE_MAX_MB = "GEOFM_CACHE_MAX_MB"  # size cap of the stack cache (default 2048)

ENV_PRECISION = "GEOFM_PRECISION"  # auto (default), bf16, fp16 or fp32: the app's model precision

PLANETARY_COMPUTER_STAC = "https://planetarycomputer.microsoft.com/api/stac/v1"
CMR_STAC_LPCLOUD = "https://cmr.earthdata.nasa.gov/stac/LPCLOUD"
STAC_COLLECTIONS: dict[str, dict[str, str]] = {
    # endpoint flavour -> product -> collection id
    "planetary-computer": {"L30": "hls2-l30", "S30": "hls2-s30"},
    "cmr": {"L30": "HLSL30_2.0", "S30": "HLSS30_2.0"},
}
DEFAULT_MAX_AOI_KM: float = 50.0  # side of the largest square area, km


@dataclass(frozen=True)
class RunDefaults:
    mask_ratio: float = 0.75
    seed: int = 0
    max_cloud: float = 30.0


DEFAULTS = RunDefaults()


def get_model_spec(name_or_task: str) -> ModelSpec:
    """Look a model up by registry name or by task name (flood, crops, reconstruct)."""
    name = TASK_MODELS.get(name_or_task, name_or_task)
    try:
        return MODELS[name]
    except KeyError:
        from geofm.errors import InputError

        known = ", ".join(sorted(MODELS) + sorted(TASK_MODELS))
        raise InputError(f"Unknown model or task {name_or_task!r}. Known: {known}.") from None


# --------------------------------------------------------------------------------------------
# Precision and batch sizing
# --------------------------------------------------------------------------------------------

#: Precisions a run can ask for; ``auto`` picks one per device (see PrecisionPolicy).
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp16", "fp32")


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
    "prithvi-eo-1.0-100m-multi-temporal-crop": WindowMemory(
        fp32=332, half=167, how="CPU, torch 2.13, folded + oneDNN, batches 1 and 2 (bench/memory.py)"),
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
