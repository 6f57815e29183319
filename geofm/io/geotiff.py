"""GeoTIFF in and out: read user-supplied HLS inputs into an HLSStack, write results as COGs.

Inputs are 6-band GeoTIFFs in model band order (B02, B03, B04, B05/B8A, B06/B11, B07/B12) in HLS DN
(reflectance x 10 000, fill -9999), one file per date — or one file holding several dates time-major
(18 bands = 3 dates for crops). Floats that look like reflectance (mean <= 2) are scaled x10 000, as the
official demo did, and the caller is told so through ``progress``.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile

from geofm.config import CLASS_NODATA, HLS_NODATA, MODEL_BANDS
from geofm.errors import InputError, OutputError
from geofm.io import header as _header
from geofm.io.header import RasterHeader, check_budget, check_header, read_header
from geofm.io.safewrite import atomic_output
from geofm.progress import Progress, null_progress
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

BANDS_PER_DATE = len(MODEL_BANDS)
#: Mean (over valid pixels) at or below which float input is taken to be reflectance, not DN.
REFLECTANCE_MEAN_MAX = 2.0
COG_OPTIONS = {"COMPRESS": "DEFLATE", "BLOCKSIZE": 512, "OVERVIEWS": "AUTO", "BIGTIFF": "IF_SAFER"}
log = logging.getLogger(__name__)
_HLS_TIME = re.compile(r"(\d{4})(\d{3})T(\d{6})")
#: The sensor part of an HLS file name ("HLS.S30.T13REN.2018013T172747.v2.0.tif"; "_" where a name was made safe).
_HLS_SENSOR = re.compile(r"HLS[._-](L30|S30)[._-]", re.IGNORECASE)


def sensor_from_name(name: str) -> str | None:
    """"L30" (Landsat) or "S30" (Sentinel-2) when ``name`` is an HLS file name, else None."""
    match = _HLS_SENSOR.search(name)
    return match.group(1).upper() if match else None


def _expected() -> str:
    return (f"{BANDS_PER_DATE} bands per date ({', '.join(MODEL_BANDS)} in HLS DN), "
            f"e.g. 6 for one date or 18 for three dates in one file")


def _time_from_name(name: str) -> datetime | None:
    match = _HLS_TIME.search(name)
    if not match:
        return None
    year, doy, hms = match.groups()
    try:
        return datetime.strptime(f"{year}{doy}{hms}", "%Y%j%H%M%S")
    except ValueError:
        return None


#: GeoTIFF tags that hold an acquisition date (HLS's own metadata names, then common ones), first found wins.
DATE_TAGS: tuple[str, ...] = ("SENSING_TIME", "ACQUISITION_DATE", "DATE_ACQUIRED", "ACQUISITION_TIME", "DATETIME")


def time_from_tags(path: Path) -> datetime | None:
    """The acquisition date in the file's tags (``SENSING_TIME`` ... ISO dates), or None."""

    try:
        with rasterio.open(path) as ds:
            tags = {k.upper(): v for k, v in ds.tags().items()}
    except Exception:  # noqa: BLE001 - an unreadable tag block is "no date"; the pixels are read elsewhere
        return None
    for key in DATE_TAGS:
        text = str(tags.get(key, "")).strip().split(";")[0].strip()
        if not text:
            continue
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")[:26]).replace(tzinfo=None)
        except ValueError:
            continue
    return None


