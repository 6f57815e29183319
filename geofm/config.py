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
#: Internal tile (block) side of HLS v2 COGs, in pixels (the unit a reader fetches).
HLS_BLOCK_PX: int = 256
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
    #: Hugging Face commit the file is downloaded at (None: the repository's main branch).
    revision: str | None = None
    #: SHA-256 of the published file, checked after download and when loaded from the HF cache (None: unknown).
    sha256: str | None = None

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
            name="prithvi-eo-1.0-100m-burn-scar", title="Prithvi burn scar mapping (HLS Burn Scars)",
            kind="segmenter", hf_repo="ibm-nasa-geospatial/Prithvi-EO-1.0-100M-burn-scar",
            filename="burn_scars_Prithvi_100M.pth", checkpoint_layout="mmseg",
            arch=SegmenterConfig(encoder=_FLOOD_ENC, num_classes=2, neck_channels=768),
            norm=BURN_SCARS_NORM, num_frames=1, classes=BURN_SCAR_CLASSES,
            aliases=(("ibm-nasa-geospatial/Prithvi-100M-burn-scar", "burn_scars_Prithvi_100M.pth"),),
            notes="Trained on HLS S30 chips over the contiguous US, 2018-2021 fires (docs/models.md).",
            size_mb=1200, revision="ec4be053a43e1655fcb2bc5e97e0bd4ddac04c5f",
            sha256="9285c40cc6005c1bafb40c3d245aafd445f37ba2d89b6ec5af7b21316e0fc284",
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

