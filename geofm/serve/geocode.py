"""Place search for the map (OpenStreetMap Nominatim; online only, short timeout)."""

from __future__ import annotations

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
