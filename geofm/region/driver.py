"""``run_region``: plan chunks, run them on Dask, keep the manifest, build the mosaic and the STAC Item.

>>> from geofm.region import run_region
>>> result = run_region("flood", (-96.6, 41.2, -95.5, 41.7), "2022-03-01", "2022-04-30", "out/")
>>> result.ok, result.mosaic, result.failed
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from shapely.geometry import box

from geofm.config import TASKS, get_task, DEFAULTS, HLS_RESOLUTION_M, REGION, TASK_MODELS, ModelSpec, get_model_spec
from geofm.data.aoi import AOI
from geofm.data.grid import Grid
from geofm.data.stac import date_range, get_scenes, search_hls
from geofm.errors import GeofmError, InputError
from geofm.inference.device import resolve_device
from geofm.inference.precision import requested_precision, resolve_precision
from geofm.models import resolve_weights
from geofm.pipeline import checkpoint_sha256
from geofm.progress import Progress, null_progress
from geofm.region.assign import chunk_order, home_runs, tile_lattices
from geofm.region.chunks import (
    Chunk,
    ZonePart,
    chunk_pixels,
    estimate_chunks,
    make_chunks,
    read_span,
    span_lonlat,
    zone_parts,
)
from geofm.region.item import region_item
from geofm.region.job import ChunkJob, run_chunk, sha256_of
from geofm.region.manifest import (
    DONE,
    FAILED,
    PENDING,
    Manifest,
    open_manifest,
    tile_name,
    write_json_atomic,
)
from geofm.region.mosaic import build_mosaic

RegionInput = AOI | tuple[float, float, float, float] | list[float] | dict[str, Any] | str | Path


@dataclass
class RegionResult:
    """The outcome of one region (one folder)."""

    id: str
    folder: Path
    task: str
    area_km2: float
    chunks_total: int
    chunks_done: int
    failed: list[tuple[str, str]]  # (chunk id, reason)
    mosaic: Path | None
    item: Path | None
    manifest: Path
    scenes: list[str]
    class_areas_km2: dict[str, float] = field(default_factory=dict)
    windows: int = 0
    error: str | None = None  # the whole region failed before any chunk ran (no scenes, ...)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed and self.chunks_done == self.chunks_total

    @property
    def status(self) -> str:
        if self.error:
            return f"failed: {self.error}"
        if self.ok:
            return "complete"
        return f"partial: {len(self.failed)} of {self.chunks_total} chunks failed"


@dataclass
class BatchResult:
    """One result per feature of a FeatureCollection, and the summary table."""

    results: list[RegionResult]
    summary: Path

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


# ------------------------------------------------------------------------------------------ inputs

def _feature_id(feature: dict[str, Any], index: int, taken: set[str]) -> str:
    props = feature.get("properties") or {}
    raw = feature.get("id", props.get("id", props.get("name")))
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(raw)).strip("-.") if raw is not None else ""
    name = name or f"feature-{index + 1}"
    base, k = name, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    taken.add(name)
    return name


def parse_regions(region: RegionInput) -> tuple[list[tuple[str, AOI]], bool]:
    """(feature id, AOI) pairs and whether it is a batch (a FeatureCollection of several features)."""
    unlimited = math.inf
    if isinstance(region, AOI):
        return [("region", region)], False
    if isinstance(region, (tuple, list)) and len(region) == 4:
        return [("region", AOI.from_bbox(*region, max_km=unlimited))], False
    if isinstance(region, (str, Path)):
        path = Path(region)
        try:
            region = json.loads(path.read_text())
        except OSError as err:
            raise InputError(f"Cannot read the GeoJSON file {path} ({err.strerror or err}).") from None
        except RecursionError:
            raise InputError(f"{path.name} is nested too deeply to be GeoJSON (a polygon's coordinates are "
                             "three levels deep).") from None
        except ValueError as err:
            raise InputError(f"{path.name} is not valid GeoJSON ({err}).") from None
    if not isinstance(region, dict):
        raise InputError("The region must be a bounding box (W S E N), an AOI or a GeoJSON object.")
    if region.get("type") == "FeatureCollection":
        feats = region.get("features") or []
        if not feats:
            raise InputError("The FeatureCollection holds no features.")
        taken: set[str] = set()
        out = []
        for i, f in enumerate(feats):
            fid = _feature_id(f, i, taken)
            try:
                out.append((fid, AOI.from_geojson(f, max_km=unlimited)))
            except InputError as err:
                raise InputError(f"Feature {fid}: {err.user_message()}") from None
        return out, len(out) > 1
    return [("region", AOI.from_geojson(region, max_km=unlimited))], False


# ------------------------------------------------------------------------------------------ planning

@dataclass
class _Plan:
    id: str
    aoi: AOI
    folder: Path
    parts: list[ZonePart]
    chunks: list[Chunk]
    manifest: Manifest
    scenes: list[Any] = field(default_factory=list)
    error: str | None = None
    windows: int = 0


def _params(task: str, model: str, aoi: AOI, d0: date, d1: date, size_px: int, max_cloud: float,
            scene_ids: list[str] | None, mask_ratio: float, seed: int, precision: str = "auto") -> dict[str, Any]:
    p: dict[str, Any] = {"task": task, "model": model, "region": aoi.to_geojson(), "start": d0.isoformat(),
                         "end": d1.isoformat(), "chunk_px": size_px, "max_cloud": max_cloud,
                         "scene_ids": sorted(scene_ids) if scene_ids else None}
    if precision != "auto":  # recorded when chosen, so a manifest written before the setting existed still resumes
        p["precision"] = precision
    if get_task(task).masking:
        p.update(mask_ratio=mask_ratio, seed=seed)
    return json.loads(json.dumps(p))


def _zone_json(part: ZonePart) -> dict[str, Any]:
    t = part.grid.transform
    return {"epsg": part.epsg, "transform": [t.a, t.b, t.c, t.d, t.e, t.f], "width": part.grid.width,
            "height": part.grid.height}


def _plan(fid: str, aoi: AOI, folder: Path, params: dict[str, Any], size_px: int, resume: bool) -> _Plan:
    parts = zone_parts(aoi)
    chunks = [c for part in parts for c in make_chunks(part, size_px)]
    manifest = open_manifest(folder, params, resume=resume)
    manifest.zones = [_zone_json(p) for p in parts]
    for c in chunks:
        rec = manifest.chunks.setdefault(c.id, {"id": c.id, "status": PENDING})
        rec.update(epsg=c.epsg, core=[c.core.row0, c.core.row1, c.core.col0, c.core.col1])
    return _Plan(fid, aoi, folder, parts, chunks, manifest)


# ------------------------------------------------------------------------------------------ finishing

def _finish(plan: _Plan, task: str, model: str, d0: date, d1: date) -> RegionResult:
    m = plan.manifest
    spec = get_model_spec(model)
    order = {c.id: i for i, c in enumerate(plan.chunks)}
    main_epsg = int(plan.aoi.utm_crs().to_epsg())
    done = sorted((r for r in m.done() if r["id"] in order),
                  key=lambda r: (r.get("epsg") != main_epsg, order[r["id"]]))
    tiles = [plan.folder / tile_name(r["id"]) for r in done]  # the one name a tile has
    grid = Grid.for_aoi(plan.aoi, HLS_RESOLUTION_M)
    mosaic = build_mosaic(tiles, grid, plan.folder / REGION.mosaic_name)
    if mosaic is not None:
        m.mosaic = {"file": REGION.mosaic_name, "sha256": sha256_of(mosaic), "epsg": grid.crs.to_epsg(),
                    "chunks": [r["id"] for r in done], "width": grid.width, "height": grid.height}
    else:
        m.mosaic = None
    failed = [(r["id"], r.get("error") or "unknown") for r in m.failed() if r["id"] in order]
    scenes = sorted({s for r in done for f in r.get("scenes", []) for s in f})
    areas: dict[str, float] = {}
    if spec.kind == "segmenter":
        px_km2 = HLS_RESOLUTION_M ** 2 / 1e6
        for k, cls in enumerate(spec.classes):
            areas[cls.name] = round(sum(r.get("class_counts", [0] * len(spec.classes))[k] for r in done) * px_km2, 4)
    checkpoints = sorted({r.get("checkpoint_sha256") or "" for r in done} - {""})
    m.checkpoint_sha256 = checkpoints[0] if len(checkpoints) == 1 else ""
    m.save()
    item_path = plan.folder / REGION.item_name
    item = region_item(f"geofm-{task}-{plan.id}", plan.aoi, task, model, d0, d1, mosaic=mosaic, mosaic_grid=grid,
                       tiles=tiles, folder=plan.folder,
                       properties={"geofm:chunks": len(plan.chunks), "geofm:chunks_done": len(done),
                                   "geofm:chunks_failed": len(failed), "geofm:scenes": scenes,
                                   "geofm:checkpoint_sha256": m.checkpoint_sha256,
                                   **({"geofm:class_areas_km2": areas} if areas else {})})
    write_json_atomic(item_path, item)
    return RegionResult(plan.id, plan.folder, task, round(plan.aoi.area_km2, 4), len(plan.chunks), len(done), failed,
                        mosaic, item_path, m.path, scenes, areas, plan.windows, plan.error)


def write_summary(results: list[RegionResult], path: Path, class_names: list[str]) -> Path:
    """summary.csv: one row per feature (id, area, scenes used, class areas, status)."""

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "area_km2", "scenes", *[f"{n} km2" for n in class_names], "chunks", "chunks_done", "status"])
    for r in results:
        w.writerow([r.id, f"{r.area_km2:.4f}", ";".join(r.scenes),
                    *[f"{r.class_areas_km2.get(n, 0.0):.4f}" for n in class_names], r.chunks_total, r.chunks_done,
                    r.status])
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(buf.getvalue())
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------------ the run

def check_out_folder(out: Path) -> None:
    """``out`` can be a run folder: a folder, or a path whose nearest existing parent is a writable folder.
    Checked before anything is written; raises InputError otherwise."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; --out must be a folder.")
    parent = out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise InputError(f"--out {out} lies under {parent}, which is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: the folder {parent} is not writable.")