# --------------------------------------------------------------------------------------------
# Tasks: the one table that CLI, API, scene choice and the app look tasks up in
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSpec:
    """One task geofm runs: which model, how many dates, how scenes are chosen and how results are shown.

    Code outside this module never compares task names; it looks the task up here and reads its fields.
    """

    name: str  #: command-line and API name (``geofm run NAME``)
    title: str  #: heading and button text ("Flood mapping")
    menu_title: str  #: short name in the app's menu ("Flood")
    icon: str  #: Material icon of its page
    page: str  #: the Streamlit page file, relative to the app
    intro: str  #: one paragraph under the page heading
    model: str  #: default registry model (see MODELS)
    result: Literal["classes", "reconstruction"]  #: a class map or an MAE reconstruction
    dates: int  #: dates taken (the least, for tasks that take a range)
    max_dates: int | None = None  #: most dates; None: exactly ``dates`` (0: up to the model's frames)
    scene_choice: Literal["clearest", "spread"] = "clearest"  #: the clearest date, or one per third of the window
    view: Literal["target", "classes", "reconstruction"] = "classes"  #: result view: one target class or all
    target_class: int = 1  #: "target" view: the class whose area is measured
    target_label: str = ""  #: "target" view: what the measured area is called ("Water area")
    layer: str = ""  #: name of the result layer on the map
    legend: str = "Legend"  #: title of the class legend
    see_through: tuple[int, ...] = ()  #: classes left transparent on the map and out of the polygons
    masking: bool = False  #: takes a mask ratio, a seed and a choice of masked autoencoder
    upload_help: str = "one 6-band GeoTIFF"  #: what the upload page asks for
    reference: str = ""  #: what a reference layer means for this task (shown beside comparisons)
    #: public reference layers (REFERENCE_LAYERS) that ``--reference auto`` reads, in order of preference
    reference_layers: tuple[str, ...] = ()
    example_hint: str = ""  #: when to look (dates) for a good result

    def date_span(self, model: ModelSpec | None = None) -> tuple[int, int]:
        """(fewest, most) dates this task takes with ``model`` (default: the task's model)."""
        if self.max_dates is None:
            return self.dates, self.dates
        if self.max_dates == 0:
            return self.dates, (model or MODELS[self.model]).num_frames
        return self.dates, self.max_dates

    def dates_text(self, model: ModelSpec | None = None) -> str:
        lo, hi = self.date_span(model)
        return f"{lo} date{'s' if lo > 1 else ''}" if lo == hi else f"{lo} to {hi} dates"

    def check_dates(self, n: int, model: ModelSpec | None = None) -> None:
        """InputError when this task (with ``model``) does not take ``n`` dates: the one date-count check."""
        lo, hi = self.date_span(model)
        if lo <= n <= hi:
            return
        from geofm.errors import InputError

        want = f"{lo} date(s) ({6 * lo} bands in all)" if lo == hi else f"{lo} to {hi} dates (6 bands per date)"
        raise InputError(f"{self.name} takes {want}; the input has {n} ({6 * n} bands).")

    @property
    def model_kind(self) -> str:
        return MODELS[self.model].kind

    @property
    def reference_kind(self) -> str:
        """What its public reference maps: "water", "cropland" (REFERENCE_LAYERS kinds), or "" (none)."""
        return REFERENCE_LAYERS[self.reference_layers[0]].kind if self.reference_layers else ""


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            name="flood", title="Flood mapping", menu_title="Flood", icon=":material/water:",
            page="app_pages/2_Flood.py",
            intro="Prithvi's Sen1Floods11 fine-tune marks water on one clear date. The water layer sits on the "
                  "true-colour image; swipe between them on the map.",
            model="prithvi-eo-1.0-100m-sen1floods11", result="classes", dates=1, view="target",
            target_label="Water area", layer="Water", see_through=(0,),
            reference="a water or flood extent mask (e.g. from a flood agency) over the same area and date",
            reference_layers=("jrc-gsw", "esa-worldcover"),
        ),
        TaskSpec(
            name="crops", title="Crop classification", menu_title="Crops", icon=":material/agriculture:",
            page="app_pages/3_Crops.py",
            intro="Prithvi's multi-temporal crop fine-tune looks at three dates of a growing season and labels "
                  "each 30 m pixel with one of 13 land-cover and crop classes.",
            model="prithvi-eo-1.0-100m-multi-temporal-crop", result="classes", dates=3, scene_choice="spread",
            view="classes", layer="Crop classes", legend="Crop classes",
            upload_help="three 6-band GeoTIFFs (one per date, in time order) or one 18-band GeoTIFF",
            reference="a crop-type map of the same season (e.g. USDA Cropland Data Layer)",
            reference_layers=("usda-cdl",),
        ),
        TaskSpec(
            name="burn-scars", title="Burn scar mapping", menu_title="Burn scars",
            icon=":material/local_fire_department:", page="app_pages/5_Burn_scars.py",
            intro="Prithvi's burn-scar fine-tune marks land burnt by a wildfire on one clear date after the fire. "
                  "The burn-scar layer sits on the true-colour image; swipe between them on the map.",
            model="prithvi-eo-1.0-100m-burn-scar", result="classes", dates=1, view="target",
            target_label="Burn scar area", layer="Burn scars", see_through=(0,),
            reference="a fire perimeter or burn-severity map (e.g. MTBS, NIFC) of the same fire",
        ),
        TaskSpec(
            name="reconstruct", title="Reconstruction", menu_title="Reconstruction",
            icon=":material/auto_fix_high:", page="app_pages/1_Reconstruction.py",
            intro="The pretrained Prithvi masked autoencoder hides a share of 16×16-pixel patches and predicts "
                  "them from what it still sees.",
            model="prithvi-eo-1.0-100m", result="reconstruction", dates=1, max_dates=0, view="reconstruction",
            layer="Reconstruction", masking=True, upload_help="one to three 6-band GeoTIFFs (one per date)",
            reference="the input itself: the reconstruction is compared with the pixels it hid",
        ),
    )
}

#: The model each task uses by default (derived from TASKS).
TASK_MODELS: dict[str, str] = {name: task.model for name, task in TASKS.items()}


def get_task(name: str) -> TaskSpec:
    """The task called ``name``; InputError naming the known tasks otherwise."""
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        from geofm.errors import InputError

        raise InputError(f"Unknown task {name!r}; choose one of {', '.join(TASKS)}.") from None


