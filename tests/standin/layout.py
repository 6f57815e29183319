"""What the stand-in holds: HLS scenes on six MGRS tiles, dated inside Planetary Computer's HLS v2 record
(which starts on 2020-01-01), plus one 2019 date that only the CMR mode serves.

- Nebraska (the crop example's Corn Belt): 14TQL (UTM 14N, Fremont) and 15TTG (UTM 15N, Omaha) meet at
  lon -96; nine dates of the 2022 growing season (``DATES``, index 0..8, same month/day pattern as before) and
  one 2019 date (``CMR_ONLY_DATES``) that only CMR-STAC has (Planetary Computer's record starts in 2020).
- Sindh, Pakistan (the flood example, Sept 2022): 42RUQ (UTM 42N) around Manchar Lake / Dadu, three dates
  from late August to early September 2022 with a large flooded area (Fmask water bit, low NIR/SWIR).
- Near Sydney, Australia (southern hemisphere): 56HLH, written like NASA does, in the NORTHERN zone CRS
  (EPSG 32656) with negative northings; three dates in 2023 (the reconstruction example's kind of area).
- Sindh again, through the flood's fall: six more dates to late October 2022 (Landsat 8/9 every 8 days,
  Sentinel-2 between), the flood shrinking towards the lake (``SceneDate.extent``), one date under cloud.
- Hermits Peak / Calf Canyon fire, New Mexico: 13SDV (UTM 13N), seven autumn-2022 dates (the burn-scar
  example's window and after), a burn scar (dark NIR, bright SWIR: ``BURN_DN``) that greens slowly at its rim,
  one date under cloud.
- San Francisco waterfront: 10SEG (UTM 10N), three autumn-2023 dates (one foggy), the bay as water.

Pixel values encode where they come from, so tests can check values after reprojection and mosaicking:
    DN = 1000 * (band + 1) + 100 * date.index + 50 * (tile.index % 2) + 2 * pos + noise
with band = model band index 0..5 (B02..B07), pos = (col // 16 + row // 16) % 25 of the source pixel,
noise = one pseudo-random bit (keeps the files from compressing to nothing). ``decode`` inverts it (its
``tile`` is ``tile.index % 2``; date.index counts within a region). Water pixels of the Sindh tile hold
``WATER_DN`` instead (dark in NIR and SWIR), so they do not decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from affine import Affine

TILE_PX = 1830  # the Nebraska tiles: 54.9 km at 30 m (real HLS tiles are 3660 px / 109.8 km)
BLOCK = 256  # NASA's COG block size; overviews use OVERVIEW_BLOCK
OVERVIEW_BLOCK = 128


@dataclass(frozen=True)
class Tile:
    index: int
    name: str  # MGRS tile id
    epsg: int  # always the NORTHERN zone (326xx), like NASA's files and items, also south of the equator
    left: float
    top: float
    size: int = TILE_PX

    @property
    def transform(self) -> Affine:
        return Affine(30.0, 0.0, self.left, 0.0, -30.0, self.top)

    @property
    def zone(self) -> int:
        return self.epsg - 32600

    @property
    def proj4(self) -> str:
        """The CRS as NASA's processing defines it: proj4, UTM on the WGS 84 ellipsoid (always the north zone)."""
        return f"+proj=utm +zone={self.zone} +ellps=WGS84 +units=m +no_defs"

    @property
    def file_wkt(self) -> str:
        """The CRS as it reads back from NASA's COGs (gdalinfo: "UTM Zone 15, Northern Hemisphere" on the
        "Unknown datum based upon the WGS 84 ellipsoid"): no projected EPSG code, so ``crs.to_epsg()`` is None."""
        return (f'PROJCS["UTM Zone {self.zone}, Northern Hemisphere",GEOGCS["Unknown datum based upon the WGS 84 '
                'ellipsoid",DATUM["Not_specified_based_on_WGS_84_spheroid",SPHEROID["WGS 84",6378137,'
                '298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6030"]],PRIMEM["Greenwich",0],'
                'UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4030"]],PROJECTION["Transverse_Mercator"],'
                f'PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",{6 * self.zone - 183}],'
                'PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],'
                'UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]')


