"""``geofm compare TASK``: run two models of a task on the same area and scenes and compare their maps."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from geofm.cli.evaluate import REFERENCE_HELP, check_reference_arg
from geofm.config import ENV_WEIGHTS_DIR, PRECISIONS, TASKS, get_task, task_models
from geofm.errors import InputError
from geofm.cli.run import _load_stack, _note, add_input_arguments, parse_dates
from geofm.io.geotiff import write_class_map_cog
from geofm.io.safewrite import write_text

EPILOG = """\
Writes into --out: A.tif and B.tif (each model's class map, named by model), agreement.tif (the task's target
class found by both models, only A, only B, or neither), compare.json (IoU between the two maps, areas, and
with --reference each model's agreement with the reference) and the provenance of each (tags, STAC items).

example:
  geofm compare flood --bbox -95.94 41.29 -95.91 41.31 --start 2022-03-10 --end 2022-04-30 --out cmp/ \\
      --models prithvi-eo-1.0-100m-sen1floods11,prithvi-eo-2.0-300m-tl-sen1floods11 --reference auto
"""


def _choice_tasks() -> list[str]:
    return [t.name for t in TASKS.values() if t.alt_models]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="which model got it right? run two models of a task and compare them",
                       description="Run two models of a task on the same area and scenes and compare their maps.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=_choice_tasks(), help="the task (one with a choice of models)")
    add_input_arguments(p, "input GeoTIFF (one date)")
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD", help="with --input: the acquisition date, "
                   "for a file whose name (HLS) or tags do not say it")
    p.add_argument("--models", default=None, metavar="A,B",
                   help="the two models, comma-separated (default: the task's two models, "
                        + "; ".join(f"{t}: {','.join(task_models(t))}" for t in _choice_tasks()) + ")")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--reference", metavar="auto|PATH", help=f"also compare each model with: {REFERENCE_HELP}")
    p.add_argument("--weights-dir", type=Path, help=f"folder with the weight files (also ${ENV_WEIGHTS_DIR})")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="auto = CUDA GPU when there is one, else CPU")
    p.add_argument("--batch-size", type=int, default=None, help="windows per forward pass (default: by device)")
    p.add_argument("--precision", default=None, metavar="{" + ",".join(PRECISIONS) + "}",
                   help="model precision (default as geofm run)")
    p.set_defaults(handler=compare_command)


def _models(args: argparse.Namespace) -> tuple[str, str]:
    names = task_models(args.task)
    chosen = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else list(names[:2])
    if len(chosen) != 2 or chosen[0] == chosen[1]:
        raise InputError(f"--models takes two different models, A,B; got {args.models!r}.")
    for m in chosen:
        if m not in names:
            raise InputError(f"{args.task} runs one of {', '.join(names)}; got {m!r} in --models.")
    return chosen[0], chosen[1]


def _check(args: argparse.Namespace) -> tuple[str, str]:
    if bool(args.input) == bool(args.bbox):
        raise InputError("Give either --input FILE or --bbox W S E N (with --start and --end), not both.")
    if args.bbox and not (args.start and args.end):
        raise InputError("--bbox needs --start and --end dates (YYYY-MM-DD).")
    if args.date is not None:
        if not args.input:
            raise InputError("--date only applies with --input (scenes found for --bbox carry their dates).")
        args.dates = parse_dates(args.date)
    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out {args.out} is a file; give a folder.")
    if args.precision is not None:
        from geofm.inference.precision import check_precision  # lazy: torch

        args.precision = check_precision(args.precision)
    if args.batch_size is not None and args.batch_size < 1:
        raise InputError("--batch-size must be at least 1.")
    check_reference_arg(args)
    return _models(args)


def compare_command(args: argparse.Namespace) -> int:
    """Handler of ``geofm compare``."""
    from geofm import pipeline  # lazy: torch
    from geofm.evaluate import evaluate  # lazy: pystac_client
    from geofm.evaluate.export import write_layer  # lazy: pystac_client
    from geofm.evaluate.models_compare import compare_models, model_figures  # lazy: pystac_client
    from geofm.evaluate.provenance import make_provenance, write_provenance  # lazy: pystac_client
    from geofm.inference.device import resolve_device  # lazy: torch

    a, b = _check(args)
    task = get_task(args.task)
    device = resolve_device(args.device)
    start = time.perf_counter()
    args.model = None
    stack = _load_stack(args)
    args.out.mkdir(parents=True, exist_ok=True)
    params: dict[str, Any] = {"device": str(device), "batch_size": args.batch_size, "compared_with": [a, b]}
    if args.bbox:
        params.update(bbox=list(args.bbox), start=args.start, end=args.end, max_cloud=args.max_cloud)
    else:
        params["inputs"] = [Path(p).name for p in args.input]
    aoi = None
    if args.bbox:
        from geofm.data import AOI  # lazy: pystac_client

        aoi = AOI.from_bbox(*args.bbox)
    results, provs, per_model = {}, {}, {}
    for name in (a, b):
        _note("infer", f"running {name}")
        seg = pipeline.run_segmentation(task.name, stack, model=name, weights_dir=args.weights_dir, device=device,
                                        progress=_note, batch_size=args.batch_size, precision=args.precision)
        path = args.out / f"{name}.tif"
        write_class_map_cog(seg, path)
        ref_ev = None
        if args.reference:
            ref_ev = evaluate(task.name, seg, reference=args.reference, stack=stack, aoi=aoi, stac_url=args.stac_url)
        prov = make_provenance(task.name, name, weights_dir=args.weights_dir, scene_ids=stack.scene_ids,
                               times=stack.times, parameters=params, reference=ref_ev.reference if ref_ev else "")
        write_provenance(path, prov)
        results[name], provs[name] = seg, prov
        per_model[name] = {"file": path.name, "seconds": seg.seconds, "device": seg.device,
                           "precision": seg.precision, "provenance": asdict(prov),
                           "reference": model_figures(ref_ev) if ref_ev else None,
                           "reference_title": ref_ev.reference if ref_ev else None}
    ev = compare_models(task.name, results[a], results[b])
    agreement = write_layer(ev, ev.layers[0], args.out / "agreement.tif", provs[a])
    m = ev.metrics
    summary = {"task": task.name, "target": task.target_label, "a": a, "b": b,
               "scene_ids": stack.scene_ids, "dates": [t.isoformat() for t in stack.times if t is not None],
               "agreement_file": agreement.name, "iou": m["iou"], "agreement_share": m["agreement_share"],
               "areas_km2": {k[:-4]: m[k] for k in ("a_km2", "b_km2", "both_km2", "only_a_km2", "only_b_km2",
                                                     "neither_km2")},
               "pixels": m["pixels"], "pixel_km2": m["pixel_km2"], "models": per_model}
    write_text(args.out / "compare.json", json.dumps(summary, indent=1, default=str))
    lines = [f"wrote {args.out}: {a}.tif, {b}.tif, agreement.tif, compare.json "
             f"({time.perf_counter() - start:.1f} s on {device})",
             f"{task.target_label or 'target'}: A {m['a_km2']:.3f} km2, B {m['b_km2']:.3f} km2, both "
             f"{m['both_km2']:.3f} km2; IoU between the models {m['iou']:.3f}"]
    for name in (a, b):
        ref = per_model[name]["reference"]
        if ref:
            lines.append(f"{name} vs {per_model[name]['reference_title']}: IoU {ref.get('iou', float('nan')):.3f}")
    print("\n".join(lines))
    return 0
