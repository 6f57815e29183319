"""One HLS granule as found by a STAC search, reduced to what geofm needs."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
import datetime as dt
from typing import Any
from urllib.parse import urlparse

from geofm.config import HLS_BAND_ASSETS, HLS_FMASK_ASSET, MODEL_BANDS
from geofm.errors import ServiceError

#: Asset keys that hold a small preview image, in order of preference.
THUMBNAIL_KEYS: tuple[str, ...] = ("thumbnail", "browse", "rendered_preview")
_TILE_IN_ID = re.compile(r"\.T(\d{2}[C-X][A-Z]{2})\.")


@dataclass
class Scene:
    """An HLS v2 scene: model bands B02..B07 and Fmask mapped to their COG hrefs."""

    id: str
    datetime: dt.datetime
    sensor: str  # "L30" | "S30"
    tile: str  # MGRS tile, e.g. "15TTG"
    cloud_cover: float  # scene-wide percentage from eo:cloud_cover
    assets: dict[str, str]  # model band name (B02..B07) and "Fmask" -> href
    thumbnail: str | None
    collection: str
    clear_fraction: float | None = None  # over the area, after reading Fmask
    bbox: tuple[float, float, float, float] | None = None  # lon/lat footprint box
    epsg: int | None = None
    #: Who signed the hrefs (e.g. "planetary-computer"); the reader re-signs on HTTP 403.
    signer: str | None = None
    #: The files' pixel grid in ``epsg`` (``proj:transform`` a b c d e f, ``proj:shape`` rows cols) when the
    #: catalog gives it (Planetary Computer does, CMR does not).
    transform: tuple[float, ...] | None = None
    shape: tuple[int, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def date(self) -> dt.date:
        return self.datetime.date()

    def band_hrefs(self) -> list[str]:
        """Hrefs of the six model bands in model order."""
        return [self.assets[b] for b in MODEL_BANDS]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (used by `geofm search --json` and the app)."""
        d = asdict(self)
        d["datetime"] = self.datetime.isoformat()
        d.pop("extra", None)
        # signed links carry secrets (SAS tokens) and expire: print the plain links; geofm signs them again
        d["assets"] = {k: _plain(v) for k, v in self.assets.items()}
        d["thumbnail"] = _plain(self.thumbnail) if self.thumbnail else None
        return d

    @classmethod
    def from_item(cls, item: Any, sensor: str, *, signer: str | None = None) -> "Scene":
        """Build a Scene from a pystac Item of an HLS L30 or S30 collection."""

        keys = HLS_BAND_ASSETS[sensor]
        assets: dict[str, str] = {}
        missing = [k for k in (*keys, HLS_FMASK_ASSET) if k not in item.assets]
        if missing:
            raise ServiceError(f"Scene {item.id} lacks the assets {', '.join(missing)}; it is not an HLS v2 "
                               f"{sensor} item.")
        for model_band, key in zip(MODEL_BANDS, keys):
            assets[model_band] = _web_href(item.assets[key].href, item.id, key)
        assets[HLS_FMASK_ASSET] = _web_href(item.assets[HLS_FMASK_ASSET].href, item.id, HLS_FMASK_ASSET)
        thumb = next((item.assets[k].href for k in THUMBNAIL_KEYS if k in item.assets
                      and is_web_url(item.assets[k].href)), None)
        props = item.properties
        when = item.datetime or dt.datetime.fromisoformat(str(props.get("start_datetime")).replace("Z", "+00:00"))
        return cls(
            id=item.id, datetime=when, sensor=sensor, tile=tile_of(item.id, props),
            cloud_cover=float(props.get("eo:cloud_cover", float("nan"))), assets=assets, thumbnail=thumb,
            collection=item.collection_id or "", bbox=tuple(item.bbox) if item.bbox else None,
            epsg=_epsg_of(props), signer=signer, **_pixel_grid_of(props),
        )


def _plain(href: str) -> str:
    """The link without its query string (a SAS token or other signature)."""
    return urlparse(href)._replace(query="").geturl()


def is_web_url(href: str) -> bool:
    """True for an absolute http(s) URL with a host."""
    try:
        parsed = urlparse(str(href))
    except ValueError:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _web_href(href: str, item_id: str, key: str) -> str:
    """A catalog's asset href, refused unless it is http(s): a catalog must not make geofm open local
    paths, ``file://`` URLs or GDAL ``/vsi…`` handlers."""

    if not is_web_url(href):
        raise ServiceError(f"The catalog gave scene {item_id} a {key} link that is not a web address; "
                           "geofm only reads http(s) links from a catalog.")
    return href


def tile_of(item_id: str, props: dict[str, Any]) -> str:
    """The MGRS tile from the HLS id (HLS.S30.T15TTG.2019...), else from MGRS properties."""
    m = _TILE_IN_ID.search(item_id)
    if m:
        return m.group(1)
    if "mgrs:utm_zone" in props:
        return f"{int(props['mgrs:utm_zone']):02d}{props.get('mgrs:latitude_band', '')}" \
               f"{props.get('mgrs:grid_square', '')}"
    for key in ("hls:tile_id", "s2:mgrs_tile", "mgrs_tile", "tile_id"):
        if key in props:
            return str(props[key]).lstrip("T")
    return "?"


def _epsg_of(props: dict[str, Any]) -> int | None:
    if props.get("proj:epsg"):
        return int(props["proj:epsg"])
    code = str(props.get("proj:code") or "")
    return int(code.split(":")[1]) if code.upper().startswith("EPSG:") else None


def _pixel_grid_of(props: dict[str, Any]) -> dict[str, Any]:
    """``transform`` and ``shape`` from the projection extension, or nothing when absent or malformed."""
    try:
        t = [float(v) for v in props["proj:transform"]][:6]
        shape = [int(v) for v in props["proj:shape"]]
    except (KeyError, TypeError, ValueError):
        return {}
    if len(t) != 6 or len(shape) != 2:
        return {}
    return {"transform": tuple(t), "shape": (shape[0], shape[1])}


def sensor_of(item_id: str, collection: str) -> str | None:
    """L30 / S30 from the collection id or the HLS item id."""
    text = f"{collection} {item_id}".upper()
    if "L30" in text:
        return "L30"
    if "S30" in text:
        return "S30"
    return None
