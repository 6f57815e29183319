"""geofm's configuration by subject, below every other part of the package (docs/architecture.md).

* ``geofm.config.bands``: band order and HLS facts;
* ``geofm.config.models``: the model registry (architectures, normalisation, classes and palettes);
* ``geofm.config.tasks``: the task registry and a run's defaults;
* ``geofm.config.reference``: reference layers, their value mappings and the agreement products;
* ``geofm.config.services``: STAC endpoints, collections, hosts;
* ``geofm.config.limits``: input and queue limits; ``geofm.config.compute``: precision and batch sizing;
* ``geofm.config.region``: region runs;
* ``geofm.settings``: every ``GEOFM_*`` variable, its default and its parsing.

Every name geofm.config had before it became a package is importable from here as before.
"""

from __future__ import annotations

from geofm.config.bands import (BAND_LABELS, CLASS_NODATA, FMASK_AEROSOL_HIGH, FMASK_AEROSOL_SHIFT, FMASK_FILL,
                                FMASK_NOT_CLEAR_BITS, HLS_BAND_ASSETS, HLS_BLOCK_PX, HLS_FMASK_ASSET, HLS_NODATA,
                                HLS_RESOLUTION_M, HLS_SCALE, MODEL_BANDS, RGB_INDICES)
from geofm.config.compute import (BATCH_POLICY, BatchPolicy, PRECISION_POLICY, PrecisionPolicy,
                                  WINDOW_MEMORY_FALLBACK_MIB, WINDOW_MEMORY_MIB, WindowMemory)
from geofm.config.limits import (APP_RESULTS_MAX_MB, CONTROLS, ControlRanges, DEFAULT_SEARCH_DAYS, GEOJSON_LIMITS,
                                 GeoJSONLimits, INPUT_LIMITS, InputLimits, QueueLimits, RUN_ESTIMATE, RunEstimate)
from geofm.config.models import (BURN_SCARS_NORM, BURN_SCAR_CLASSES, CROP_CLASSES, CROP_NORM, ClassInfo,
                                 FLOOD_CLASSES, MODELS, ModelSpec, Normalisation, PRITHVI_V1_NORM, PRITHVI_V2_NORM,
                                 SEN1FLOODS11_NORM, SEN1FLOODS11_TT_NORM, SegmenterConfig,
                                 UperNetSegmenterConfig, ViTConfig, models_of_kind)
from geofm.config.reference import (AGREEMENT_CLASSES, CDL_EXCLUDED, COMPARE_COLORS, REFERENCE_WATER_CLASSES,
                                    CDL_TO_CROP_ID, DISAGREEMENT_CLASSES, EVALUATION,
                                    EvaluationLimits, NEW_WATER_CLASSES, REFERENCE_FILE, REFERENCE_LAYERS,
                                    ReferenceLayer, WATER_CHANGE_CLASSES)
from geofm.config.region import (REGION, SERIES, RegionDefaults, SeriesLimits)
from geofm.config.services import (AZURE_BLOB_DOMAIN, EARTHDATA_HOSTS, FMASK_PASS_CONCURRENCY, HLS_COVERAGE_START,
                                   STAC_COLLECTIONS, STAC_PAGE_LIMIT, THROTTLE_BUDGET_S)
from geofm.config.tasks import (DEFAULTS, DEFAULT_MODELS, RunDefaults, TASKS, TASK_MODELS, TaskSpec, check_task_model,
                                default_model, get_model_spec, get_task, task_models)
from geofm.settings import (CMR_STAC_LPCLOUD, DEFAULT_MAX_AOI_KM, ENV_APP_CACHE_RUNS, ENV_AUTO_DOWNLOAD, ENV_BASEMAP,
                            ENV_DOWNLOAD_WAIT, ENV_READS_AT_ONCE,
                            ENV_CACHE_DIR, ENV_CACHE_MAX_MB, ENV_CMR_STAC_URL, ENV_EARTHDATA_HOSTS,
                            ENV_EARTHDATA_TOKEN, ENV_GEOCODER_URL, ENV_HTTP_RETRIES, ENV_HTTP_TIMEOUT,
                            ENV_JOBS_PER_SESSION, ENV_JOB_SECONDS, ENV_MAX_AOI_KM, ENV_MAX_UPLOAD_MB, ENV_PRECISION,
                            ENV_PRELOAD, ENV_QUEUE_MAX, ENV_RUNS_PER_MINUTE, ENV_STAC_URL, ENV_WEIGHTS_DIR,
                            NOMINATIM_URL, PLANETARY_COMPUTER_STAC, PRECISIONS)

