"""The temporal and location coordinates the EO-2.0 "TL" fine-tunes take, from a stack's dates and area.

TerraTorch's datamodules (``Sen1Floods11NonGeo``, ``FireScarsNonGeo`` with ``use_metadata``) give each chip
``temporal_coords`` (1, 2) = [year, day of year] and ``location_coords`` (2,) = [lat, lon] of its centre.
geofm gives every window of a run the stack's date and the centre of the whole area (the published inference
scripts read one date and place per file). A missing date is never filled in: the caller must say it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rasterio.warp import transform as warp_transform

from geofm.config import ModelSpec, UperNetSegmenterConfig
from geofm.errors import InputError
from geofm.stack import HLSStack

if TYPE_CHECKING:
    import torch


def needs_coords(spec: ModelSpec, model: object = None) -> bool:
    """True when ``spec`` (as loaded in ``model``, whose config decides) takes the date and place."""
    arch = getattr(model, "cfg", spec.arch)
    return isinstance(arch, UperNetSegmenterConfig) and arch.use_coords and arch.encoder.coords_encoding


def area_centre_lat_lon(stack: HLSStack) -> tuple[float, float]:
    """(lat, lon) in degrees of the centre of the stack's grid."""

    h, w = stack.shape
    cx, cy = stack.transform @ (w / 2, h / 2)
    lon, lat = warp_transform(stack.crs, "EPSG:4326", [cx], [cy])
    return float(lat[0]), float(lon[0])


def fine_tune_coords(stack: HLSStack, spec: ModelSpec, model: object = None) -> dict[str, torch.Tensor]:
    """``{"temporal_coords": (1, T, 2), "location_coords": (1, 2)}`` for ``spec``, or {} when it takes none.

    InputError when a date is unknown (a file whose name and tags hold no date, and no date given)."""
    if not needs_coords(spec, model):
        return {}
    import torch  # lazy: torch

    times = list(stack.times or [])
    if len(times) != stack.num_frames or any(t is None for t in times):
        raise InputError(f"{spec.title} uses the acquisition date, and the input does not say it (no HLS file "
                         "name, no date tag). Give the date (--date YYYY-MM-DD, or the date field of the upload).")
    lat, lon = area_centre_lat_lon(stack)
    temporal = torch.tensor([[[t.year, t.timetuple().tm_yday] for t in times]], dtype=torch.float32)
    return {"temporal_coords": temporal, "location_coords": torch.tensor([[lat, lon]], dtype=torch.float32)}
