"""Ready-made places to try, one per task: an area, a date range and what to look for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    """A clickable example on the explore page."""

    key: str
    title: str
    task: str  # "flood" | "crops" | "reconstruct"
    bounds: tuple[float, float, float, float]  # west, south, east, north (EPSG:4326)
    start: str  # ISO date
    end: str  # ISO date
    max_cloud: float
    description: str
    label: str = ""  # short button text
    series_start: str = ""  # ISO date: the "Through time" section's range (empty: the example's own dates)
    series_end: str = ""

    @property
    def button_label(self) -> str:
        return self.label or self.title

    @property
    def geometry(self) -> dict:
        """The area as a GeoJSON polygon."""
        w, s, e, n = self.bounds
        return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


#: Every example lies inside Planetary Computer's HLS v2 record (2020-01-01 on). Why each window:
#: - Lake Manchar, Sindh (flood; the first example, so a few km that run in seconds on a CPU: the lake's western
#:   shore and the flooded fields beside it): NASA Earth Observatory's "Lake Manchar is Overflowing" (visualised
#:   2022-09-06) shows clear natural-colour Landsat 9 (2022-08-28) and Landsat 8 (2022-09-05) scenes of the
#:   overflowing lake and the flooded Indus plain west of it; the window spans both overpasses (and the
#:   Sentinel-2 ones between) after the monsoon clouds had cleared.
#: - Fremont, Nebraska (crops): the crop model was trained on HLS S30 chips of the 2022 growing season
#:   (March to September) across the contiguous US, with CDL 2022 labels; eastern Nebraska's Platte valley
#:   is Corn Belt corn and soybeans, so April to September 2022 gives three in-season dates like its training.
#: - San Francisco waterfront (reconstruction): September to November is the Bay Area's clearest season
#:   (the summer marine fog has gone, the winter rains have not begun), so single clear dates are common.
EXAMPLES: tuple[Example, ...] = (
    Example(
        key="sindh-flood",
        title="Lake Manchar overflowing, Sindh, Pakistan",
        task="flood",
        bounds=(67.62, 26.38, 67.68, 26.435),  # 6 x 6 km: one model window, seconds on a CPU
        start="2022-08-25",
        end="2022-09-12",
        max_cloud=40.0,
        description="September 2022: after five times the usual monsoon rain, Pakistan's largest freshwater "
                    "lake broke its banks and flooded the villages around it.",
        label=":material/water: Sindh flood 2022",
        series_start="2022-08-20",  # the rise and fall: the overflow in late August, the lake back by late October
        series_end="2022-10-31",
    ),
    Example(
        key="fremont-crops",
        title="Crops near Fremont, Nebraska",
        task="crops",
        bounds=(-96.56, 41.40, -96.48, 41.45),
        start="2022-04-01",
        end="2022-09-30",
        max_cloud=30.0,
        description="Corn and soybean fields in the Platte valley through the 2022 growing season, the season "
                    "the crop model learnt from.",
        label=":material/agriculture: Fremont crops 2022",
    ),
    Example(
        key="sf-reconstruct",
        title="San Francisco waterfront (reconstruction)",
        task="reconstruct",
        bounds=(-122.43, 37.775, -122.37, 37.815),
        start="2023-09-15",
        end="2023-11-15",
        max_cloud=20.0,
        description="City blocks, piers and the bay: hide 75% of the patches and let Prithvi fill them in.",
        label=":material/auto_fix_high: San Francisco 2023",
    ),
    Example(
        key="hermits-peak-burn-scars",
        title="Hermits Peak / Calf Canyon fire scar, New Mexico",
        task="burn-scars",
        bounds=(-105.55, 35.72, -105.45, 35.80),
        start="2022-09-15",
        end="2022-10-31",
        max_cloud=20.0,
        description="New Mexico's largest fire (April-August 2022) started here, near Hermits Peak. Autumn "
                    "2022 is after the monsoon clouds and before snow, and the fire is newer than the model's "
                    "2018-2021 training fires.",
        label=":material/local_fire_department: Hermits Peak fire 2022",
        series_start="2022-09-01",  # autumn 2022: the scar after the monsoon, its rim greening before snow
        series_end="2022-11-30",
    ),
)


def get_example(key: str) -> Example:
    """The example with this key (KeyError if unknown)."""
    for example in EXAMPLES:
        if example.key == key:
            return example
    raise KeyError(key)