def models_of_kind(kind: str) -> tuple[str, ...]:
    """Registry names of every model of ``kind`` ("mae", "segmenter"), in registry order."""
    return tuple(name for name, spec in MODELS.items() if spec.kind == kind)


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
ENV_MAX_UPLOAD_MB = "GEOFM_MAX_UPLOAD_MB"  # largest uploaded file in MB (default 200)
ENV_BASEMAP = "GEOFM_BASEMAP"  # osm (default) or none
ENV_GEOCODER_URL = "GEOFM_GEOCODER_URL"  # Nominatim-compatible /search endpoint
ENV_APP_CACHE_RUNS = "GEOFM_APP_CACHE_RUNS"  # results the app keeps for all sessions (default 16)
ENV_CMR_STAC_URL = "GEOFM_CMR_STAC_URL"  # NASA CMR-STAC endpoint used for dates before Planetary Computer's HLS
ENV_EARTHDATA_TOKEN = "EARTHDATA_TOKEN"  # bearer token for NASA Earthdata (CMR-STAC assets)
#: Extra host names (comma-separated) that count as Earthdata hosts (a mirror, a test stand-in).
ENV_EARTHDATA_HOSTS = "GEOFM_EARTHDATA_HOSTS"
NOMINATIM_URL = "https://nominatim.openstreetmap.org/search"
# Read them through geofm.settings.settings(), never os.environ.

ENV_PRECISION = "GEOFM_PRECISION"  # auto (default), bf16, fp16 or fp32: the app's model precision
ENV_QUEUE_MAX = "GEOFM_QUEUE_MAX"  # runs waiting for the model at most (beyond: "busy, about N minutes")
ENV_RUNS_PER_MINUTE = "GEOFM_RUNS_PER_MINUTE"  # model runs one browser session may start per minute
ENV_JOBS_PER_SESSION = "GEOFM_JOBS_PER_SESSION"  # queued or running runs one browser session may have
ENV_JOB_SECONDS = "GEOFM_JOB_SECONDS"  # first guess of one run's model time, for the wait estimate
ENV_PRELOAD = "GEOFM_PRELOAD"  # app start: load these task models in the background (comma list, "none", "all")
ENV_AUTO_DOWNLOAD = "GEOFM_AUTO_DOWNLOAD"  # "0" = never fetch weights on first use (default: fetch when online)


@dataclass(frozen=True)
class QueueLimits:
    """Admission control of the shared model queue (fair use of one accelerator by many visitors)."""

    max_waiting: int = 8  # runs in line behind the running one
    runs_per_minute: int = 4  # per browser session, counted when a run joins the line
    jobs_per_session: int = 1  # queued or running at once, per browser session
    job_seconds: float = 45.0  # first guess of one run's time in the slot (then measured)

    @classmethod
    def from_env(cls, env: "dict[str, str] | None" = None) -> "QueueLimits":
        """Limits from the operator's settings (``env``: parse these variables instead of the environment);
        a bad value raises SettingsError naming the variable."""
        from geofm.settings import from_environment, settings

        s = settings() if env is None else from_environment(env)
        return cls(max_waiting=s.queue_max, runs_per_minute=s.runs_per_minute, jobs_per_session=s.jobs_per_session,
                   job_seconds=s.job_seconds)


PLANETARY_COMPUTER_STAC = "https://planetarycomputer.microsoft.com/api/stac/v1"
CMR_STAC_LPCLOUD = "https://cmr.earthdata.nasa.gov/stac/LPCLOUD"
STAC_COLLECTIONS: dict[str, dict[str, str]] = {
    # endpoint flavour -> product -> collection id
    "planetary-computer": {"L30": "hls2-l30", "S30": "hls2-s30"},
    "cmr": {"L30": "HLSL30_2.0", "S30": "HLSS30_2.0"},
}
#: First date each service holds HLS v2 for (collection extents; Planetary Computer's record starts 2020-01-01,
#: NASA's L30 2013-04-11 and S30 2015-11-28). Sources: ../shared/docs/hls-stac.md, the collections' `extent`.
HLS_COVERAGE_START: dict[str, dict[str, str]] = {
    "planetary-computer": {"L30": "2020-01-01", "S30": "2020-01-01"},
    "cmr": {"L30": "2013-04-11", "S30": "2015-11-28"},
}
#: Host names (exact, or a suffix when they start with ".") whose requests may carry the Earthdata token.
EARTHDATA_HOSTS: tuple[str, ...] = ("urs.earthdata.nasa.gov", ".earthdata.nasa.gov", ".earthdatacloud.nasa.gov")
#: Azure blob storage host suffix (Planetary Computer assets); hrefs there are signed with SAS tokens.
AZURE_BLOB_DOMAIN = ".blob.core.windows.net"
#: Largest STAC page asked for (Planetary Computer serves up to 1000; one page avoids its paging quirks).
STAC_PAGE_LIMIT = 1000
#: Longest total wait on a throttled service (429 Retry-After, 503 ServerBusy) before giving up, seconds.
THROTTLE_BUDGET_S: float = 60.0
#: Concurrent Fmask reads in the clear-sky pass over many scenes (blob storage throttles bursts).
FMASK_PASS_CONCURRENCY = 6
#: Fmask high aerosol (bits 6-7 == 11) counts as not clear unless a caller allows it (HLS v2 known issues).
FMASK_AEROSOL_SHIFT = 6
FMASK_AEROSOL_HIGH = 0b11
DEFAULT_MAX_AOI_KM: float = 50.0  # side of the largest square area, km


