"""``geofm run TASK``: run a task of the registry on GeoTIFF inputs or on HLS fetched for a bounding box."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np

from geofm.cli.evaluate import (REFERENCE_HELP, check_reference_arg, prepare_run_record, print_run_record,
                                write_run_record)
from geofm.config import (DEFAULTS, ENV_PRECISION, ENV_STAC_URL, ENV_WEIGHTS_DIR, PRECISIONS, TASKS, TaskSpec,
                          check_task_model, default_model, get_model_spec, get_task, models_of_kind,
                          task_models)
from geofm.errors import InputError
from geofm.io import header as hdr
from geofm.io.geotiff import read_input_stack, write_class_map_cog, write_probabilities_cog, write_reconstruction_cog
from geofm.io.header import check_header
from geofm.io.large import segment_large_inputs
from geofm.io.safewrite import check_outputs
from geofm.render.preview import colorize_classes, save_png, stretch_rgb
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult


def _names(pred: Callable[[TaskSpec], bool], quoted: bool = False) -> str:
    names = [f"'{t.name}'" if quoted else t.name for t in TASKS.values() if pred(t)]
    if quoted and len(names) > 1:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return ", ".join(names)


def _class_tasks(quoted: bool = False) -> str:
    return _names(lambda t: t.result == "classes", quoted)


def _masking_tasks(quoted: bool = False) -> str:
    return _names(lambda t: t.masking, quoted)


def _dates_line() -> str:
    return "; ".join(f"{t.name}: {t.dates_text()}" for t in TASKS.values())


EPILOG = f"""\
inputs:
  --input FILE ...   GeoTIFFs with 6 bands in model order (B02, B03, B04, B05|B8A, B06|B11, B07|B12),
                     HLS DN (reflectance x 10000, fill -9999; reflectance floats are detected and scaled),
                     one file per date in time order, or one file with 6 bands per date (18 for 3 dates).
                     {_dates_line()}.
  --bbox W S E N --start DATE --end DATE
                     fetch HLS for the area instead (STAC: --stac-url or ${ENV_STAC_URL}).

outputs:
  {_class_tasks()}
                     --out: uint8 class-map Cloud-Optimised GeoTIFF, nodata 255, colour table, input grid.
  --probabilities    {_class_tasks()}: float32 COG, one band per class (softmax of the averaged logits),
                     NaN = no data.
  {_masking_tasks()}        --out: int16 DN Cloud-Optimised GeoTIFF, nodata -9999, 6 bands per date time-major
                     (band 6*t + b + 1 = date t+1, model band b; descriptions "date1 B02" ...): the input
                     where patches were visible and the model's prediction where they were hidden.
  --png FILE         a preview: true colour | class map ({_class_tasks()}), or per date a row of
                     original | masked | reconstructed ({_masking_tasks()}).

weights: --weights-dir or ${ENV_WEIGHTS_DIR}, then the Hugging Face cache (geofm weights download).
examples:
  geofm run flood --input scene.tif --out flood.tif --png flood.png
  geofm run crops --input t1.tif --input t2.tif --input t3.tif --out crops.tif
  geofm run burn-scars --input scene.tif --out burn.tif
  geofm run reconstruct --input scene.tif --out recon.tif --mask-ratio 0.75 --seed 0
  geofm run flood --bbox 67.60 26.30 67.80 26.50 --start 2022-08-25 --end 2022-09-12 --out flood.tif
