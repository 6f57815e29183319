"""Provenance with every download: GeoTIFF tags and a STAC Item JSON beside the COG."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from geofm import __version__
from geofm.digest import remembered_sha256
from geofm.errors import GeofmError
from geofm.io.geotiff import write_cog
from geofm.io.stac import Asset, Projection, item_dict, make_item, write_item

#: Prefix of geofm's GeoTIFF tags.
TAG_PREFIX = "GEOFM_"


@dataclass
class Provenance:
    """What produced a file."""

    task: str
    model: str
    checkpoint_sha256: str = ""
    geofm_version: str = ""
    scene_ids: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    reference: str = ""  #: the reference layer used (title, year, items) or "" when none
    product: str = "result"  #: what the file holds (result, agreement, new water, ...)

    def tags(self) -> dict[str, str]:
        """GeoTIFF dataset tags (strings)."""
        out = {}
        for k, v in asdict(self).items():
            out[TAG_PREFIX + k.upper()] = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
        return out

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> "Provenance | None":
        """The provenance geofm wrote into a file's tags; None when the file has none, or only part of it, or
        values that are not what geofm writes (a file from elsewhere: its provenance is then made anew)."""
        kw: dict[str, Any] = {}
        for name, f in cls.__dataclass_fields__.items():
            raw = tags.get(TAG_PREFIX + name.upper())
            if raw is None:
                continue
            if f.type in ("str", str):
                kw[name] = raw
                continue
            try:
                value = json.loads(raw)
            except ValueError:
                return None
            default = f.default_factory() if callable(f.default_factory) else None
            if default is not None and not isinstance(value, type(default)):
                return None
            kw[name] = value
        if not all(kw.get(name) for name in ("task", "model")):
            return None
        return cls(**kw)


def checkpoint_sha256(path: str | Path | None) -> str:
    """SHA-256 of a weight file (remembered per path, time and size)."""
    if path is None or not Path(path).is_file():
        return ""
    return remembered_sha256(path)


def make_provenance(task: str, model: str, *, weights_dir: str | Path | None = None, scene_ids: list[str] | None = None,
                    times: list[datetime | None] | None = None, parameters: dict[str, Any] | None = None,
                    reference: str = "", product: str = "result") -> Provenance:
    """Provenance for a run of ``task`` with registry model ``model`` (its weight file hashed when found)."""
    from geofm.models.weights import resolve_weights  # lazy: torch

    try:
        sha = checkpoint_sha256(resolve_weights(model, weights_dir))
    except GeofmError:
        sha = ""
    return Provenance(task=task, model=model, checkpoint_sha256=sha, geofm_version=__version__,
                      scene_ids=list(scene_ids or []),
                      dates=[t.isoformat() for t in (times or []) if t is not None],
                      parameters=dict(parameters or {}), reference=reference, product=product)


def write_tags(path: str | Path, prov: Provenance) -> None:
    """Add the provenance tags to an existing GeoTIFF: rewritten as a COG (atomically, over the same name), so
    the file stays cloud-optimised and is never half-written. New outputs take their tags in their first
    write instead (the writers' ``tags``)."""

    path = Path(path)
    with rasterio.open(path) as src:
        data = src.read()
        cmap = None
        try:
            cmap = src.colormap(1)
        except ValueError:
            pass
        descriptions = [d or "" for d in src.descriptions]
        tags = {**src.tags(), **prov.tags()}
        crs, transform, nodata = src.crs, src.transform, src.nodata
    write_cog(data, path, crs=crs, transform=transform, nodata=nodata, colormap=cmap,
              descriptions=descriptions if any(descriptions) else None, tags=tags)


def read_provenance(path: str | Path) -> Provenance | None:
    with rasterio.open(path) as src:
        return Provenance.from_tags(src.tags())


def item_path(cog: str | Path) -> Path:
    """Where the STAC Item JSON of ``cog`` goes: beside it, ``NAME.item.json``."""
    p = Path(cog)
    return p.with_name(p.stem + ".item.json")


def stac_item(cog: str | Path, prov: Provenance, *, crs: CRS, transform: Affine,
              shape: tuple[int, int]) -> dict[str, Any]:
    """A STAC Item describing ``cog`` with the provenance as properties."""
    h, w = shape
    x0, y1 = transform.c, transform.f
    x1, y0 = transform.c + transform.a * w, transform.f + transform.e * h
    west, south, east, north = transform_bounds(crs, "EPSG:4326", min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    when = datetime.fromisoformat(prov.dates[-1]) if prov.dates else datetime.now(timezone.utc)
    geometry = {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                    [west, south]]]}
    properties = {
        "geofm:task": prov.task, "geofm:product": prov.product, "geofm:model": prov.model,
        "geofm:checkpoint_sha256": prov.checkpoint_sha256, "geofm:version": prov.geofm_version,
        "geofm:scene_ids": prov.scene_ids, "geofm:dates": prov.dates, "geofm:parameters": prov.parameters,
        "geofm:reference": prov.reference,
    }
    item = make_item(Path(cog).stem, geometry, [west, south, east, north], when=when, properties=properties,
                     assets={"data": Asset(href=f"./{Path(cog).name}")},
                     projection=Projection(crs, transform, (h, w)))
    return item_dict(item)


def write_item_beside(cog: str | Path, prov: Provenance) -> Path:
    """The STAC Item of ``cog`` beside it (written atomically); returns the item's path."""
    with rasterio.open(cog) as src:
        item = stac_item(cog, prov, crs=src.crs, transform=src.transform, shape=(src.height, src.width))
    return write_item(item, item_path(cog))


def write_provenance(cog: str | Path, prov: Provenance) -> Path:
    """Tags into an existing ``cog`` and its STAC Item beside it (both atomic); returns the item's path."""
    write_tags(cog, prov)
    return write_item_beside(cog, prov)
