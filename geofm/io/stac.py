"""STAC Items of geofm's outputs, made with pystac: the one writer of ``geofm run``'s ``NAME.item.json`` (and the
evaluation layers' items) and of a region run's ``item.json``.

Items are STAC 1.1 (pystac's version; 1.1 only adds to 1.0) with the projection extension; asset hrefs are relative
to the item's folder (``./NAME.tif``), so a folder of outputs can be moved or served as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pystac
from affine import Affine
from pystac.extensions.projection import ProjectionExtension
from rasterio.crs import CRS

from geofm.io.safewrite import atomic_output

COG_TYPE = str(pystac.MediaType.COG)  # image/tiff; application=geotiff; profile=cloud-optimized


@dataclass(frozen=True)
class Projection:
    """The grid of a raster: what the projection extension records about it."""

    crs: CRS
    transform: Affine
    shape: tuple[int, int]  # (height, width)

    def apply(self, target: ProjectionExtension) -> None:
        epsg = self.crs.to_epsg()
        target.apply(code=f"EPSG:{epsg}" if epsg else None, wkt2=None if epsg else self.crs.to_wkt(),
                     shape=[int(self.shape[0]), int(self.shape[1])], transform=[float(v) for v in self.transform][:6])


@dataclass(frozen=True)
class Asset:
    """One file of the item (``href`` relative to the item's folder)."""

    href: str
    roles: tuple[str, ...] = ("data",)
    title: str | None = None
    media_type: str = COG_TYPE
    projection: Projection | None = None


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def make_item(item_id: str, geometry: dict[str, Any], bbox: list[float], *, when: datetime | None = None,
              start: datetime | None = None, end: datetime | None = None,
              properties: Mapping[str, Any] | None = None, assets: Mapping[str, Asset] | None = None,
              projection: Projection | None = None) -> pystac.Item:
    """An Item with ``assets``; a date (``when``) or a range (``start``, ``end``); ``projection`` on the item
    and/or on single assets."""
    props = dict(properties or {})
    assets = dict(assets or {})
    props["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    item = pystac.Item(id=item_id, geometry=geometry, bbox=[float(v) for v in bbox],
                       datetime=_utc(when) if when else None, properties=props,
                       start_datetime=_utc(start) if start else None, end_datetime=_utc(end) if end else None)
    if projection is not None or any(a.projection for a in assets.values()):
        ext = ProjectionExtension.ext(item, add_if_missing=True)
        if projection is not None:
            projection.apply(ext)
    for key, asset in assets.items():
        a = pystac.Asset(href=asset.href, media_type=asset.media_type, roles=list(asset.roles), title=asset.title)
        item.add_asset(key, a)
        if asset.projection is not None:
            asset.projection.apply(ProjectionExtension.ext(a))
    return item


def item_dict(item: pystac.Item) -> dict[str, Any]:
    """The Item as the JSON it is written as (lists, not tuples), hrefs as given (no self link, nothing resolved)."""
    return json.loads(json.dumps(item.to_dict(include_self_link=False, transform_hrefs=False), default=str))


def write_item(item: pystac.Item | dict[str, Any], path: str | Path) -> Path:
    """Write the Item's JSON to ``path`` atomically; returns the path."""
    doc = item if isinstance(item, dict) else item_dict(item)
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, default=str))
    return path
