"""Uploaded GeoTIFFs: size checks and saving them where the reader can open them."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from geofm.config import HLS_RESOLUTION_M, get_task
from geofm.errors import GeofmError, InputError
from geofm.settings import settings


def max_upload_mb() -> float:
    """Largest accepted file in MB (setting GEOFM_MAX_UPLOAD_MB; Streamlit's server.maxUploadSize caps it too)."""
    return settings().max_upload_mb


def max_side_px() -> int:
    """Largest accepted raster side in pixels: the app's area limit at 30 m."""
    from geofm.data.aoi import max_aoi_km  # lazy: rasterio

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


#: Longest file name kept for an upload (longer names are shortened, keeping the extension).
MAX_NAME_CHARS = 80


def safe_name(name: str, index: int) -> str:
    """A plain file name for an upload: no folders, no odd characters, at most MAX_NAME_CHARS, .tif kept."""
    base = Path(name.replace("\\", "/")).name
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, "tif"
    ext = ext.lower() if ext.lower() in ("tif", "tiff") else "tif"
    stem = "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "_" for c in stem).strip("._") or "upload"
    stem = stem[:MAX_NAME_CHARS - len(ext) - 5]
    return f"{index:02d}_{stem}.{ext}"


@contextmanager
def saved_files(files: list[tuple[str, bytes]]) -> Iterator[list[Path]]:
    """Write the uploads into a private folder of this run (mode 0700, fresh name) and remove it afterwards.

    Files are created exclusively and never through a symbolic link, so nothing planted in the temp folder
    can redirect them; names are reduced to safe, short ones.
    """
    folder = Path(tempfile.mkdtemp(prefix="geofm-upload-"))
    try:
        paths = []
        for i, (name, content) in enumerate(files):
            path = folder / safe_name(name, i)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(path, flags, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            paths.append(path)
        yield paths
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def display_name(path: Path) -> str:
    """The name the user gave (as saved: without the index prefix)."""
    return Path(path).name.split("_", 1)[-1]


def check_raster_files(paths: list[Path]) -> None:
    """Judge each file from its header before any pixel is decoded: unreadable files, band counts, sample
    types, pixel sizes, rasters over the area limit and inputs over the app's memory budget are refused."""
    from geofm.io.header import check_budget, check_header, read_header, upload_budget_bytes  # lazy: rasterio

    headers = []
    for path in paths:
        try:
            header = read_header(Path(path))
        except InputError:
            raise InputError(f"{display_name(path)} is not a readable GeoTIFF.",
                             hint="Upload a GeoTIFF with the six HLS bands (Blue, Green, Red, NIR, SWIR 1, "
                                  "SWIR 2).") from None
        header = replace(header, name=display_name(path))
        check_raster_size((header.height, header.width))
        check_header(header)
        headers.append(header)
    check_budget(headers, upload_budget_bytes(), where="the app")


def file_problems(files: list[tuple[str, bytes]], task: str) -> list[str]:
    """Every problem of an upload for ``task``, one sentence each, naming each bad file (checked from the files'
    headers as soon as they are uploaded: nothing is decoded). Empty when Run can go ahead."""
    from geofm.serve.ui import user_message  # lazy: streamlit

    spec = get_task(task)
    lo, hi = spec.date_span()
    problems = []
    if len(files) > 1 and not lo <= len(files) <= hi:  # one file may hold every date (6 bands per date)
        problems.append(f"{spec.title} takes {spec.upload_help}; got {len(files)} files.")
    limit = max_upload_mb()
    sized = []
    for name, content in files:
        if not content:
            problems.append(f"{name} is empty.")
        elif len(content) / 1e6 > limit:
            problems.append(f"{name} is {len(content) / 1e6:.1f} MB; the app takes files up to {limit:g} MB. "
                            "Crop the GeoTIFF to a smaller area first.")
        else:
            sized.append((name, content))
    if not sized:
        return problems
    with saved_files(sized) as paths:
        names = [name for name, _ in sized]
        each_ok = True
        for path in paths:
            try:
                check_raster_files([path])
            except GeofmError as err:
                problems.append(_named(user_message(err), paths, names))
                each_ok = False
        if each_ok and len(paths) > 1:
            try:
                check_raster_files(paths)  # together: the memory budget of all of them
            except GeofmError as err:
                problems.append(_named(user_message(err), paths, names))
    return problems


def _named(text: str, paths: list[Path], names: list[str]) -> str:
    """``text`` with the saved files' names replaced by the names the user uploaded."""
    for path, name in sorted(zip(paths, names), key=lambda pn: -len(str(pn[0]))):
        text = text.replace(str(path), name).replace(path.name, name).replace(display_name(path), name)
    return text


def describe_file(name: str, content: bytes) -> str:
    """One line about a good upload: its size, and its bands named as its sensor names them."""
    from geofm.io.geotiff import sensor_from_name  # lazy: rasterio
    from geofm.io.header import read_header  # lazy: rasterio
    from geofm.render.products import SENSOR_NAMES  # lazy: pandas
    from geofm.render.stats import band_names  # lazy: pandas

    with saved_files([(name, content)]) as (path,):
        header = read_header(path)
    sensor = sensor_from_name(name)
    dates = max(1, header.count // 6)
    what = f"{SENSOR_NAMES[sensor]} (HLS {sensor})" if sensor else "sensor not in the file name"
    bands = ", ".join(band_names([sensor] if sensor else []))
    return (f"**{name}**: {header.width} × {header.height} px, {header.count} bands"
            f"{f' ({dates} dates)' if dates > 1 else ''} — {what}: {bands}")
