"""The model registry: every published model, its architecture, normalisation and classes.

Facts come from the published checkpoints and configs (see the project's docs); nothing here is
derived at run time. Adding a model: one ``ModelSpec`` in ``MODELS`` (and its classes and normalisation here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
#: Burn-scar fine-tune (hls-foundation-os ``configs/burn_scars.py``): reflectance 0-1, like Sen1Floods11.
BURN_SCARS_NORM = Normalisation(
    mean=(0.033349706741586264, 0.05701185520536176, 0.05889748132001316,
          0.2323245113436119, 0.1972854853760658, 0.11944914225186566),
    std=(0.02269135568823774, 0.026807560223070237, 0.04004109844362779,
         0.07791732423672691, 0.08708738838140137, 0.07241979477437814),
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

#: Burn-scar classes (published names; no palette is published, these colours are geofm's).
BURN_SCAR_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("Unburnt land", (235, 235, 225)),
    ClassInfo("Burn scar", (200, 40, 30)),
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
class UperNetSegmenterConfig:
    """TerraTorch ``EncoderDecoderFactory`` fine-tune (EO-2.0): Prithvi ViT -> ``SelectIndices`` ->
    ``ReshapeTokensToImage`` -> ``UperNetDecoder`` with its scale modules -> ``SegmentationHead``.

    The registry holds the expected values; at load time they are read from the published ``config.yaml``
    (``geofm.models.tt_config``), which is the authority."""

    encoder: ViTConfig
    num_classes: int
    indices: tuple[int, ...] = (5, 11, 17, 23)
    channels: int = 256
    pool_scales: tuple[int, ...] = (1, 2, 3, 6)
    head_dropout: float = 0.1
    #: feed the temporal (year, day of year) and location (lat, lon) coordinates (config ``use_metadata``)
    use_coords: bool = True


@dataclass(frozen=True)
class ModelSpec:
    """One published model: where its weights live and how to feed it."""

    name: str
    title: str
    kind: Literal["mae", "segmenter"]
    hf_repo: str
    filename: str
    checkpoint_layout: Literal["mae", "mmseg", "terratorch"]
    arch: ViTConfig | SegmenterConfig | UperNetSegmenterConfig
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
    #: Hugging Face commit the file is downloaded at (None: the repository's main branch).
    revision: str | None = None
    #: SHA-256 of the published file, checked after download and when loaded from the HF cache (None: unknown).
    sha256: str | None = None
    #: Exact size in bytes of the published file (0: unknown): a file of another size in the HF cache is
    #: incomplete (a killed copy, a full disk) and is never loaded as it is.
    size_bytes: int = 0
    #: TerraTorch fine-tunes: the published config beside the weights (read at load time; "": none)
    config_file: str = ""
    #: side each window is resized to before the model (0: fed as cut); logits are resized back
    resize: int = 0

    @property
    def encoder(self) -> ViTConfig:
        return self.arch if isinstance(self.arch, ViTConfig) else self.arch.encoder


_V1_MAE = ViTConfig()
_FLOOD_ENC = ViTConfig(num_frames=1, depth=12, num_heads=12, ln_eps=1e-5)
_CROP_ENC = ViTConfig(num_frames=3, depth=6, num_heads=8, ln_eps=1e-5)


#: EO-2.0 300M TL backbone as TerraTorch builds it for fine-tuning (``prithvi_eo_v2_300_tl``: num_frames 1,
#: torch LayerNorm eps 1e-5)
_EO2_300_TL_FT = ViTConfig(num_frames=1, embed_dim=1024, depth=24, num_heads=16, ln_eps=1e-5,
                           coords_encoding=True, coords_scale_learn=True)
#: TerraTorch Sen1Floods11 datamodule statistics (reflectance; BLUE, GREEN, RED, NIR_NARROW, SWIR_1, SWIR_2)
SEN1FLOODS11_TT_NORM = Normalisation(
    mean=(0.1412956, 0.13795798, 0.12353792, 0.30902815, 0.2044958, 0.11912015),
    std=(0.07406382, 0.07370365, 0.08692279, 0.11798815, 0.09772074, 0.07659938),
    units="reflectance",
)


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
            sha256="7fac0c8a8693198e32a055e0c5a967f8b005f382182b63df1b29fdcd5c880731", size_bytes=453_671_052,
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
            size_mb=1200, sha256="c3b8af485ea03dab2a352c9269cb633a9f1550aa672733c1601306d4cd65b149",
        ),
        ModelSpec(
            name="prithvi-eo-1.0-100m-burn-scar", title="Prithvi burn scar mapping (HLS Burn Scars)",
            kind="segmenter", hf_repo="ibm-nasa-geospatial/Prithvi-EO-1.0-100M-burn-scar",
            filename="burn_scars_Prithvi_100M.pth", checkpoint_layout="mmseg",
            arch=SegmenterConfig(encoder=_FLOOD_ENC, num_classes=2, neck_channels=768),
            norm=BURN_SCARS_NORM, num_frames=1, classes=BURN_SCAR_CLASSES,
            aliases=(("ibm-nasa-geospatial/Prithvi-100M-burn-scar", "burn_scars_Prithvi_100M.pth"),),
            notes="Trained on HLS S30 chips over the contiguous US, 2018-2021 fires (docs/models.md).",
            size_mb=1200, revision="ec4be053a43e1655fcb2bc5e97e0bd4ddac04c5f",
            sha256="9285c40cc6005c1bafb40c3d245aafd445f37ba2d89b6ec5af7b21316e0fc284", size_bytes=1_198_537_753,
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
            size_mb=1680, revision="b53a88b8da673800b67c34a98a527b77076e7035",
            sha256="37ed41637eccccec65ca2031324e2c03a4f168e1ea0ea71ad180910589fa018c", size_bytes=1_680_468_041,
        ),
        ModelSpec(
            name="prithvi-eo-2.0-300m-tl-sen1floods11", title="Prithvi-EO-2.0-300M-TL flood mapping (Sen1Floods11)",
            kind="segmenter", hf_repo="ibm-nasa-geospatial/Prithvi-EO-2.0-300M-TL-Sen1Floods11",
            filename="Prithvi-EO-V2-300M-TL-Sen1Floods11.pt", checkpoint_layout="terratorch",
            arch=UperNetSegmenterConfig(encoder=_EO2_300_TL_FT, num_classes=2), norm=SEN1FLOODS11_TT_NORM,
            num_frames=1, classes=FLOOD_CLASSES, window=512, stride=512, resize=448, config_file="config.yaml",
            notes="Trained on Sentinel-2 L1C Sen1Floods11 chips; windows of 512 px resized to 448 as the model "
                  "card's inference.py does (docs/models.md).", size_mb=1280,
        ),
        ModelSpec(
            name="prithvi-eo-2.0-300m-burn-scars", title="Prithvi-EO-2.0-300M burn scar mapping (HLS Burn Scars)",
            kind="segmenter", hf_repo="ibm-nasa-geospatial/Prithvi-EO-2.0-300M-BurnScars",
            filename="Prithvi_EO_V2_300M_BurnScars.pt", checkpoint_layout="terratorch",
            arch=UperNetSegmenterConfig(encoder=_EO2_300_TL_FT, num_classes=2), norm=BURN_SCARS_NORM,
            num_frames=1, classes=BURN_SCAR_CLASSES, window=512, stride=512, resize=224,
            config_file="burn_scars_config.yaml",
            notes="Trained on 512 px HLS chips over the contiguous US resized to 224 px (docs/models.md).",
            size_mb=1300,
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


def models_of_kind(kind: str) -> tuple[str, ...]:
    """Registry names of every model of ``kind`` ("mae", "segmenter"), in registry order."""
    return tuple(name for name, spec in MODELS.items() if spec.kind == kind)
