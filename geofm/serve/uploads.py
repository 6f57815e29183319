"""Uploaded GeoTIFFs: size checks and saving them where the reader can open them."""

from __future__ import annotations

import tempfile
from pathlib import Path

from geofm.config import HLS_RESOLUTION_M, get_task
from geofm.errors import InputError
from geofm.settings import settings

def max_upload_mb() -> float:
    """Largest accepted file in MB (setting GEOFM_MAX_UPLOAD_MB; Streamlit's server.maxUploadSize caps it too)."""
    return settings().max_upload_mb


def max_side_px() -> int:
    """Largest accepted raster side in pixels: the app's area limit at 30 m."""
    from geofm.data.aoi import max_aoi_km

    return int(round(max_aoi_km() * 1000.0 / HLS_RESOLUTION_M))


def check_files(files: list[tuple[str, bytes]], task: str) -> None:
    """Reject empty, oversized or wrongly counted uploads with a clear message."""
    if not files:
        raise InputError("No file uploaded yet: add one or more GeoTIFFs first.")
    limit = max_upload_mb()
    for name, content in files:
        size_mb = len(content) / 1e6
        if size_mb > limit:
            raise InputError(f"{name} is {size_mb:.1f} MB; the app takes files up to {limit:g} MB.",
                             hint="Crop the GeoTIFF to a smaller area first (e.g. gdal_translate -projwin).")
        if not content:
            raise InputError(f"{name} is empty.")
    spec = get_task(task)
    lo, hi = spec.date_span()
    if len(files) != 1 and not lo <= len(files) <= hi:  # one file may hold every date (6 bands per date)
        raise InputError(f"{spec.title} takes {spec.upload_help}; got {len(files)} files.")


def check_raster_size(shape: tuple[int, int]) -> None:
    """Reject rasters larger than the app's area limit."""
    limit = max_side_px()
    height, width = shape
    if height > limit or width > limit:
        km = HLS_RESOLUTION_M / 1000.0
        raise InputError(
            f"The upload is {width} × {height} pixels ({width * km:.0f} × {height * km:.0f} km at 30 m); "
            f"the app takes at most {limit} × {limit} pixels.", hint="Crop it to a smaller area first.")


def save_files(files: list[tuple[str, bytes]], digest: str) -> list[Path]:
    """Write the uploads under a per-content folder in the temp dir; returns their paths in order."""
    folder = Path(tempfile.gettempdir()) / "geofm-uploads" / digest[:16]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, content) in enumerate(files):
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).name) or "upload.tif"
        path = folder / f"{i:02d}_{safe}"
        path.write_bytes(content)
        paths.append(path)
    return paths


def check_raster_files(paths: list[Path]) -> None:
    """Open each file's header: unreadable files and rasters over the size limit are rejected early."""
    import rasterio
    from rasterio.errors import RasterioIOError

    for path in paths:
        try:
            with rasterio.open(path) as src:
                shape = (src.height, src.width)
        except RasterioIOError:
            name = Path(path).name.split("_", 1)[-1]
            raise InputError(f"{name} is not a readable GeoTIFF.",
                             hint="Upload a GeoTIFF with the six HLS bands (Blue, Green, Red, NIR, SWIR 1, "
                                  "SWIR 2).") from None
        check_raster_size(shape)
