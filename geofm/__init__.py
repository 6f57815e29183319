"""geofm: see what a geospatial foundation model sees.

The public Python API (imported on first use, so ``import geofm`` stays light)::

    import geofm
    aoi = geofm.AOI.from_bbox(-105.55, 35.72, -105.45, 35.80)
    stack, scenes = geofm.load_task_stack("burn-scars", aoi, "2022-09-15", "2022-10-31")
    result = geofm.run_task("burn-scars", stack)        # SegmentationResult
    geofm.write_class_map_cog(result, "burn.tif")

Tasks and models are the tables ``geofm.TASKS`` and ``geofm.MODELS``; operator settings are
``geofm.settings()``; every error a user can cause is a ``geofm.GeofmError``.
"""

from __future__ import annotations

from geofm.lazy import lazy_exports

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # tasks, models, settings
    "TASKS": "geofm.config", "MODELS": "geofm.config", "TaskSpec": "geofm.config", "ModelSpec": "geofm.config",
    "get_task": "geofm.config", "get_model_spec": "geofm.config",
    "Settings": "geofm.settings", "settings": "geofm.settings",
    # data
    "AOI": "geofm.data", "Scene": "geofm.data", "search_hls": "geofm.data", "get_scenes": "geofm.data",
    "choose_scenes": "geofm.data", "read_aoi": "geofm.data", "load_task_stack": "geofm.data",
    "HLSStack": "geofm.stack", "SegmentationResult": "geofm.stack", "ReconstructionResult": "geofm.stack",
    # models and running them
    "run_task": "geofm.pipeline", "run_segmentation": "geofm.pipeline", "run_flood": "geofm.pipeline",
    "run_crops": "geofm.pipeline", "run_reconstruction": "geofm.pipeline", "get_model": "geofm.pipeline",
    "clear_model_cache": "geofm.pipeline", "load_model": "geofm.models", "download_weights": "geofm.models",
    "resolve_weights": "geofm.models",
    # files and pictures
    "read_input_stack": "geofm.io.geotiff", "write_class_map_cog": "geofm.io.geotiff",
    "write_probabilities_cog": "geofm.io.geotiff", "write_reconstruction_cog": "geofm.io.geotiff",
    "render_products": "geofm.render.products",
    # did the model get it right?
    "write_evaluation": "geofm.evaluate", "Evaluation": "geofm.evaluate",  # and geofm.evaluate.evaluate(...)
    # errors
    "GeofmError": "geofm.errors", "InputError": "geofm.errors", "AOIError": "geofm.errors",
    "ServiceError": "geofm.errors", "AuthError": "geofm.errors", "NoScenesError": "geofm.errors",
    "AllCloudyError": "geofm.errors", "WeightsNotFoundError": "geofm.errors", "CheckpointError": "geofm.errors",
    "DeviceOutOfMemoryError": "geofm.errors", "SettingsError": "geofm.settings",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__ = lazy_exports("geofm", _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
