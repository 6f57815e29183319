"""The task registry: the one table that CLI, API, scene choice and the app look tasks up in.

Adding a task: one ``TaskSpec`` in ``TASKS`` (its model in ``geofm.config.models``, its page under app_pages/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from geofm.config.models import MODELS, ModelSpec
from geofm.config.reference import REFERENCE_LAYERS
from geofm.errors import InputError


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
    #: other registry models the task can run (``--model``, the page's model choice); see ``task_models``
    alt_models: tuple[str, ...] = ()

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
            model="prithvi-eo-1.0-100m-sen1floods11", alt_models=("prithvi-eo-2.0-300m-tl-sen1floods11",),
            result="classes", dates=1, view="target",
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
            model="prithvi-eo-1.0-100m-burn-scar", alt_models=("prithvi-eo-2.0-300m-burn-scars",),
            result="classes", dates=1, view="target",
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
        raise InputError(f"Unknown task {name!r}; choose one of {', '.join(TASKS)}.") from None


def task_models(task: str) -> tuple[str, ...]:
    """Registry models a task can run: its default first, then its alternatives."""
    spec = TASKS[task]
    return (spec.model, *spec.alt_models)


#: The default model of a task per device type and input — "area": scenes found for an area (they carry their
#: dates), "file": a user's file (which may not say its date, and EO-1.0 needs none) — where it is not the task's
#: ``model``: the best model that finishes a typical area within the run-time budget on that device. A typical
#: area is a few km (one model window for either model); on a shared 2-core CPU an EO-2.0 300M window (512 px
#: resized to 448) took 6.5x an EO-1.0 100M window (0.008 vs 0.052 windows/s, one round), so the CPU keeps EO-1.0
#: (a few-km run in seconds, and the app's estimates and ``geofm region`` stay on one model); on CUDA both finish
#: in well under a second and EO-2.0, the better model, is the default. Figures and rule: docs/models.md.
DEFAULT_MODELS: dict[tuple[str, str], dict[str, str]] = {
    ("cuda", "area"): {"flood": "prithvi-eo-2.0-300m-tl-sen1floods11", "burn-scars": "prithvi-eo-2.0-300m-burn-scars"},
}


def default_model(task: str, device_type: str = "cpu", source: str = "area") -> str:
    """The model ``task`` runs on a device of ``device_type`` ("cpu", "cuda") for ``source`` ("area", "file")
    when none is chosen."""
    return DEFAULT_MODELS.get((device_type, source), {}).get(task, TASKS[task].model)


def check_task_model(task: str, model: str) -> str:
    """``model`` when ``task`` can run it; InputError naming the choices otherwise."""
    if model not in task_models(task):
        raise InputError(f"{task} runs one of {', '.join(task_models(task))}; got {model!r}.")
    return model


@dataclass(frozen=True)
class RunDefaults:
    mask_ratio: float = 0.75
    seed: int = 0
    max_cloud: float = 30.0


DEFAULTS = RunDefaults()

def get_model_spec(name_or_task: str) -> ModelSpec:
    """Look a model up by registry name or by task name (its default model)."""
    name = TASKS[name_or_task].model if name_or_task in TASKS else name_or_task
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS) + sorted(TASK_MODELS))
        raise InputError(f"Unknown model or task {name_or_task!r}. Known: {known}.") from None