"""


def add_input_arguments(p: argparse.ArgumentParser, input_help: str) -> None:
    """The input options of a model run (``run``, ``compare``): local GeoTIFFs, or an area's HLS scenes."""
    src = p.add_argument_group("input (one of)")
    src.add_argument("--input", action="extend", nargs="+", type=Path, metavar="FILE", default=[], help=input_help)
    src.add_argument("--bbox", nargs=4, type=float, metavar=("W", "S", "E", "N"),
                     help="area in degrees (WGS84 lon/lat) to fetch HLS for")
    src.add_argument("--start", help="first date (YYYY-MM-DD) with --bbox")
    src.add_argument("--end", help="last date (YYYY-MM-DD) with --bbox")
    src.add_argument("--max-cloud", type=float, default=DEFAULTS.max_cloud,
                     help=f"largest scene cloud cover in %% with --bbox (default {DEFAULTS.max_cloud:g})")
    src.add_argument("--stac-url", help=f"STAC API with --bbox (default ${ENV_STAC_URL} or Planetary Computer)")
    src.add_argument("--scene", action="extend", nargs="+", default=[], metavar="ID",
                     help="use these HLS scene ids with --bbox instead of choosing")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a Prithvi task on GeoTIFFs or an area's HLS scenes",
                       description="Run " + ", ".join(t.title.lower() for t in TASKS.values()) + ".",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=list(TASKS), help="what to run")
    add_input_arguments(p, "input GeoTIFF(s), dates in time order (repeatable)")
    p.add_argument("--out", type=Path, required=True, help="output GeoTIFF (see below)")
    p.add_argument("--png", type=Path, help="also write a PNG preview")
    p.add_argument("--probabilities", type=Path, metavar="FILE",
                   help=f"{_class_tasks()}: also write the per-class probabilities (float32 GeoTIFF, "
                        "one band per class)")
    p.add_argument("--mask-ratio", type=float, default=None,
                   help=f"{_masking_tasks()}: share of patches hidden, 0 to <1 (default {DEFAULTS.mask_ratio})")
    p.add_argument("--model", default=None, metavar="NAME",
                   help=f"{_masking_tasks()}: which masked autoencoder (one of {', '.join(models_of_kind('mae'))}; "
                        f"default {', '.join(t.model for t in TASKS.values() if t.masking)}); "
                        + "; ".join(f"{t.name}: one of {', '.join(task_models(t.name))}" for t in TASKS.values()
                                    if t.alt_models)
                        + " (default: the best one for the device, docs/models.md)")
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD",
                   help="with --input: the acquisition date(s), comma-separated in time order, for files whose "
                        "name (HLS) or tags do not say it (the EO-2.0 models use the date)")
    p.add_argument("--seed", type=int, default=None, help=f"{_masking_tasks()}: masking seed (default {DEFAULTS.seed})")
    p.add_argument("--weights-dir", type=Path, help=f"folder with the weight files (also ${ENV_WEIGHTS_DIR})")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="auto = CUDA GPU when there is one, else CPU")
    p.add_argument("--batch-size", type=int, default=None, help="windows per forward pass (default: by device)")
    p.add_argument("--precision", default=None, metavar="{" + ",".join(PRECISIONS) + "}",
                   help=f"model precision (default ${ENV_PRECISION} or auto: bf16 on GPUs with compute "
                        "capability >= 8.0, fp16 on older GPUs, fp32 on CPU)")
    p.add_argument("--reference", metavar="auto|PATH", help="also compare with a reference and write the agreement "
                   f"products beside --out: {REFERENCE_HELP}")
    p.add_argument("--dry-date", metavar="auto|DATE", help="flood with --bbox: also run a dry date before the event "
                   "(auto: the clearest scene 90 to 10 days before) and write water gained / lost beside --out")
    p.set_defaults(handler=run_command)


def _check_args(args: argparse.Namespace) -> None:
    if bool(args.input) == bool(args.bbox):
        raise InputError("Give either --input FILE ... or --bbox W S E N (with --start and --end), not both.")
    if args.bbox and not (args.start and args.end):
        raise InputError("--bbox needs --start and --end dates (YYYY-MM-DD).")
    if args.input and (args.start or args.end or args.scene or args.stac_url):
        raise InputError("--start, --end, --scene and --stac-url only apply with --bbox.")
    task = get_task(args.task)
    if not task.masking and (args.mask_ratio is not None or args.seed is not None):
        raise InputError(f"--mask-ratio and --seed only apply to {_masking_tasks(True)}.")
    if not task.masking and args.model is not None:
        if not task.alt_models:
            raise InputError(f"--model only applies to {_masking_tasks(True)} and the tasks with a choice of "
                             f"models ({task.name} has one published model).")
        check_task_model(task.name, args.model)
    if args.date is not None:
        if not args.input:
            raise InputError("--date only applies with --input (scenes found for --bbox carry their dates).")
        args.dates = parse_dates(args.date)
    if args.mask_ratio is not None and not 0.0 <= args.mask_ratio < 1.0:
        raise InputError(f"--mask-ratio must be at least 0 and below 1; got {args.mask_ratio:g}.")
    if args.precision is not None:
        from geofm.inference.precision import check_precision  # lazy: torch

        args.precision = check_precision(args.precision)
    if args.batch_size is not None and args.batch_size < 1:
        raise InputError("--batch-size must be at least 1.")
    if args.probabilities is not None:
        if task.result != "classes":
            raise InputError(f"--probabilities only applies to {_class_tasks(True)}.")
        if args.probabilities.suffix.lower() not in (".tif", ".tiff"):
            raise InputError(f"--probabilities must end in .tif or .tiff; got {args.probabilities.name}.")
    for out in (args.out, args.png, args.probabilities):
        if out is not None and out.is_dir():
            raise InputError(f"{out} is a folder; give a file name.")
    if args.out.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"--out must end in .tif or .tiff (it is a GeoTIFF); got {args.out.name}.")
    if args.png is not None and args.png.suffix.lower() != ".png":
        raise InputError(f"--png must end in .png; got {args.png.name}.")
    check_outputs([("--out", args.out), ("--probabilities", args.probabilities), ("--png", args.png)],
                  inputs=list(args.input))
    check_reference_arg(args)


