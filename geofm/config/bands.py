"""Bands and HLS facts: the model band order, HLS asset names, scales, Fmask bits."""

from __future__ import annotations

#: Canonical model band order (HLS L30 names): Blue, Green, Red, NIR narrow, SWIR 1, SWIR 2.
MODEL_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B05", "B06", "B07")
BAND_LABELS: tuple[str, ...] = ("Blue", "Green", "Red", "NIR narrow", "SWIR 1", "SWIR 2")
RGB_INDICES: tuple[int, int, int] = (2, 1, 0)  # B04, B03, B02 in MODEL_BANDS

#: HLS asset keys per product, in model band order.
HLS_BAND_ASSETS: dict[str, tuple[str, ...]] = {
    "L30": ("B02", "B03", "B04", "B05", "B06", "B07"),
    "S30": ("B02", "B03", "B04", "B8A", "B11", "B12"),
}
HLS_FMASK_ASSET = "Fmask"
HLS_NODATA: int = -9999
HLS_SCALE: float = 1e-4  # DN -> reflectance
HLS_RESOLUTION_M: float = 30.0
#: Internal tile (block) side of HLS v2 COGs, in pixels (the unit a reader fetches).
HLS_BLOCK_PX: int = 256
FMASK_FILL: int = 255
#: Fmask bits that make a pixel unusable for the models: cloud (1), adjacent (2), shadow (3).
FMASK_NOT_CLEAR_BITS: int = 0b0000_1110

#: Value written for "no data" in uint8 class maps.
CLASS_NODATA: int = 255

#: Fmask high aerosol (bits 6-7 == 11) counts as not clear unless a caller allows it (HLS v2 known issues).
FMASK_AEROSOL_SHIFT = 6
FMASK_AEROSOL_HIGH = 0b11