__all__ = ['SERIES', 'SeriesLimits',
           'DEFAULT_MODELS', 'SEN1FLOODS11_TT_NORM', 'UperNetSegmenterConfig', 'check_task_model', 'default_model',
           'task_models', 'APP_RESULTS_MAX_MB', 'CONTROLS', 'COMPARE_COLORS', 'ControlRanges', 'ENV_DOWNLOAD_WAIT',
           'ENV_READS_AT_ONCE', 'GEOJSON_LIMITS', 'GeoJSONLimits', 'REFERENCE_WATER_CLASSES', 'RUN_ESTIMATE',
           'RunEstimate', 'AGREEMENT_CLASSES', 'AZURE_BLOB_DOMAIN', 'BAND_LABELS', 'BATCH_POLICY', 'BURN_SCARS_NORM',
           'BURN_SCAR_CLASSES', 'BatchPolicy', 'CDL_EXCLUDED', 'CDL_TO_CROP_ID', 'CLASS_NODATA', 'CMR_STAC_LPCLOUD',
           'CROP_CLASSES', 'CROP_NORM', 'ClassInfo', 'DEFAULTS', 'DEFAULT_MAX_AOI_KM', 'DEFAULT_SEARCH_DAYS',
           'DISAGREEMENT_CLASSES', 'EARTHDATA_HOSTS', 'ENV_APP_CACHE_RUNS', 'ENV_AUTO_DOWNLOAD', 'ENV_BASEMAP',
           'ENV_CACHE_DIR', 'ENV_CACHE_MAX_MB', 'ENV_CMR_STAC_URL', 'ENV_EARTHDATA_HOSTS', 'ENV_EARTHDATA_TOKEN',
           'ENV_GEOCODER_URL', 'ENV_HTTP_RETRIES', 'ENV_HTTP_TIMEOUT', 'ENV_JOBS_PER_SESSION', 'ENV_JOB_SECONDS',
           'ENV_MAX_AOI_KM', 'ENV_MAX_UPLOAD_MB', 'ENV_PRECISION', 'ENV_PRELOAD', 'ENV_QUEUE_MAX',
           'ENV_RUNS_PER_MINUTE', 'ENV_STAC_URL', 'ENV_WEIGHTS_DIR', 'EVALUATION', 'EvaluationLimits', 'FLOOD_CLASSES',
           'FMASK_AEROSOL_HIGH', 'FMASK_AEROSOL_SHIFT', 'FMASK_FILL', 'FMASK_NOT_CLEAR_BITS', 'FMASK_PASS_CONCURRENCY',
           'HLS_BAND_ASSETS', 'HLS_BLOCK_PX', 'HLS_COVERAGE_START', 'HLS_FMASK_ASSET', 'HLS_NODATA',
           'HLS_RESOLUTION_M', 'HLS_SCALE', 'INPUT_LIMITS', 'InputLimits', 'MODELS', 'MODEL_BANDS', 'ModelSpec',
           'NEW_WATER_CLASSES', 'NOMINATIM_URL', 'Normalisation', 'PLANETARY_COMPUTER_STAC', 'PRECISIONS',
           'PRECISION_POLICY', 'PRITHVI_V1_NORM', 'PRITHVI_V2_NORM', 'PrecisionPolicy', 'QueueLimits',
           'REFERENCE_FILE', 'REFERENCE_LAYERS', 'REGION', 'RGB_INDICES', 'ReferenceLayer', 'RegionDefaults',
           'RunDefaults', 'SEN1FLOODS11_NORM', 'STAC_COLLECTIONS', 'STAC_PAGE_LIMIT', 'SegmenterConfig', 'TASKS',
           'TASK_MODELS', 'THROTTLE_BUDGET_S', 'TaskSpec', 'ViTConfig', 'WATER_CHANGE_CLASSES',
           'WINDOW_MEMORY_FALLBACK_MIB', 'WINDOW_MEMORY_MIB', 'WindowMemory', 'get_model_spec', 'get_task',
           'models_of_kind']