def _note(stage: str, message: str, fraction: float | None = None) -> None:
    """CLI progress: one stderr line per note; counters only on a terminal (a download: first and last too)."""
    if stage == "weights" and fraction is not None:
        download_note(message, fraction)
    elif fraction is None:
        print(f"geofm: {message}", file=sys.stderr, flush=True)
    elif sys.stderr.isatty():
        end = "\n" if fraction >= 1.0 else ""
        print(f"\rgeofm: {message}", end=end, file=sys.stderr, flush=True)


def download_note(message: str, fraction: float, width: int = 24) -> None:
    """A download's progress bar on stderr: redrawn in place on a terminal, else its first and last line."""
    filled = int(width * min(max(fraction, 0.0), 1.0))
    line = f"geofm: [{'#' * filled}{'.' * (width - filled)}] {message}"
    if sys.stderr.isatty():
        print(f"\r{line}", end="\n" if fraction >= 1.0 else "", file=sys.stderr, flush=True)
    elif fraction == 0.0 or fraction >= 1.0:
        print(line, file=sys.stderr, flush=True)


def _load_stack(args: argparse.Namespace) -> HLSStack:
    if args.input:
        stack = read_input_stack(args.input, progress=_note)
        if args.date is not None:
            stack = with_dates(stack, args.dates)
    else:
        from geofm.data import AOI, load_task_stack  # lazy: pystac_client

        aoi = AOI.from_bbox(*args.bbox)
        stack, _scenes = load_task_stack(args.task, aoi, args.start, args.end, max_cloud=args.max_cloud,
                                         stac_url=args.stac_url, scene_ids=args.scene or None, progress=_note)
    task = get_task(args.task)
    task.check_dates(stack.num_frames, get_model_spec(args.model or task.model))
    return stack


def parse_dates(text: str) -> list:
    """``--date``: one or more YYYY-MM-DD dates, comma-separated."""

    out = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        try:
            out.append(datetime.strptime(part, "%Y-%m-%d"))
        except ValueError:
            raise InputError(f"--date takes YYYY-MM-DD dates (comma-separated); got {part!r}.") from None
    if not out:
        raise InputError("--date is empty; give YYYY-MM-DD.")
    return out


def with_dates(stack: HLSStack, dates: list) -> HLSStack:
    """``stack`` with the user's acquisition dates (one per date of the stack)."""

    if len(dates) != stack.num_frames:
        raise InputError(f"--date gives {len(dates)} date(s); the input has {stack.num_frames}.")
    return dataclasses.replace(stack, times=list(dates))


def _segmentation_summary(result: SegmentationResult) -> str:
    from geofm.render.stats import class_area_table  # lazy: pandas

    table = class_area_table(result).sort_values("percent", ascending=False)
    # the share from pixel counts, rounded once (the table's percent is already rounded to 2 decimals): the same
    # figures as the block-by-block summary (geofm.io.large), also when a share sits on a rounding edge
    classified = max(int(np.sum(result.classes != 255)), 1)
    shown = [f"{r['class']} {100 * r['pixels'] / classified:.1f}% ({r['area_ha'] / 100:.2f} km2)"
             for _, r in table.iterrows() if r["pixels"] > 0][:6]
    nodata = float(np.mean(result.classes == 255)) * 100
    extra = f"; no data {nodata:.1f}%" if nodata else ""
    return ", ".join(shown) + extra