@dataclass(frozen=True)
class InputLimits:
    """What a local or uploaded raster may be, checked from its header before any pixel is decoded."""

    #: Bytes of working memory per band sample while reading and preparing (int16/float32 copies and masks),
    #: on top of the sample's own size in the file's dtype.
    work_bytes_per_sample: int = 16
    #: Memory an upload may take to decode, MB (the app's server is shared by every session).
    upload_budget_mb: float = 1024.0
    #: Memory a command-line input may take to decode, MB; at most half of the machine's memory.
    cli_budget_mb: float = 8192.0
    #: Pixel sizes further than this factor from HLS's 30 m are refused (the models cannot be right there).
    refuse_pixel_factor: float = 10.0
    #: Pixel sizes further than this factor from 30 m are run with a warning.
    warn_pixel_factor: float = 1.5
    #: Side of the blocks a command-line input over its memory budget is segmented in, px (plus the windows' halo).
    block_px: int = 1024
    #: Sample types a GeoTIFF of HLS DN or reflectance can hold.
    dtype_kinds: str = "iuf"  # numpy kinds: signed, unsigned, float (not complex, not bool)


INPUT_LIMITS = InputLimits()


@dataclass(frozen=True)
class RunDefaults:
    mask_ratio: float = 0.75
    seed: int = 0
    max_cloud: float = 30.0


DEFAULTS = RunDefaults()

#: The explore page's default dates: the last this many days (finds scenes anywhere HLS is collected).
DEFAULT_SEARCH_DAYS: int = 90


