"""``geofm evaluate`` and ``geofm run … --reference``: compare a result with a reference, write the agreement
products beside it and print the metrics."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from geofm.config import MODELS, REFERENCE_LAYERS, TASKS, get_task
from geofm.errors import InputError
from geofm.io import header as hdr
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult

REFERENCE_HELP = ("auto (the task's public reference: JRC Global Surface Water / ESA WorldCover for water, USDA "
                  f"Cropland Data Layer for crops), a layer ({', '.join(REFERENCE_LAYERS)}) or a GeoTIFF path")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="compare a result GeoTIFF with reference data",
                       description="Did the model get it right? Compare a class-map result written by geofm run "
                                   "with a reference, write the agreement layers beside it (NAME.agreement.tif, "
                                   "…, NAME.metrics.json) and print the metrics.")
    p.add_argument("--result", type=Path, required=True, metavar="R.tif", help="a class map written by geofm run")
    p.add_argument("--reference", required=True, metavar="auto|PATH", help=REFERENCE_HELP)
    p.add_argument("--task", choices=[t.name for t in TASKS.values() if t.result == "classes"],
                   help="the result's task (default: read from the file's tags)")
    p.add_argument("--year", type=int, help="the imagery's year (default: from the file's tags)")
    p.add_argument("--stac-url", help="STAC API for --reference auto (default: Planetary Computer)")
    p.set_defaults(handler=evaluate_command)


def _task_of(tags: dict[str, str], given: str | None) -> str:
    if given:
        return given
    if tags.get("GEOFM_TASK") in TASKS:
        return tags["GEOFM_TASK"]
    model = tags.get("GEOFM_MODEL") or tags.get("MODEL")
    for task in TASKS.values():
        if model in (task.model, *task.alt_models) and task.result == "classes":
            return task.name
    raise InputError("Cannot tell which task made this file; give --task.")


def check_result_header(path: Path) -> None:
    """Judge a result file from its header, as uploads are: a small file may declare 100 000 x 100 000 pixels,
    which is refused with its size and the limit before a pixel is read."""

    try:
        h = hdr.read_header(path)
    except InputError:
        raise InputError(f"The result file {path.name} is not a GeoTIFF geofm can read.") from None
    if h.count < 1 or h.dtype != "uint8" or h.crs is None:
        raise InputError(f"{path.name} is not a geofm class map (uint8 with a coordinate system).")
    hdr.check_budget([h], hdr.cli_budget_bytes(), where="geofm evaluate")


def read_result(path: Path, task: str | None) -> tuple[str, SegmentationResult, dict[str, str]]:
    """A class-map COG written by geofm run, as a SegmentationResult of its task."""
    if not path.is_file():
        raise InputError(f"The result file {path.name} does not exist.")
    check_result_header(path)
    try:
        with rasterio.open(path) as src:
            tags = src.tags()
            classes = src.read(1)
            crs, transform = src.crs, src.transform
            dtype = src.dtypes[0]
    except rasterio.errors.RasterioIOError:
        raise InputError(f"The result file {path.name} is not a GeoTIFF geofm can read.") from None
    name = _task_of(tags, task)
    spec = get_task(name)
    if spec.result != "classes":
        raise InputError(f"geofm evaluate compares class maps; evaluate {name} with geofm run {name} … --reference "
                         "auto, which still knows which patches were hidden.")
    if dtype != "uint8" or crs is None:
        raise InputError(f"{path.name} is not a geofm class map (uint8 with a coordinate system).")
    model = MODELS[spec.model]
    if classes[classes != 255].size and int(classes[classes != 255].max()) >= len(model.classes):
        raise InputError(f"{path.name} holds classes that {spec.title.lower()} does not have.")
    seg = SegmentationResult(classes=classes.astype(np.uint8), crs=crs, transform=transform, model=model.name,
                             class_names=tuple(c.name for c in model.classes),
                             class_colors=tuple(c.color for c in model.classes))
    return name, seg, tags


def _year_from_tags(tags: dict[str, str]) -> int | None:
    try:
        dates = json.loads(tags.get("GEOFM_DATES", "[]"))
        return int(dates[-1][:4]) if dates else None
    except (ValueError, TypeError, IndexError):
        return None


def print_evaluation(ev: Any, written: list[Path]) -> None:
    for line in ev.summary_lines():
        print(f"  {line}")
    for row in ev.table:
        cells = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
        print(f"  {cells}")
    for note in ev.notes:
        print(f"  note: {note}")
    if written:
        print("wrote " + ", ".join(str(p) for p in written))


def evaluate_command(args: argparse.Namespace) -> int:
    from geofm.evaluate import evaluate, write_evaluation  # lazy: pystac_client
    from geofm.evaluate.provenance import Provenance, make_provenance  # lazy: pystac_client

    task, seg, tags = read_result(args.result, args.task)
    year = args.year or _year_from_tags(tags)
    ev = evaluate(task, seg, reference=args.reference, year=year, stac_url=args.stac_url)
    prov = Provenance.from_tags(tags) or make_provenance(task, seg.model)
    written = write_evaluation(ev, args.result, prov)
    print(f"{task}: {args.result} compared with {ev.reference}")
    print_evaluation(ev, written)
    return 0


def check_reference_arg(args: argparse.Namespace) -> None:
    """``geofm run --reference``: what each task can be compared with (checked before the model runs)."""
    ref = getattr(args, "reference", None)
    if not ref:
        if getattr(args, "dry_date", None) and (get_task(args.task).reference_kind != "water" or not args.bbox):
            raise InputError("--dry-date applies to flood runs over an area (--bbox).")
        return
    task = get_task(args.task)
    if task.result == "reconstruction" and ref != "auto":
        raise InputError(f"{task.name} is compared with its own input; use --reference auto.")
    if ref == "auto" and task.result == "classes" and not task.reference_layers:
        raise InputError(f"{task.title} has no public reference layer; give --reference PATH (a GeoTIFF).")
    if getattr(args, "dry_date", None) and (get_task(args.task).reference_kind != "water" or not args.bbox):
        raise InputError("--dry-date applies to flood runs over an area (--bbox).")
    if ref != "auto" and ref not in REFERENCE_LAYERS and not Path(ref).is_file():
        raise InputError(f"The reference {ref!r} is neither auto, a layer ({', '.join(REFERENCE_LAYERS)}) nor a "
                         "file that exists.")


@dataclass
class RunRecord:
    """What ``geofm run`` records beside its output: provenance, and the comparisons asked for."""

    prov: Any
    ev: Any = None
    change: Any = None

    def tags(self) -> dict[str, str]:
        return dict(self.prov.tags())


def prepare_run_record(args: argparse.Namespace, stack: HLSStack,
                       result: SegmentationResult | ReconstructionResult) -> RunRecord:
    """``geofm run``, before anything is written: the provenance (and with --reference / --dry-date the
    comparisons), so the output is written once with its tags and nothing is rewritten afterwards."""
    from geofm.evaluate import evaluate  # lazy: pystac_client
    from geofm.evaluate.provenance import make_provenance  # lazy: pystac_client

    task = get_task(args.task)
    params: dict[str, Any] = {"device": str(getattr(result, "device", "")), "batch_size": args.batch_size}
    if args.bbox:
        params.update(bbox=list(args.bbox), start=args.start, end=args.end, max_cloud=args.max_cloud)
    else:
        params["inputs"] = [Path(p).name for p in args.input]
    if isinstance(result, ReconstructionResult):
        params.update(mask_ratio=result.mask_ratio, seed=result.seed)
    ev = None
    if args.reference:
        aoi = None
        if args.bbox:
            from geofm.data import AOI  # lazy: pystac_client

            aoi = AOI.from_bbox(*args.bbox)
        ev = evaluate(task.name, result, reference=args.reference, stack=stack, aoi=aoi, stac_url=args.stac_url)
    change = None
    if getattr(args, "dry_date", None) and isinstance(result, SegmentationResult):
        from geofm.data import AOI  # lazy: pystac_client
        from geofm.pipeline import dry_date_change  # lazy: torch

        change, dry = dry_date_change(result, stack, AOI.from_bbox(*args.bbox), task=task.name, dry_date=args.dry_date,
                                      stac_url=args.stac_url, max_cloud=args.max_cloud,
                                      weights_dir=args.weights_dir, device=result.device)
        params["dry_scene_ids"] = dry.scene_ids
    prov = make_provenance(task.name, result.model, weights_dir=args.weights_dir, scene_ids=stack.scene_ids,
                           times=stack.times, parameters=params, reference=ev.reference if ev else "")
    return RunRecord(prov, ev, change)


def write_run_record(args: argparse.Namespace, record: RunRecord) -> list[tuple[str, Any, list[Path]]]:
    """The STAC Item beside ``--out`` (already written with its tags) and the comparisons' products; returns
    what to print once everything is on disk: (heading, evaluation, paths)."""
    from geofm.evaluate import write_evaluation  # lazy: pystac_client
    from geofm.evaluate.provenance import write_item_beside  # lazy: pystac_client

    task = get_task(args.task)
    item = write_item_beside(args.out, record.prov)
    shown: list[tuple[str, Any, list[Path]]] = []
    if record.ev is not None:
        shown.append((f"{task.name}: compared with {record.ev.reference}", record.ev,
                      [item, *write_evaluation(record.ev, args.out, record.prov)]))
    if record.change is not None:
        paths = write_evaluation(record.change, Path(args.out).with_name(Path(args.out).stem + "-dry.tif"),
                                 record.prov)
        shown.append((f"{task.name}: before / after, {record.change.reference}", record.change, paths))
    return shown


def print_run_record(shown: list[tuple[str, Any, list[Path]]]) -> None:
    for heading, ev, paths in shown:
        print(heading)
        print_evaluation(ev, paths)