def check_size(regions: list[tuple[str, AOI]], size_px: int, chunk_km: float, max_chunks: int) -> int:
    """The chunks the regions plan at most (arithmetic on their bounds, before anything is planned or written);
    raises InputError beyond ``max_chunks`` or ``REGION.max_chunk_km``."""
    if chunk_km > REGION.max_chunk_km:
        raise InputError(f"--chunk-km {chunk_km:g} is larger than the largest chunk, {REGION.max_chunk_km:g} km: "
                         "a chunk's pixels are read into one worker's memory.",
                         hint="Use a smaller --chunk-km; the region may be as large as you like.")
    total = sum(estimate_chunks(aoi.bounds, size_px) for _, aoi in regions)
    if total > max_chunks:
        side = size_px * HLS_RESOLUTION_M / 1000.0
        raise InputError(f"The region needs up to {total:,} chunks of {side:g} km, more than the limit of "
                         f"{max_chunks:,} chunks per run.",
                         hint="Use larger chunks (--chunk-km), split the region, or raise the limit with "
                              "--max-chunks.")
    return total


def _check_arguments(task: str, chunk_km: float, workers: int | None, scheduler: str | None,
                     max_chunks: int) -> None:
    if task not in TASKS:
        raise InputError(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    if not (isinstance(chunk_km, (int, float)) and math.isfinite(chunk_km) and chunk_km > 0):
        raise InputError(f"--chunk-km must be a positive number of km; got {chunk_km}.")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1; got {workers}.")
    if max_chunks < 1:
        raise InputError(f"--max-chunks must be at least 1; got {max_chunks}.")
    if scheduler and workers is not None:
        raise InputError("Give --workers (a local cluster) or --scheduler (an existing one), not both.")
    if scheduler:
        from geofm.region.cluster import check_scheduler_address  # lazy: distributed

        check_scheduler_address(scheduler)


class _Written:
    """What this run wrote to start (manifests, folders), removed again when it fails before a chunk is done:
    a failed start leaves nothing that blocks a plain rerun."""

    def __init__(self, out: Path) -> None:
        self.folders = [p for p in (out, *out.parents) if not p.exists()]  # created by this run, deepest first
        self.manifests: list[Manifest] = []

    def save_first(self, manifest: Manifest) -> None:
        if not manifest.path.exists():
            self.manifests.append(manifest)
        manifest.save()

    def undo(self) -> None:
        for m in self.manifests:
            if any(r.get("status") == DONE for r in m.chunks.values()):
                continue  # a chunk finished: the manifest is what --resume continues
            m.path.unlink(missing_ok=True)
            for folder in (m.folder / REGION.tiles_dir, m.folder):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty
        for folder in self.folders:
            with contextlib.suppress(OSError):
                folder.rmdir()


def run_region(task: str, region: RegionInput, start: date | str, end: date | str, out_dir: str | Path, *,
               workers: int | None = None, scheduler: str | None = None, chunk_km: float = REGION.chunk_km,
               max_cloud: float = DEFAULTS.max_cloud, stac_url: str | None = None,
               weights_dir: str | Path | None = None, device: str = "auto", resume: bool = False,
               scene_ids: list[str] | None = None, batch_size: int | None = None,
               mask_ratio: float = DEFAULTS.mask_ratio, seed: int = DEFAULTS.seed,
               attempts: int = REGION.chunk_attempts, retry_delay_s: float = REGION.retry_delay_s,
               processes: bool = True, threads_per_worker: int | None = None,
               max_chunks: int = REGION.max_chunks, precision: str | None = None,
               progress: Progress = null_progress) -> RegionResult | BatchResult:
    """Run ``task`` over a region of any size, chunk by chunk on Dask; see the module and README.

    ``region``: (W, S, E, N), an AOI, a GeoJSON geometry / Feature / FeatureCollection, or a GeoJSON file.
    A FeatureCollection of several features is a batch (one sub-folder per feature and ``summary.csv``).
    ``processes=False`` runs the LocalCluster's workers as threads of this process (tests, debugging);
    ``threads_per_worker`` sets each worker's torch threads (default: the cores divided among local workers).
    ``max_chunks``: the most chunks a run may plan (checked from the bounds before anything is written).
    ``precision``: auto, bf16, fp16 or fp32 (None: ``GEOFM_PRECISION``, else auto), as ``geofm run``'s; each worker
    resolves it for its device, and it is part of the settings a ``resume`` must match.
    Raises InputError for bad arguments, before anything is written; a run that fails before its first chunk
    is done removes what it wrote. Chunk failures are reported in the result, not raised.
    """

    _check_arguments(task, chunk_km, workers, scheduler, max_chunks)
    precision = requested_precision(precision)
    d0, d1 = date_range(start, end)
    model = TASK_MODELS[task]
    spec = get_model_spec(model)
    wdir = str(Path(weights_dir).resolve()) if weights_dir else None
    regions, batch = parse_regions(region)
    out = Path(out_dir)
    check_out_folder(out)
    size_px = chunk_pixels(chunk_km)
    check_size(regions, size_px, chunk_km, max_chunks)
    checkpoint = ""
    if not scheduler:  # local workers share this machine: missing weights or GPU are one clear error up front
        resolve_precision(precision, resolve_device(device))  # a precision this machine lacks: one error now
        resolve_weights(spec, wdir)
        checkpoint = checkpoint_sha256(spec, wdir)
    plans = [  # read only: nothing is written until the plan is valid and the cluster answers
        _plan(fid, aoi, out / fid if batch else out,
              _params(task, model, aoi, d0, d1, size_px, max_cloud, scene_ids, mask_ratio, seed, precision), size_px,
              resume)
        for fid, aoi in regions
    ]
    for plan in plans:
        progress("search", f"{plan.id}: searching HLS scenes {d0} to {d1}", None)
        try:
            plan.scenes = (get_scenes(list(scene_ids), stac_url=stac_url) if scene_ids
                           else search_hls(plan.aoi, d0, d1, max_cloud=max_cloud, stac_url=stac_url))
        except GeofmError as err:
            if not batch:
                raise
            plan.error = err.user_message()
    todo: list[tuple[_Plan, Chunk]] = []
    for plan in plans:
        if plan.error:
            continue
        for c in plan.chunks:
            if resume and plan.manifest.is_complete(c.id, checkpoint):
                continue
            plan.manifest.chunks[c.id].update(status=PENDING, error=None)
            todo.append((plan, c))
    total = sum(len(p.chunks) for p in plans if not p.error)
    skipped = total - len(todo)
    if skipped:
        progress("region", f"{skipped} of {total} chunks already complete (checksums match); skipping them", None)
    from geofm.region.cluster import ModelPlugin, open_client  # lazy: distributed

    plugin = ModelPlugin(model, wdir, device, threads_per_worker)
    written = _Written(out)
    try:
        if todo:
            with open_client(workers=workers, scheduler=scheduler, processes=processes, plugin=plugin,
                             on_dashboard=lambda link: progress("cluster", f"Dask dashboard: {link}", None)) as client:
                _start(plans, written)
                _run_chunks(client, todo, task, model, d0, d1, wdir, device, batch_size, mask_ratio, seed,
                            scene_ids, attempts, retry_delay_s, total, skipped, progress, precision)
        else:
            _start(plans, written)
    except BaseException:
        written.undo()
        raise
    results = []
    for plan in plans:
        if plan.error:
            results.append(RegionResult(plan.id, plan.folder, task, round(plan.aoi.area_km2, 4), len(plan.chunks), 0,
                                        [], None, None, plan.manifest.path, [], {}, 0, plan.error))
            continue
        progress("mosaic", f"{plan.id}: building the mosaic", None)
        results.append(_finish(plan, task, model, d0, d1))
    if not batch:
        return results[0]
    names = [c.name for c in spec.classes]
    return BatchResult(results, write_summary(results, out / REGION.summary_name, names))


def _start(plans: list[_Plan], written: _Written) -> None:
    """The first writes of a run: each searched region's manifest (all chunks pending or kept), and no
    temporary tile a killed worker left."""
    for plan in plans:
        if plan.error:
            continue
        written.save_first(plan.manifest)
        for stale in (plan.folder / REGION.tiles_dir).glob(".*.tmp.tif"):  # left by a killed worker
            stale.unlink(missing_ok=True)


def _worker_names(client: Any) -> list[str]:
    """The cluster's workers' addresses, sorted; none when the scheduler does not say."""
    try:
        return sorted(client.scheduler_info().get("workers", {}))
    except Exception:  # noqa: BLE001 - an old or unusual scheduler: no preference
        return []


def hand_out_order(todo: list[tuple[_Plan, Chunk]], parts: dict[tuple[int, int], ZonePart], workers: int,
                   spec: ModelSpec) -> list[tuple[_Plan, Chunk]]:
    """``todo`` in the order chunks are handed out: per region and zone (``parts``, keyed by plan id and EPSG),
    row- or column-major, whichever cut into ``workers`` contiguous runs fetches fewer source blocks twice
    (:mod:`geofm.region.assign`)."""
    groups: dict[tuple[int, int], list[tuple[_Plan, Chunk]]] = {}
    for plan, chunk in todo:
        groups.setdefault((id(plan), chunk.epsg), []).append((plan, chunk))
    ordered: list[tuple[_Plan, Chunk]] = []
    for key, group in groups.items():
        plan, part = group[0][0], parts[key]
        cores = [chunk.core for _, chunk in group]
        reads = [read_span(core, part.grid, spec) for core in cores]
        lattices = tile_lattices(plan.scenes, part.grid, part.epsg)
        ordered += [group[i] for i in chunk_order(cores, reads, workers, lattices)]
    return ordered


def _run_chunks(client: Any, todo: list[tuple[_Plan, Chunk]], task: str, model: str, d0: date, d1: date,
                wdir: str | None, device: str, batch_size: int | None, mask_ratio: float, seed: int,
                scene_ids: list[str] | None, attempts: int, retry_delay_s: float, total: int, skipped: int,
                progress: Progress, precision: str = "auto") -> None:
    from distributed import as_completed  # lazy: distributed

    spec = get_model_spec(model)
    parts = {(id(plan), part.epsg): part for plan, _ in todo for part in plan.parts}
    run_id = uuid.uuid4().hex[:8]
    names = _worker_names(client)
    todo = hand_out_order(todo, parts, max(1, len(names)), spec)
    homes = home_runs(len(todo), names)  # neighbours on one worker share their halos' blocks (its block cache)
    futures = {}
    for order, (plan, chunk) in enumerate(todo):
        part = parts[(id(plan), chunk.epsg)]
        foot = span_lonlat(read_span(chunk.core, part.grid, spec), part.grid)
        near = [s for s in plan.scenes if s.bbox is None or box(*s.bbox).intersects(foot)]  # only what it may read
        job = ChunkJob(task=task, model=model, chunk=chunk, part=part, scenes=near,
                       start=d0, end=d1, out_dir=str(plan.folder.resolve()), weights_dir=wdir, device=device,
                       batch_size=batch_size, precision=precision, mask_ratio=mask_ratio, seed=seed,
                       scene_ids=scene_ids,
                       attempts=attempts, retry_delay_s=retry_delay_s)
        fut = client.submit(run_chunk, job, key=f"geofm-chunk-{run_id}-{plan.id}-{chunk.id}", pure=False,
                            priority=len(todo) - order,  # in hand-out order: neighbours run close in time ...
                            workers=homes[order], allow_other_workers=True)  # ... on the same worker
        futures[fut] = (plan, chunk)
    done, failed = skipped, 0
    started = time.perf_counter()
    progress("region", f"chunk {done} of {total} done", done / total if total else 1.0)
    for fut in as_completed(futures):
        plan, chunk = futures[fut]
        try:
            record = fut.result()
        except Exception as err:  # noqa: BLE001 - a worker died too often (KilledWorker), or a bug: the chunk fails
            record = {"status": FAILED, "error": f"{type(err).__name__}: {err}"[:500]}
        plan.manifest.record(chunk.id, record)
        plan.manifest.save()
        if record.get("status") == DONE:
            done += 1
            plan.windows += int(record.get("windows", 0))
        else:
            failed += 1
        rate = (done - skipped) / max(1e-9, time.perf_counter() - started)
        progress("region", f"chunk {done} of {total} done{f', {failed} failed' if failed else ''} "
                           f"({rate * 60:.1f} chunks/min)", (done + failed) / total)
        fut.release()