TILES: tuple[Tile, ...] = (
    Tile(0, "14TQL", 32614, 699960.0, 4620000.0),  # lon ~ -96.62 .. -95.95, lat ~ 41.23 .. 41.72 (Fremont)
    Tile(1, "15TTG", 32615, 240000.0, 4609920.0),  # lon ~ -96.08 .. -95.44, lat ~ 41.13 .. 41.62 (Omaha)
)
#: Sindh, Pakistan: lon ~ 67.57 .. 67.86, lat ~ 26.29 .. 26.55 (Manchar Lake at 67.67, 26.42; Dadu to the north)
SINDH_TILE = Tile(2, "42RUQ", 32642, 357000.0, 2937000.0, 960)
#: Near Sydney: lon ~ 150.85 .. 151.09, lat ~ -33.82 .. -33.62; northings are negative (northern zone 56)
SOUTH_TILE = Tile(3, "56HLH", 32656, 300000.0, -3720000.0, 720)
#: Hermits Peak / Calf Canyon fire, New Mexico: lon ~ -105.64 .. -105.36, lat ~ 35.65 .. 35.87 (the MGRS tile
#: that holds the fire's east side is 13SDV; the stand-in writes the 25 km around the burn-scar example)
HERMITS_TILE = Tile(4, "13SDV", 32613, 442200.0, 3970050.0, 840)
#: San Francisco: lon ~ -122.50 .. -122.30, lat ~ 37.71 .. 37.88 (the part of 10SEG around the waterfront)
SF_TILE = Tile(5, "10SEG", 32610, 543810.0, 4192230.0, 600)
ALL_TILES: tuple[Tile, ...] = TILES + (SINDH_TILE, SOUTH_TILE, HERMITS_TILE, SF_TILE)


@dataclass(frozen=True)
class Cloud:
    """A round cloud at (lon, lat) of radius_km, with an adjacency ring and a shadow to the south-east."""

    lon: float
    lat: float
    radius_km: float


@dataclass(frozen=True)
class SceneDate:
    index: int  # within its region (the ``date`` in the DN formula)
    when: datetime
    sensor: str  # L30 | S30
    clouds: tuple[Cloud, ...] = ()
    #: Tile index -> number of western columns without data (a swath edge), -9999 / Fmask 255 there.
    fill_columns: tuple[tuple[int, int], ...] = ()
    tiles: tuple[int, ...] = (0, 1)  # indices into ALL_TILES
    satellite: str = ""  # platform as NASA writes it, e.g. sentinel-2a, landsat-9
    cmr_only: bool = False  # before 2020: only NASA CMR-STAC serves it
    #: False: the band files carry no scale_factor (some real granules lack it)
    scaled: bool = True
    #: Share of the tile's event at its largest on this date: the Sindh flood beyond the lake, the burn scar.
    extent: float = 1.0

    @property
    def platform(self) -> str:
        return self.satellite or ("landsat-8" if self.sensor == "L30" else "sentinel-2a")


OMAHA = (-95.94, 41.26)
FREMONT = (-96.50, 41.43)
MANCHAR = (67.67, 26.42)
SYDNEY_WEST = (150.97, -33.72)
HERMITS_PEAK = (-105.50, 35.76)
SF_WATERFRONT = (-122.40, 37.795)