def _preview_segmentation(stack: HLSStack, result: SegmentationResult, path: Path) -> None:
    last = stack.num_frames - 1
    rgb = stretch_rgb(stack.data[last], stack.valid[last])
    rgba = colorize_classes(result.classes, result.class_colors)
    classes_rgb = np.where(rgba[..., 3:] > 0, rgba[..., :3], rgb // 3)
    gap = np.full((rgb.shape[0], 4, 3), 255, np.uint8)
    save_png(np.concatenate([rgb, gap, classes_rgb.astype(np.uint8)], axis=1), path)


def _preview_reconstruction(result: ReconstructionResult, path: Path) -> None:
    h = result.original_rgb.shape[1]
    gap_v = np.full((h, 4, 3), 255, np.uint8)
    rows = []
    for t in range(result.original_rgb.shape[0]):
        rows.append(np.concatenate([result.original_rgb[t], gap_v, result.masked_rgb[t], gap_v,
                                    result.reconstructed_rgb[t]], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    save_png(np.concatenate(rows[:-1], axis=0), path)


def _large_inputs(args: argparse.Namespace) -> list | None:
    """Headers of local inputs too large to read whole (over the command line's memory budget), else None.

    Class-map tasks run those block by block in bounded memory; other tasks refuse them with the size and
    the limit.
    """
    if not args.input:
        return None
    headers = [hdr.read_header(Path(p)) for p in args.input]
    for h in headers:
        hdr.check_header(h)
    budget = hdr.cli_budget_bytes()
    if sum(h.decode_bytes for h in headers) <= budget:
        return None
    if get_task(args.task).result != "classes":
        hdr.check_budget(headers, budget, where="the command line")
    if args.png is not None:
        raise InputError(f"--png previews are made for inputs that fit in memory; {headers[0].name} is "
                         f"{headers[0].width} x {headers[0].height} px and runs block by block. Leave out --png.")
    return headers


def _run_large(args: argparse.Namespace, headers: list, device, start: float) -> int:  # noqa: ANN001
    if args.model is not None and args.model != get_task(args.task).model:
        raise InputError(f"{headers[0].name} is too large to read at once and runs block by block, which uses "
                         f"{get_task(args.task).model} only. Crop the file, or leave out --model.")
    for h in headers:
        for note in check_header(h):
            _note("read", note)
    h0 = headers[0]
    _note("read", f"{h0.width}x{h0.height} px is more than fits in memory at once: running block by block")
    what, model_s = segment_large_inputs(args.task, [Path(p) for p in args.input], headers, args.out,
                                         probabilities=args.probabilities, weights_dir=args.weights_dir,
                                         device=device, batch_size=args.batch_size, progress=_note)
    total = time.perf_counter() - start
    print(f"wrote {args.out}: {args.task} {h0.width}x{h0.height} px, {what}; model {model_s:.1f} s, "
          f"total {total:.1f} s on {device}, block by block")
    return 0


def run_command(args: argparse.Namespace) -> int:
    """Handler of ``geofm run``: read or fetch, run, write; prints a one-line summary."""
    from geofm import pipeline  # lazy: torch
    from geofm.inference.device import resolve_device  # lazy: torch

    from geofm.inference.precision import resolve_precision  # lazy: torch

    _check_args(args)
    device = resolve_device(args.device)
    task_spec = get_task(args.task)
    if task_spec.alt_models and args.model is None:  # the device's default for this input (docs/models.md)
        args.model = default_model(task_spec.name, device.type, "area" if args.bbox else "file")
    resolve_precision(args.precision, device)  # a precision the device lacks fails before any reading
    start = time.perf_counter()
    large = _large_inputs(args)
    if large is not None:
        return _run_large(args, large, device, start)
    stack = _load_stack(args)
    h, w = stack.shape
    common = dict(weights_dir=args.weights_dir, device=device, progress=_note, batch_size=args.batch_size,
                  precision=args.precision)
    task = get_task(args.task)
    if task.result == "reconstruction":
        ratio = DEFAULTS.mask_ratio if args.mask_ratio is None else args.mask_ratio
        seed = DEFAULTS.seed if args.seed is None else args.seed
        rec = pipeline.run_reconstruction(stack, mask_ratio=ratio, seed=seed, model=args.model, task=task.name,
                                          **common)
        record = prepare_run_record(args, stack, rec)
        write_reconstruction_cog(rec, args.out, tags=record.tags())
        if args.png:
            _preview_reconstruction(rec, args.png)
        what = (f"{rec.reconstructed.shape[0]} date(s) x 6 bands int16 DN, {100 * rec.mask.mean():.1f}% of "
                f"pixels hidden (mask ratio {ratio:g}, seed {seed})")
        model_s, dev = rec.seconds, f"{rec.device} ({rec.precision})"
    else:
        seg = pipeline.run_segmentation(args.task, stack, probabilities=args.probabilities is not None,
                                        model=args.model, **common)
        record = prepare_run_record(args, stack, seg)
        write_class_map_cog(seg, args.out, tags=record.tags())
        if args.probabilities is not None:
            write_probabilities_cog(seg, args.probabilities, tags=record.tags())
        if args.png:
            _preview_segmentation(stack, seg, args.png)
        what = _segmentation_summary(seg)
        model_s, dev = seg.seconds, f"{seg.device} ({seg.precision})"
    shown = write_run_record(args, record)  # everything is on disk before anything says "wrote"
    png = f" and {args.png}" if args.png else ""
    total = time.perf_counter() - start
    print(f"wrote {args.out}{png}: {args.task} {w}x{h} px, {what}; model {model_s:.1f} s, "
          f"total {total:.1f} s on {dev}")
    print_run_record(shown)
    return 0
