"""What the stand-in holds: two MGRS tiles across lon -96 (UTM 14N / 15N) and HLS scenes on nine dates.

Pixel values encode where they come from, so tests can check values after reprojection and mosaicking:
    DN = 1000 * (band + 1) + 100 * date_index + 50 * tile_index + 2 * pos + noise
with band = model band index 0..5 (B02..B07), pos = (col // 16 + row // 16) % 25 of the source pixel,
noise = one pseudo-random bit (keeps the files from compressing to nothing). ``decode`` inverts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from affine import Affine

TILE_PX = 1830  # 54.9 km at 30 m (real HLS tiles are 3660 px / 109.8 km)
BLOCK = 256


@dataclass(frozen=True)
class Tile:
    index: int
    name: str  # MGRS tile id
    epsg: int
    left: float
    top: float

    @property
    def transform(self) -> Affine:
        return Affine(30.0, 0.0, self.left, 0.0, -30.0, self.top)


TILES: tuple[Tile, ...] = (
    Tile(0, "14TQL", 32614, 699960.0, 4620000.0),  # lon ~ -96.62 .. -95.95, lat ~ 41.23 .. 41.72 (Fremont)
    Tile(1, "15TTG", 32615, 240000.0, 4609920.0),  # lon ~ -96.08 .. -95.44, lat ~ 41.13 .. 41.62 (Omaha)
)


@dataclass(frozen=True)
class Cloud:
    """A round cloud at (lon, lat) of radius_km, with an adjacency ring and a shadow to the south-east."""

    lon: float
    lat: float
    radius_km: float


@dataclass(frozen=True)
class SceneDate:
    index: int
    when: datetime
    sensor: str  # L30 | S30
    clouds: tuple[Cloud, ...] = ()
    #: Tile index -> number of western columns without data (a swath edge), -9999 / Fmask 255 there.
    fill_columns: tuple[tuple[int, int], ...] = ()


OMAHA = (-95.94, 41.26)
FREMONT = (-96.50, 41.43)


def _t(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    return datetime(y, m, d, hh, mm, 0, tzinfo=timezone.utc)


DATES: tuple[SceneDate, ...] = (
    SceneDate(0, _t(2019, 3, 14, 17, 15), "L30", (Cloud(-96.3, 41.5, 24.0), Cloud(-95.75, 41.35, 24.0))),
    SceneDate(1, _t(2019, 3, 22, 17, 19), "S30"),
    SceneDate(2, _t(2019, 4, 7, 17, 15), "L30", (Cloud(*OMAHA, 5.0), Cloud(-96.35, 41.6, 14.0),
                                                 Cloud(-95.6, 41.5, 12.0))),
    SceneDate(3, _t(2019, 5, 12, 17, 19), "S30", fill_columns=((0, 150),)),
    SceneDate(4, _t(2019, 6, 13, 17, 15), "L30", (Cloud(*FREMONT, 8.0), Cloud(-95.7, 41.3, 13.0))),
    SceneDate(5, _t(2019, 7, 8, 17, 19), "S30"),
    SceneDate(6, _t(2019, 8, 1, 17, 15), "L30", (Cloud(-95.7, 41.4, 5.0),)),
    SceneDate(7, _t(2019, 8, 27, 17, 19), "S30"),
    SceneDate(8, _t(2019, 9, 20, 17, 15), "L30", (Cloud(-96.3, 41.5, 20.0), Cloud(-95.75, 41.35, 20.0))),
)


def item_id(date: SceneDate, tile: Tile) -> str:
    """HLS v2 granule id, e.g. HLS.L30.T14TQL.2019073T171500.v2.0."""
    doy = date.when.timetuple().tm_yday
    return f"HLS.{date.sensor}.T{tile.name}.{date.when.year}{doy:03d}T{date.when:%H%M%S}.v2.0"


def position_code(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    return ((col // 16) + (row // 16)) % 25


def noise_bit(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    return ((col * 7919 + row * 104729) >> 3) & 1


def dn(band: int, date_index: int, tile_index: int, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """The value written at source pixel (col, row)."""
    return (1000 * (band + 1) + 100 * date_index + 50 * tile_index + 2 * position_code(col, row)
            + noise_bit(col, row)).astype(np.int16)


def decode(value: int) -> dict[str, int]:
    """band, date, tile and position code of a DN written by ``dn``."""
    v = int(value)
    return {"band": v // 1000 - 1, "date": (v % 1000) // 100, "tile": (v % 100) // 50, "pos": (v % 50) // 2}


FMASK_CLOUD, FMASK_ADJACENT, FMASK_SHADOW, FMASK_WATER = 2, 4, 8, 32
#: A strip of water (Fmask bit 5, still "clear") along this longitude band, like a river.
WATER_LON = (-95.93, -95.91)