def _t(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    return datetime(y, m, d, hh, mm, 0, tzinfo=timezone.utc)


#: Nebraska, 2022 growing season (Planetary Computer and CMR).
DATES: tuple[SceneDate, ...] = (
    SceneDate(0, _t(2022, 3, 14, 17, 15), "L30", (Cloud(-96.3, 41.5, 24.0), Cloud(-95.75, 41.35, 24.0)),
              satellite="landsat-8"),
    SceneDate(1, _t(2022, 3, 22, 17, 19), "S30", satellite="sentinel-2a"),
    SceneDate(2, _t(2022, 4, 7, 17, 15), "L30", (Cloud(*OMAHA, 5.0), Cloud(-96.35, 41.6, 14.0),
                                                 Cloud(-95.6, 41.5, 12.0)), satellite="landsat-9"),
    SceneDate(3, _t(2022, 5, 12, 17, 19), "S30", fill_columns=((0, 150),), satellite="sentinel-2b"),
    SceneDate(4, _t(2022, 6, 13, 17, 15), "L30", (Cloud(*FREMONT, 8.0), Cloud(-95.7, 41.3, 13.0)),
              satellite="landsat-8"),
    SceneDate(5, _t(2022, 7, 8, 17, 19), "S30", satellite="sentinel-2a"),
    SceneDate(6, _t(2022, 8, 1, 17, 15), "L30", (Cloud(-95.7, 41.4, 5.0),), satellite="landsat-9", scaled=False),
    SceneDate(7, _t(2022, 8, 27, 17, 19), "S30", satellite="sentinel-2b"),
    SceneDate(8, _t(2022, 9, 20, 17, 15), "L30", (Cloud(-96.3, 41.5, 20.0), Cloud(-95.75, 41.35, 20.0)),
              satellite="landsat-8"),
)
#: Nebraska before 2020: only in CMR mode (a pre-2020 search finds something only there).
CMR_ONLY_DATES: tuple[SceneDate, ...] = (
    SceneDate(9, _t(2019, 7, 8, 17, 19), "S30", satellite="sentinel-2b", cmr_only=True),
)
#: Sindh floods 2022: a cloudy Sentinel-2 scene, then the clear Landsat 9 / Landsat 8 overpasses NASA showed.
SINDH_DATES: tuple[SceneDate, ...] = (
    SceneDate(0, _t(2022, 8, 25, 5, 59), "S30", (Cloud(67.75, 26.48, 9.0), Cloud(67.62, 26.36, 6.0)),
              tiles=(2,), satellite="sentinel-2a"),
    SceneDate(1, _t(2022, 8, 28, 5, 53), "L30", tiles=(2,), satellite="landsat-9"),
    SceneDate(2, _t(2022, 9, 5, 5, 53), "L30", (Cloud(67.72, 26.46, 3.0),), tiles=(2,), satellite="landsat-8"),
    # the fall: Landsat 9 / 8 every 8 days, Sentinel-2 between; the flood shrinks towards the lake
    SceneDate(3, _t(2022, 9, 13, 5, 53), "L30", tiles=(2,), satellite="landsat-9", extent=0.9),
    SceneDate(4, _t(2022, 9, 19, 5, 59), "S30", (Cloud(67.70, 26.40, 8.0),), tiles=(2,), satellite="sentinel-2b",
              extent=0.85),
    SceneDate(5, _t(2022, 9, 29, 5, 53), "L30", tiles=(2,), satellite="landsat-9", extent=0.75),
    SceneDate(6, _t(2022, 10, 7, 5, 53), "L30", (Cloud(67.80, 26.50, 2.5),), tiles=(2,), satellite="landsat-8",
              extent=0.65),
    SceneDate(7, _t(2022, 10, 15, 5, 53), "L30", tiles=(2,), satellite="landsat-9", extent=0.55),
    SceneDate(8, _t(2022, 10, 24, 5, 59), "S30", tiles=(2,), satellite="sentinel-2a", extent=0.45),
)
#: Southern tile, 2023 (late summer to autumn): one small cloud on the middle date.
SOUTH_DATES: tuple[SceneDate, ...] = (
    SceneDate(0, _t(2023, 3, 3, 23, 57), "S30", tiles=(3,), satellite="sentinel-2a"),
    SceneDate(1, _t(2023, 4, 10, 23, 50), "L30", (Cloud(*SYDNEY_WEST, 2.0),), tiles=(3,), satellite="landsat-9"),
    SceneDate(2, _t(2023, 5, 2, 23, 57), "S30", tiles=(3,), satellite="sentinel-2b"),
)
#: Hermits Peak, autumn 2022 (after the fire, before snow): a cloudy Landsat 9 pass, then clear passes; the
#: burn scar's rim greens slowly (``extent``).
HERMITS_DATES: tuple[SceneDate, ...] = (
    SceneDate(0, _t(2022, 9, 18, 17, 36), "L30", (Cloud(*HERMITS_PEAK, 6.0),), tiles=(4,), satellite="landsat-9"),
    SceneDate(1, _t(2022, 9, 23, 17, 49), "S30", tiles=(4,), satellite="sentinel-2a"),
    SceneDate(2, _t(2022, 10, 4, 17, 36), "L30", (Cloud(-105.42, 35.70, 2.0),), tiles=(4,), satellite="landsat-9"),
    SceneDate(3, _t(2022, 10, 13, 17, 49), "S30", tiles=(4,), satellite="sentinel-2b", extent=0.98),
    SceneDate(4, _t(2022, 10, 28, 17, 49), "S30", tiles=(4,), satellite="sentinel-2a", extent=0.96),
    SceneDate(5, _t(2022, 11, 13, 17, 36), "L30", (Cloud(-105.40, 35.84, 3.0),), tiles=(4,), satellite="landsat-8",
              extent=0.94),
    SceneDate(6, _t(2022, 11, 22, 17, 49), "S30", tiles=(4,), satellite="sentinel-2b", extent=0.92),
)
#: San Francisco, autumn 2023: a foggy Sentinel-2 morning, then two clear passes.
SF_DATES: tuple[SceneDate, ...] = (
    SceneDate(0, _t(2023, 9, 20, 19, 3), "S30", (Cloud(*SF_WATERFRONT, 7.0),), tiles=(5,), satellite="sentinel-2b"),
    SceneDate(1, _t(2023, 10, 9, 18, 51), "L30", tiles=(5,), satellite="landsat-8"),
    SceneDate(2, _t(2023, 10, 25, 19, 3), "S30", tiles=(5,), satellite="sentinel-2a"),
)
ALL_DATES: tuple[SceneDate, ...] = (DATES + CMR_ONLY_DATES + SINDH_DATES + SOUTH_DATES + HERMITS_DATES
                                    + SF_DATES)


def scenes() -> list[tuple[SceneDate, Tile]]:
    """Every (date, tile) the stand-in holds."""
    return [(d, ALL_TILES[i]) for d in ALL_DATES for i in d.tiles]


def item_id(date: SceneDate, tile: Tile) -> str:
    """HLS v2 granule id, e.g. HLS.L30.T14TQL.2022073T171500.v2.0."""
    doy = date.when.timetuple().tm_yday
    return f"HLS.{date.sensor}.T{tile.name}.{date.when.year}{doy:03d}T{date.when:%H%M%S}.v2.0"


def position_code(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    return ((col // 16) + (row // 16)) % 25


def noise_bit(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """A pseudo-random bit per pixel (a hash of col, row): keeps deflate from shrinking the files to nothing,
    so a window read stays a small fraction of a file, as with real 20-30 MB HLS bands."""
    h = (np.asarray(col, dtype=np.uint64) * np.uint64(0x9E3779B1) + np.asarray(row, dtype=np.uint64)
         * np.uint64(0x85EBCA77)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x2C1B3C6D)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(12)
    return ((h >> np.uint64(7)) & np.uint64(1)).astype(np.int64)


def dn(band: int, date_index: int, tile_index: int, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """The value written at source pixel (col, row) (outside water on the Sindh tile)."""
    return (1000 * (band + 1) + 100 * date_index + 50 * (tile_index % 2) + 2 * position_code(col, row)
            + noise_bit(col, row)).astype(np.int16)


def decode(value: int) -> dict[str, int]:
    """band, date, tile and position code of a DN written by ``dn``."""
    v = int(value)
    return {"band": v // 1000 - 1, "date": (v % 1000) // 100, "tile": (v % 100) // 50, "pos": (v % 50) // 2}


FMASK_CLOUD, FMASK_ADJACENT, FMASK_SHADOW, FMASK_WATER = 2, 4, 8, 32
#: A strip of water (Fmask bit 5, still "clear") along this longitude band, like a river (Nebraska tiles).
WATER_LON = (-95.93, -95.91)
#: Sindh flood water: an ellipse (centre lon/lat, semi-axes in km) around Manchar Lake plus a flooded belt
#: west of the Indus (lon range, lat range); about half of the Sindh tile.
FLOOD_ELLIPSE = (MANCHAR, 9.0, 7.0)
FLOOD_BELT = ((67.57, 67.70), (26.42, 26.56))
#: Reflectance x 10000 of flood water for B02, B03, B04, NIR, SWIR1, SWIR2 (turbid water: dark NIR/SWIR).
WATER_DN = (700, 800, 600, 300, 150, 100)
#: The Hermits Peak burn scar: an ellipse (centre lon/lat, semi-axes in km) over the example's area, and burnt
#: land's reflectance x 10000 (charred: dark visible and NIR, SWIR brighter than NIR, as burn ratios expect).
BURN_ELLIPSE = ((-105.51, 35.765), 4.5, 3.5)
BURN_DN = (450, 600, 750, 1300, 2200, 2000)
#: San Francisco Bay east of the waterfront (lon, lat box), clear bay water's reflectance x 10000.
SF_BAY = (-122.388, 37.70, -122.25, 37.90)
BAY_DN = (600, 700, 450, 200, 120, 90)


# ------------------------------------------------------------------ reference layers (issue 11)
#: Boxes (W, S, E N in degrees, on whole 0.01°) the water references cover: Sindh (the flood tile) and a box
#: around Omaha and the Nebraska river strip. Real ESA WorldCover tiles are 3x3° and JRC GSW tiles 10x10°; the
#: stand-in writes only these parts of them, on the real grids (1/12000° and 1/4000°).
WATER_REF_BOXES: dict[str, tuple[float, float, float, float]] = {
    "sindh": (67.57, 26.29, 67.86, 26.55),
    "nebraska": (-96.00, 41.20, -95.80, 41.40),  # Omaha and the river strip
    "fremont": (-96.60, 41.38, -96.44, 41.47),  # the crops example's fields (no water there)
}
#: ESA WorldCover item names: the real 3x3° tile that holds each box (lower-left corner).
WORLDCOVER_TILES = {"sindh": "N24E066", "nebraska": "N39W096", "fremont": "N39W099"}
#: JRC GSW items (10x10° tiles, named by upper-left corner) and the box each file covers.
JRC_TILES: dict[str, tuple[str, tuple[float, float, float, float]]] = {
    "sindh": ("60E_30N", WATER_REF_BOXES["sindh"]),
    "nebraska": ("100W_50N", (-96.60, 41.20, -95.80, 41.50)),
}
#: Normal water: Manchar Lake proper (centre, semi-axes km), much smaller than the 2022 flood (FLOOD_ELLIPSE).
LAKE_ELLIPSE = (MANCHAR, 4.0, 3.0)
#: JRC seasonality written over the 2022 flood water that is not the lake: seasonal water (months).
FLOOD_SEASONALITY = 4
#: No-data strips: JRC east of this longitude (Sindh), WorldCover south of this latitude (Sindh).
JRC_NODATA_EAST = 67.84
WORLDCOVER_NODATA_SOUTH = 26.30
#: ESA WorldCover years on Planetary Computer (v100 = 2020, v200 = 2021); CDL years the stand-in serves.
WORLDCOVER_YEARS = {2020: "v100", 2021: "v200"}
CDL_YEARS = (2021,)
#: CDL fields: 1.5 km squares in EPSG:5070 cycling through these codes (corn, soybeans, grass, winter wheat,
#: alfalfa, fallow, other hay), a forest strip of 600 m beside the river (141), open water on it (111),
#: developed Omaha (5 km, 122), a cloud patch (81) and a no-data edge of 3 rows (0).
CDL_FIELD_CODES = (1, 5, 1, 5, 176, 24, 36, 61, 37, 1, 5)
CDL_FIELD_M = 1500.0
CDL_FOREST_M = 600.0
CDL_CLOUD = ((-96.2, 41.6), 2.0)  # (lon, lat), radius km
CDL_NODATA_ROWS = 3