def decode_valid(raw: np.ndarray, nodata: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(bands, H, W) samples -> float32 (T, 6, H, W) and the valid mask (T, H, W): finite, not fill, not nodata."""
    count, h, w = raw.shape
    data = raw.astype(np.float32, copy=False).reshape(count // BANDS_PER_DATE, BANDS_PER_DATE, h, w)
    bad = ~np.isfinite(data) | (data == HLS_NODATA)
    if nodata is not None and np.isfinite(nodata):
        bad |= data == nodata
    elif nodata is not None:  # nodata = nan
        bad |= np.isnan(data)
    return data, ~bad.any(axis=1)


def to_dn(data: np.ndarray, valid: np.ndarray, scale: bool) -> np.ndarray:
    """float32 (T, 6, H, W) -> int16 DN, x10000 when ``scale`` (reflectance), fill where not valid."""
    if scale:
        data = data * np.float32(10_000.0)
    data = np.clip(np.rint(np.where(np.isfinite(data), data, 0)), -32768, 32767)
    return np.where(valid[:, None], data, HLS_NODATA).astype(np.int16)


def reflectance_note(name: str, mean: float) -> str:
    return f"{name} looks like reflectance (mean {mean:.3f}); scaled x10000 to HLS DN."


class _Raster:
    """One opened input: its bands as int16 DN (T, 6, H, W), a validity mask, and georeference."""

    def __init__(self, path: Path, header: RasterHeader, progress: Progress) -> None:
        assert header.crs is not None  # check_header refused rasters without one
        self.crs: CRS = header.crs
        self.transform = header.transform
        self.shape = (header.height, header.width)
        try:
            with rasterio.open(path) as src:
                dtype, nodata = src.dtypes[0], src.nodata
                raw = src.read()
        except RasterioError as err:
            raise InputError(f"Cannot read {path.name} as a GeoTIFF ({err}).") from None
        self.path = path
        data, self.valid = decode_valid(raw, nodata)
        scale = False
        if np.issubdtype(np.dtype(dtype), np.floating) and self.valid.any():
            mean = float(data[np.broadcast_to(self.valid[:, None], data.shape)].mean(dtype=np.float64))
            if mean <= REFLECTANCE_MEAN_MAX:
                scale = True
                progress("read", reflectance_note(path.name, mean), None)
        self.data = to_dn(data, self.valid, scale)


def check_same_grid(headers: list[RasterHeader]) -> None:
    """All inputs on one grid: same CRS, size and geotransform."""
    first = headers[0]
    for r in headers[1:]:
        if r.crs != first.crs:
            raise InputError(f"{r.name} is in {r.crs} but {first.name} is in {first.crs}; "
                             "all inputs must share one grid.")
        if (r.height, r.width) != (first.height, first.width):
            raise InputError(f"{r.name} is {r.width}x{r.height} px but {first.name} is "
                             f"{first.width}x{first.height} px; all inputs must share one grid.")
        if not r.transform.almost_equals(first.transform):
            raise InputError(f"{r.name} and {first.name} have different geotransforms "
                             "(pixel grid or origin); all inputs must share one grid.")


def check_inputs(paths: list[Path], *, budget_bytes: int | None = None, where: str = "the command line",
                 progress: Progress = null_progress) -> list[RasterHeader]:
    """Judge the inputs from their headers (band count, sample type, georeference, pixel size, memory) before
    any pixel is decoded; unusual pixel sizes are reported through ``progress``."""
    headers = [read_header(Path(p)) for p in paths]
    for h in headers:
        for note in check_header(h):
            progress("read", note, None)
    check_budget(headers, _header.cli_budget_bytes() if budget_bytes is None else budget_bytes, where=where)
    return headers


def read_input_stack(paths: list[Path] | list[str], *, progress: Progress = null_progress,
                     budget_bytes: int | None = None, where: str = "the command line") -> HLSStack:
    """Read 6-band DN GeoTIFFs (one per date, in time order) or one multi-date file into an HLSStack.

    Headers are checked first (``check_inputs``): inputs that would need more than ``budget_bytes`` of memory
    (default: the command line's budget) are refused before anything is decoded.
    """
    if not paths:
        raise InputError("No input file given.")
    files = [Path(p) for p in paths]
    headers = check_inputs(files, budget_bytes=budget_bytes, where=where, progress=progress)
    rasters = [_Raster(p, h, progress) for p, h in zip(files, headers)]
    first = rasters[0]
    for r in rasters[1:]:
        if r.crs != first.crs:
            raise InputError(f"{r.path.name} is in {r.crs.to_string()} but {first.path.name} is in "
                             f"{first.crs.to_string()}; all inputs must share one grid.")
        if r.shape != first.shape:
            raise InputError(f"{r.path.name} is {r.shape[1]}x{r.shape[0]} px but {first.path.name} is "
                             f"{first.shape[1]}x{first.shape[0]} px; all inputs must share one grid.")
        if not r.transform.almost_equals(first.transform):
            raise InputError(f"{r.path.name} and {first.path.name} have different geotransforms "
                             "(pixel grid or origin); all inputs must share one grid.")
    data = np.concatenate([r.data for r in rasters])
    valid = np.concatenate([r.valid for r in rasters])
    times: list[datetime | None] = []
    ids: list[str] = []
    for r in rasters:
        n = r.data.shape[0]
        times += [_time_from_name(r.path.name) or time_from_tags(r.path)] * n
        ids += [r.path.stem if n == 1 else f"{r.path.stem}#{i + 1}" for i in range(n)]
    if not valid.any():
        raise InputError("The input has no valid pixels (all fill / nodata).")
    return HLSStack(data=data, valid=valid, crs=first.crs, transform=first.transform, times=times,
                    scene_ids=ids)


def write_cog(array: np.ndarray, path: str | Path, *, crs: CRS, transform: Affine, nodata: float | None,
              colormap: dict[int, tuple[int, int, int, int]] | None = None,
              descriptions: list[str] | None = None, tags: dict[str, str] | None = None,
              photometric: str | None = None) -> Path:
    """Write a (bands, H, W) array as a deflate-compressed Cloud-Optimised GeoTIFF (512 px tiles)."""
    path = Path(path)
    count, height, width = array.shape
    profile = dict(driver="GTiff", width=width, height=height, count=count, dtype=array.dtype.name,
                   crs=crs, transform=transform, nodata=nodata)
    if photometric:
        profile["photometric"] = photometric
    options = dict(COG_OPTIONS)
    with MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(array)
            if colormap:
                ds.write_colormap(1, colormap)
            for i, desc in enumerate(descriptions or [], start=1):
                ds.set_band_description(i, desc)
            if tags:
                ds.update_tags(**tags)
        with mem.open() as src, atomic_output(path, verify=lambda tmp: _verify_written(tmp, array)) as tmp:
            try:
                with rasterio.Env(CPL_LOG=os.devnull):  # GDAL prints write failures itself; they are reported below
                    rasterio.shutil.copy(src, tmp, driver="COG", **options)
            except (RasterioError, SystemError) as err:  # rasterio raises SystemError for an unreported failure
                log.info("COG write of %s failed: %s", path, err)
                raise OutputError(f"Writing {path} failed: the file could not be written completely (is the disk "
                                  f"full?).{_kept(path)}") from None
    return path


_write_cog = write_cog  # the name it had before evaluate/ used it


def _verify_written(path: Path, array: np.ndarray) -> None:
    """Read the written file back: a short write (full disk, size limit) that GDAL did not report shows here."""
    try:
        with rasterio.open(path) as src:
            ok = src.count == array.shape[0] and (src.height, src.width) == array.shape[1:]
            for i in range(array.shape[0]):
                if not ok:
                    break
                ok = np.array_equal(src.read(i + 1), array[i], equal_nan=array.dtype.kind == "f")
    except RasterioError:
        ok = False
    if not ok:
        raise OutputError(f"Writing {path.name} failed: the file on disk is incomplete (is the disk full?).")


def _kept(path: Path) -> str:
    return " The previous file was kept." if path.exists() else ""


def _provenance(result: SegmentationResult | ReconstructionResult) -> dict[str, str]:
    """Tags naming what made the result: the checkpoint's SHA-256 (when known)."""
    return {"CHECKPOINT_SHA256": result.checkpoint_sha256} if result.checkpoint_sha256 else {}


def write_class_map_cog(result: SegmentationResult, path: str | Path, *, tags: dict[str, str] | None = None) -> Path:
    """uint8 class map COG, nodata 255, the input's CRS/transform, colour table and class names.

    ``tags`` (provenance) go into the same atomic write: the file appears complete, tags included, or not at all.
    """
    cmap = {k: (*color, 255) for k, color in enumerate(result.class_colors)}
    cmap[CLASS_NODATA] = (0, 0, 0, 0)
    classes = {f"CLASS_{k}": name for k, name in enumerate(result.class_names)}
    return _write_cog(result.classes[None].astype(np.uint8), path, crs=result.crs, transform=result.transform,
                      nodata=CLASS_NODATA, colormap=cmap, descriptions=["class"],
                      tags={"MODEL": result.model, **_provenance(result), **classes, **(tags or {})})


def write_probabilities_cog(result: SegmentationResult, path: str | Path, *,
                            tags: dict[str, str] | None = None) -> Path:
    """Per-class softmax probabilities as a float32 COG (one band per class, NaN where no data)."""
    if result.probabilities is None:
        raise ValueError("the result holds no probabilities (run with probabilities=True)")
    probs = np.where(result.classes[None] == CLASS_NODATA, np.nan, result.probabilities).astype(np.float32)
    return _write_cog(probs, path, crs=result.crs, transform=result.transform, nodata=float("nan"),
                      descriptions=list(result.class_names),
                      tags={"MODEL": result.model, **_provenance(result), **(tags or {})})


def write_rgb_cog(rgb: np.ndarray, crs: CRS, transform: Affine, path: str | Path) -> Path:
    """(H, W, 3) uint8 true-colour COG."""
    return _write_cog(np.ascontiguousarray(rgb.transpose(2, 0, 1)).astype(np.uint8), path, crs=crs,
                      transform=transform, nodata=None, descriptions=["red", "green", "blue"],
                      photometric="RGB")


def reconstruction_band_names(num_dates: int) -> list[str]:
    """Band descriptions of the reconstruction GeoTIFF: ``date1 B02`` ... time-major."""
    return [f"date{t + 1} {band}" for t in range(num_dates) for band in MODEL_BANDS]


def write_reconstruction_cog(result: ReconstructionResult, path: str | Path, *,
                             tags: dict[str, str] | None = None) -> Path:
    """Reconstructed bands as an int16 DN COG (nodata -9999): 6 bands per date, time-major."""
    t, c, h, w = result.reconstructed.shape
    rec = result.reconstructed.reshape(t * c, h, w)
    dn = np.where(np.isfinite(rec), np.clip(np.rint(rec), -32768, 32767), HLS_NODATA).astype(np.int16)
    return _write_cog(dn, path, crs=result.crs, transform=result.transform, nodata=HLS_NODATA,
                      descriptions=reconstruction_band_names(t),
                      tags={"MODEL": result.model, **_provenance(result), "MASK_RATIO": str(result.mask_ratio),
                            "SEED": str(result.seed),
                            "HIDDEN_FRACTION": f"{float(result.mask.mean()):.4f}", **(tags or {})})