def get_model_spec(name_or_task: str) -> ModelSpec:
    """Look a model up by registry name or by task name (its default model)."""
    name = TASKS[name_or_task].model if name_or_task in TASKS else name_or_task
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
    "prithvi-eo-1.0-100m-burn-scar": WindowMemory(
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


# --------------------------------------------------------------------------------------------
# Regions (geofm region): chunked runs on Dask
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionDefaults:
    """Settings of region runs (``geofm region``, ``geofm.region.run_region``)."""

    #: Chunk side in km; rounded to whole multiples of ``chunk_multiple_px`` pixels (at least one).
    chunk_km: float = 50.0
    #: Chunk origins and sides are multiples of this (the MAE's 224-px windows, two 112-px strides), so every
    #: chunk's windows are a subset of the single-process window grid.
    chunk_multiple_px: int = 224
    #: Tries per chunk for transient faults (image host errors, time-outs) before the chunk is marked failed.
    chunk_attempts: int = 3
    #: Seconds to wait before the second try of a chunk (doubled for each further try).
    retry_delay_s: float = 2.0
    #: Cores per worker process when no worker count is given and there is no GPU.
    cores_per_worker: int = 2
    #: MB of fetched COG bytes a worker process keeps for its next chunks (neighbours share halo blocks).
    worker_block_cache_mb: int = 256
    #: Output names inside the run folder.
    tiles_dir: str = "tiles"
    mosaic_name: str = "mosaic.tif"
    manifest_name: str = "manifest.json"
    item_name: str = "item.json"
    summary_name: str = "summary.csv"


REGION = RegionDefaults()


# --------------------------------------------------------------------------------------------
# Series (geofm series): one single-date class-map task over every clear date of a range
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesLimits:
    """Settings and caps of a series (``geofm series``, ``geofm.series.run_series``)."""

    #: Longest date range, days (a year, leap years included); longer ranges are refused.
    max_days: int = 366
    #: Default least clear share of the area for a date to be run (the mosaic's Fmask over the area).
    min_clear: float = 0.5
    #: Default largest scene cloud cover, %: every scene is considered (a tile's cloud cover says little about a
    #: small area's), so the clear share over the area decides and cloudy dates are listed with the reason.
    max_cloud: float = 100.0
    #: Most dates (timelapse frames) one series makes; more are refused before anything is read.
    max_frames: int = 120
    #: Dates read and run together (their windows share forward passes); bounds the memory of a series.
    group_dates: int = 8
    #: Longest side of a timelapse frame's map, px (smaller areas are enlarged to ``frame_min_px``).
    frame_max_px: int = 640
    frame_min_px: int = 360
    #: Seconds each timelapse frame shows.
    frame_seconds: float = 0.8
    #: First guess of one model window's seconds for the estimate before a run (CPU: ``bench/inference.py`` on a
    #: shared 2-core VM; GPU: the L4 estimate in the README), replaced by what the last series measured.
    window_seconds_cpu: float = 1.5
    window_seconds_gpu: float = 0.01
    #: Output names inside the series folder (the COGs are ``YYYY-MM-DD.tif``).
    manifest_name: str = "series.json"
    csv_name: str = "series.csv"
    chart_name: str = "series.png"
    gif_name: str = "timelapse.gif"
    change_name: str = "change.tif"
    item_name: str = "item.json"


SERIES = SeriesLimits()


# --------------------------------------------------------------------------------------------
# Reference layers and agreement products ("Did the model get it right?"); facts and sources in
# docs/reference-data.md
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceLayer:
    """A public reference raster read through STAC like HLS (only the area's pixels, on the result's grid)."""

    name: str  #: key in REFERENCE_LAYERS and value of ``--reference`` layer choices
    title: str
    collection: str  #: Planetary Computer collection id
    asset: str  #: the asset read
    resolution_m: float  #: native pixel size (approximate for geographic grids)
    nodata: int  #: the asset's no-data value (pixels with it are left out of every comparison)
    kind: Literal["water", "cropland"]
    #: values of ``asset`` that mean "normal water" (water layers)
    water_values: tuple[int, ...] = ()
    #: item ids of the kind to read start with this (usda-cdl serves cropland, cultivated and frequency items)
    item_prefix: str = ""
    years: tuple[int, int] = (0, 0)  #: first and last year the service holds
    meaning: str = ""  #: one line for the user: what the layer says
    source: str = ""  #: where the facts come from


REFERENCE_LAYERS: dict[str, ReferenceLayer] = {
    layer.name: layer
    for layer in (
        ReferenceLayer(
            name="jrc-gsw", title="JRC Global Surface Water (seasonality)", collection="jrc-gsw",
            asset="seasonality", resolution_m=30.0, nodata=255, kind="water", water_values=(12,),
            years=(2020, 2020),
            meaning="normal water: water in all 12 months of the JRC seasonality layer (year 2020)",
            source="Planetary Computer jrc-gsw (stactools-packages/jrc-gsw examples; Pekel et al. 2016, "
                   "doi:10.1038/nature20584)",
        ),
        ReferenceLayer(
            name="esa-worldcover", title="ESA WorldCover (permanent water bodies)", collection="esa-worldcover",
            asset="map", resolution_m=10.0, nodata=0, kind="water", water_values=(80,), years=(2020, 2021),
            meaning="normal water: ESA WorldCover class 80, permanent water bodies",
            source="Planetary Computer esa-worldcover (stactools-packages/esa-worldcover examples, "
                   "classification:classes of the map asset)",
        ),
        ReferenceLayer(
            name="usda-cdl", title="USDA Cropland Data Layer", collection="usda-cdl", asset="cropland",
            resolution_m=30.0, nodata=0, kind="cropland", item_prefix="cropland_", years=(2008, 2021),
            meaning="USDA NASS Cropland Data Layer mapped to the crop model's 13 classes",
            source="Planetary Computer usda-cdl (PlanetaryComputerExamples datasets/usda-cdl, "
                   "stactools-packages/usda-cdl examples)",
        ),
    )
}

#: CDL code -> crop dataset class id (1..13; model output k = id - 1), exactly as the training labels of
#: ibm-nasa-geospatial/multi-temporal-crop-classification were made: the ``new_class_value`` column of
#: easierdata/multi-temporal-crop-classification-training-data
#: data/required/preprocessed_data/cdl_total_dst.csv (commit 46bf92db, read by
#: crop_classification/data_prep/generate_training_chips.py; the ClarkCGA repository's data/cdl_total_dst.csv
#: is its earlier 16-class draft). Codes not listed (0 background, unused codes) have no class.
_CDL_GROUPS: dict[int, tuple[int, ...]] = {
    1: (37, 152, 176),  # Natural Vegetation: Other Hay/Non Alfalfa, Shrubland, Grassland/Pasture
    2: (141, 142, 143),  # Forest: deciduous, evergreen, mixed
    3: (1,),  # Corn
    4: (5,),  # Soybeans
    5: (190, 195),  # Wetlands: woody, herbaceous
    6: (121, 122, 123, 124, 131),  # Developed/Barren: developed open/low/med/high, barren
    7: (111,),  # Open Water
    8: (24,),  # Winter Wheat
    9: (36,),  # Alfalfa
    10: (61,),  # Fallow/Idle Cropland
    11: (2,),  # Cotton
    12: (4,),  # Sorghum
    13: (3, 6, 10, 11, 12, 13, 14, 21, 22, 23, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 38, 39, 41, 42, 43,
         44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 62, 63, 64, 65, 66, 67, 68, 69, 70,
         71, 72, 74, 75, 76, 77, 81, 82, 83, 87, 88, 92, 112, *range(204, 251), 254),  # Other
}
CDL_TO_CROP_ID: dict[int, int] = {code: cid for cid, codes in _CDL_GROUPS.items() for code in codes}
#: CDL codes left out of comparisons although the training table lists them: 81 is "Clouds/No Data".
CDL_EXCLUDED: tuple[int, ...] = (0, 81)

#: Agreement layer of a two-class comparison (model water vs reference water).
AGREEMENT_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("Neither", (235, 235, 225)),
    ClassInfo("Model only", (240, 140, 20)),
    ClassInfo("Reference only", (150, 60, 200)),
    ClassInfo("Both", (30, 100, 220)),
)
#: Newly flooded water: model water that is not normal water.
NEW_WATER_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("Not new water", (235, 235, 225)),
    ClassInfo("Newly flooded", (220, 30, 60)),
)
#: Before / after: water gained and lost between a dry date and the event.
WATER_CHANGE_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("Unchanged", (235, 235, 225)),
    ClassInfo("Water gained", (220, 30, 60)),
    ClassInfo("Water lost", (240, 200, 40)),
)
#: Crops: where the model and the reference disagree.
DISAGREEMENT_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("Agree", (235, 235, 225)),
    ClassInfo("Disagree", (220, 30, 60)),
)


@dataclass(frozen=True)
class EvaluationLimits:
    """When geofm says a model is out of its depth, and how it picks a dry date before a flood."""

    #: contiguous US (the crop model's and the burn-scar model's training area), W S E N degrees
    conus_bbox: tuple[float, float, float, float] = (-125.0, 24.0, -66.5, 49.5)
    #: months the crop model's training scenes come from (March to September)
    growing_season: tuple[int, int] = (3, 9)
    #: share of cloud / no data above which results are flagged
    max_invalid_share: float = 0.25
    #: days before the event searched for a dry reference date
    dry_window_days: int = 90
    #: gap left before the event date when searching for a dry date
    dry_gap_days: int = 10


EVALUATION = EvaluationLimits()
#: Name of the reference in provenance when the user gives a file.
REFERENCE_FILE = "file"
