"""Place search for the map (OpenStreetMap Nominatim; online only, short timeout)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests

from geofm.errors import InputError, ServiceError
from geofm.settings import settings

TIMEOUT_S = 4.0


@dataclass(frozen=True)
class Place:
    """A geocoded place: its name, centre and bounding box (west, south, east, north)."""

    name: str
    lat: float
    lon: float
    bounds: tuple[float, float, float, float]


_NUMBER = r"[-+]?\d+(?:\.\d+)?"
#: Half the side (degrees) of the view shown around typed "lat, lon" coordinates (about 2 km).
POINT_VIEW_DEG = 0.02


def parse_coordinates(text: str) -> Place | None:
    """``lat, lon`` (a point) or ``W S E N`` / ``W,S,E,N`` (a box) typed into the place field; None if the text
    is not numbers. InputError for numbers out of range or a box with its edges swapped."""
    numbers = re.findall(_NUMBER, text)
    if not numbers or not re.fullmatch(r"[\s,;]*", re.sub(_NUMBER, "", text)):
        return None  # words: a place name for the geocoder
    values = [float(n) for n in numbers]
    if len(values) == 2:
        lat, lon = values
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputError(f"{text.strip()} is not a latitude, longitude pair.",
                             hint="Type latitude first (-90 to 90), then longitude (-180 to 180), e.g. 41.3, -95.9.")
        d = POINT_VIEW_DEG
        return Place(name=f"{lat:.5f}, {lon:.5f}", lat=lat, lon=lon, bounds=(lon - d, lat - d, lon + d, lat + d))
    if len(values) == 4:
        w, s, e, n = values
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise InputError(f"{text.strip()} is not a box west, south, east, north.",
                             hint="Type it as W S E N in degrees, e.g. -95.93 41.29 -95.90 41.31.")
        return Place(name=f"box {w:g}, {s:g}, {e:g}, {n:g}", lat=(s + n) / 2, lon=(w + e) / 2, bounds=(w, s, e, n))
    raise InputError(f"{text.strip()} has {len(values)} numbers.",
                     hint="Type a place name, 'lat, lon' or a box 'W S E N'.")


def geocode(query: str, *, url: str | None = None, timeout_s: float = TIMEOUT_S) -> Place:
    """The best match for ``query``; ServiceError when offline, InputError when nothing matches."""
    query = query.strip()
    if not query:
        raise InputError("Type a place name to search for, e.g. 'Omaha, Nebraska'.")
    url = url or settings().geocoder_url
    try:
        response = requests.get(url, params={"q": query, "format": "json", "limit": "1"},
                                headers={"User-Agent": "geofm (https://github.com/; place search)"},
                                timeout=timeout_s)
        response.raise_for_status()
        hits = response.json()
    except (requests.RequestException, ValueError) as err:
        failed = getattr(err, "response", None)
        raise ServiceError(
            "Place search is unavailable: the geocoder (OpenStreetMap Nominatim) could not be reached.",
            hint="It needs internet access. Pan and zoom the map by hand or pick an example instead.",
            status_code=getattr(failed, "status_code", None),
        ) from None
    if not hits:
        raise InputError(f"No place called {query!r} was found.", hint="Try a larger town or add the country.")
    hit = hits[0]
    south, north, west, east = (float(v) for v in hit["boundingbox"])
    return Place(name=hit.get("display_name", query), lat=float(hit["lat"]), lon=float(hit["lon"]),
                 bounds=(west, south, east, north))
