"""Agreement products on disk: one COG per layer (colour table, provenance tags) and a STAC Item beside each."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from geofm.config import CLASS_NODATA
from geofm.evaluate.evaluation import EvalLayer, Evaluation
from geofm.evaluate.provenance import Provenance, item_path, stac_item
from geofm.io.geotiff import write_cog
from geofm.io.safewrite import write_text
from geofm.io.stac import write_item


def layer_path(out: str | Path, layer: EvalLayer) -> Path:
    """``flood.tif`` + agreement -> ``flood.agreement.tif``."""
    p = Path(out)
    return p.with_name(f"{p.stem}.{layer.key}.tif")


def write_layer(ev: Evaluation, layer: EvalLayer, path: str | Path, prov: Provenance) -> Path:
    """One layer as a COG with a colour table (class layers) and provenance tags, plus its STAC Item."""

    prov = replace(prov, product=layer.key, reference=prov.reference or ev.reference)
    if layer.classes:
        cmap = {k: (*c.color, 255) for k, c in enumerate(layer.classes)}
        cmap[CLASS_NODATA] = (0, 0, 0, 0)
        tags = {f"CLASS_{k}": c.name for k, c in enumerate(layer.classes)}
        write_cog(layer.data[None].astype(np.uint8), path, crs=ev.crs, transform=ev.transform, nodata=CLASS_NODATA,
                  colormap=cmap, descriptions=[layer.key], tags={**tags, **prov.tags()})
    else:
        write_cog(layer.data[None].astype(np.float32), path, crs=ev.crs, transform=ev.transform,
                  nodata=float("nan"), descriptions=[f"{layer.key} ({layer.unit})"], tags=prov.tags())
    item = stac_item(path, prov, crs=ev.crs, transform=ev.transform, shape=layer.data.shape)
    item["properties"]["geofm:metrics"] = {k: v for k, v in ev.metrics.items() if isinstance(v, (int, float, str))}
    write_item(item, item_path(path))
    return Path(path)


def _write_json(path: Path, obj: object) -> None:
    write_text(path, json.dumps(obj, indent=1, default=str))


def write_evaluation(ev: Evaluation, out: str | Path, prov: Provenance) -> list[Path]:
    """Every layer of ``ev`` beside ``out`` (``NAME.KEY.tif``) and the metrics as ``NAME.metrics.json``."""
    paths = [write_layer(ev, layer, layer_path(out, layer), prov) for layer in ev.layers]
    p = Path(out)
    metrics_path = p.with_name(f"{p.stem}.metrics.json")
    _write_json(metrics_path, {"reference": ev.reference, "meaning": ev.meaning, "metrics": ev.metrics,
                               "table": ev.table, "notes": ev.notes,
                               "confusion": None if ev.confusion is None else ev.confusion.tolist(),
                               "class_names": list(ev.class_names)})
    return paths + [metrics_path]
