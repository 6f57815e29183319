"""Input rasters judged from their header alone, before any pixel is decoded.

A small file can declare a huge raster (a 448 KB TIFF with 1600 x 1600 pixels x 600 bands, or a sparse
100 000 x 100 000 file), a sample type no HLS file has (complex), or pixels that cannot be HLS (1 degree
pixels in EPSG:4326): each is caught here from the header, with the size and the limit in the message.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from geofm.config import HLS_RESOLUTION_M, INPUT_LIMITS, MODEL_BANDS
from geofm.errors import InputError

BANDS_PER_DATE = len(MODEL_BANDS)
_M_PER_DEG = 111_320.0  # metres per degree of longitude at the equator (and about per degree of latitude)


@dataclass(frozen=True)
class RasterHeader:
    """What a GeoTIFF declares: size, bands, sample type and georeference."""

    name: str
    width: int
    height: int
    count: int
    dtype: str
    crs: CRS | None
    transform: Affine

    @property
    def samples(self) -> int:
        return self.width * self.height * self.count

    @property
    def decode_bytes(self) -> int:
        """Memory to read and prepare every sample: the samples themselves plus the working copies."""
        return self.samples * (np.dtype(self.dtype).itemsize + INPUT_LIMITS.work_bytes_per_sample)

    def pixel_size_m(self) -> tuple[float, float]:
        """(x, y) pixel size in metres (degrees converted at the raster's centre latitude)."""
        t = self.transform
        px, py = math.hypot(t.a, t.d), math.hypot(t.b, t.e)
        if self.crs is not None and self.crs.is_geographic:
            lat = t.f + t.e * self.height / 2.0
            return px * _M_PER_DEG * max(math.cos(math.radians(max(-89.0, min(89.0, lat)))), 1e-6), py * _M_PER_DEG
        factor = 1.0
        if self.crs is not None:
            try:
                factor = float(self.crs.linear_units_factor[1])
            except (RasterioError, TypeError, ValueError, IndexError):
                factor = 1.0
        return px * factor, py * factor


def read_header(path: Path) -> RasterHeader:
    """The header of ``path`` (no pixels read); InputError when it is not a readable GeoTIFF."""
    if not path.exists():
        raise InputError(f"Input file {path} does not exist.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                return RasterHeader(path.name, src.width, src.height, src.count, src.dtypes[0] if src.count else "",
                                    src.crs, src.transform)
    except RasterioError as err:
        raise InputError(f"Cannot read {path.name} as a GeoTIFF ({err}).") from None


def _mb(n: int | float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def machine_memory_bytes() -> int:
    """Physical memory of this machine (0 when unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def cli_budget_bytes() -> int:
    """Decode budget of a command-line run: the configured MB, at most half of the machine's memory."""
    budget = int(INPUT_LIMITS.cli_budget_mb * 2**20)
    total = machine_memory_bytes()
    return min(budget, total // 2) if total else budget


def upload_budget_bytes() -> int:
    return int(INPUT_LIMITS.upload_budget_mb * 2**20)


def check_header(h: RasterHeader) -> list[str]:
    """Refuse what cannot be HLS (InputError); returns warnings for what is merely unusual."""
    if h.count == 0 or h.count % BANDS_PER_DATE != 0:
        raise InputError(f"{h.name} has {h.count} band(s); expected {BANDS_PER_DATE} bands per date "
                         f"({', '.join(MODEL_BANDS)} in HLS DN), e.g. 6 for one date or 18 for three dates in "
                         "one file.")
    kind = np.dtype(h.dtype).kind
    if kind not in INPUT_LIMITS.dtype_kinds:
        raise InputError(f"{h.name} holds {h.dtype} samples; HLS bands are integers (DN) or floats "
                         "(reflectance), not complex numbers.")
    if h.crs is None or h.transform == Affine.identity():
        raise InputError(f"{h.name} has no georeference (CRS and geotransform); geofm needs a georeferenced GeoTIFF.")
    px, py = h.pixel_size_m()
    size = max(px, py)
    small = min(px, py)
    refuse = INPUT_LIMITS.refuse_pixel_factor
    if size > HLS_RESOLUTION_M * refuse or small < HLS_RESOLUTION_M / refuse:
        raise InputError(f"{h.name} has {_pixel_text(px, py)} pixels; the models were trained on "
                         f"{HLS_RESOLUTION_M:g} m HLS pixels and take {HLS_RESOLUTION_M / refuse:g} to "
                         f"{HLS_RESOLUTION_M * refuse:g} m.",
                         hint="Resample it to 30 m first (e.g. gdalwarp -tr 30 30).")
    warn = INPUT_LIMITS.warn_pixel_factor
    notes = []
    if size > HLS_RESOLUTION_M * warn or small < HLS_RESOLUTION_M / warn:
        notes.append(f"{h.name} has {_pixel_text(px, py)} pixels, far from HLS's {HLS_RESOLUTION_M:g} m: "
                     "results may be poor; resample to 30 m for best results.")
    return notes


def _pixel_text(px: float, py: float) -> str:
    def one(v: float) -> str:
        return f"{v / 1000:.1f} km" if v >= 1000 else f"{v:.3g} m"
    return one(px) if abs(px - py) < 0.01 * max(px, py) else f"{one(px)} x {one(py)}"


def check_budget(headers: list[RasterHeader], budget: int, *, where: str) -> None:
    """Refuse inputs whose decoded samples would take more than ``budget`` bytes."""
    need = sum(h.decode_bytes for h in headers)
    if need > budget:
        h = headers[0]
        what = (f"{h.name} is {h.width} x {h.height} px x {h.count} bands of {h.dtype}" if len(headers) == 1
                else f"the {len(headers)} inputs hold {sum(x.samples for x in headers):,} samples")
        raise InputError(f"{what}: reading it would take about {_mb(need)} of memory; {where} takes inputs up to "
                         f"{_mb(budget)}.", hint="Crop it to a smaller area first (e.g. gdal_translate -projwin).")
