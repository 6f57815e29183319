"""The work of one chunk, run on a Dask worker: choose scenes, read core + halo, run the model, write a COG.

Nothing heavy travels through the scheduler: a job carries the chunk's geometry, the region's scene list
and paths; the model comes from the worker process's cache (``geofm.pipeline.get_model``, loaded once per
process, by the worker plugin when the cluster starts). The tile is written under a temporary name and
renamed into place, so a killed worker leaves either a complete tile or none.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import torch
from shapely.geometry import box

from geofm.config import (
    CLASS_NODATA,
    HLS_NODATA,
    REGION,
    ModelSpec,
    get_model_spec,
)
from geofm.data.grid import Grid
from geofm.data.reader import fill_clear_fractions, frame_order, read_grid
from geofm.data.scene import Scene
from geofm.data.select import choose_scenes, group_by_day
from geofm.digest import file_sha256 as sha256_of
from geofm.errors import GeofmError, NoScenesError, ServiceError
from geofm.inference.device import resolve_device
from geofm.io.geotiff import write_class_map_cog, write_reconstruction_cog
from geofm.pipeline import checkpoint_sha256, get_model
from geofm.region.chunks import Chunk, Span, ZonePart, chunk_aoi, read_span, span_lonlat
from geofm.region.infer import reconstruct_core, segment_core
from geofm.region.manifest import tile_name
from geofm.stack import HLSStack, ReconstructionResult, SegmentationResult


@dataclass
class ChunkJob:
    """Everything a worker needs for one chunk (small: geometry, scene records, paths)."""

    task: str
    model: str  # registry name
    chunk: Chunk
    part: ZonePart
    scenes: list[Scene]
    start: date
    end: date
    out_dir: str  # the run folder; the tile goes to <out_dir>/tiles/<chunk id>.tif
    weights_dir: str | None = None
    device: str = "auto"
    batch_size: int | None = None
    precision: str | None = None  # auto, bf16, fp16 or fp32 as asked, resolved for the worker's device
    mask_ratio: float = 0.75
    seed: int = 0
    scene_ids: list[str] | None = None
    attempts: int = REGION.chunk_attempts  # runs of the chunk (each request has its own retry budget)
    retry_delay_s: float = REGION.retry_delay_s
    extra: dict[str, Any] = field(default_factory=dict)


def worker_device(device: str) -> torch.device:
    """The device of this worker: CUDA when asked/available, one GPU per worker by worker name."""

    dev = resolve_device(device)
    if dev.type != "cuda" or dev.index is not None:
        return dev
    count = torch.cuda.device_count()
    try:
        from distributed import get_worker  # lazy: distributed

        name = get_worker().name
        index = int(name) if str(name).isdigit() else abs(hash(str(name)))
    except (ImportError, ValueError):
        index = 0
    return torch.device("cuda", index % max(1, count))


# ------------------------------------------------------------------------------------------ scenes + read

def chunk_frames(job: ChunkJob, extent: Span) -> list[list[Scene]]:
    """The chunk's frames: the clearest date(s) over the chunk's part of the area, among scenes over it."""
    aoi = chunk_aoi(job.chunk, job.part)
    if aoi is None:
        raise GeofmError(f"Chunk {job.chunk.id} does not overlap the area.")
    foot = span_lonlat(extent, job.part.grid)
    near = [_fresh(s) for s in job.scenes if s.bbox is None or box(*s.bbox).intersects(foot)]
    if job.scene_ids:
        named = [s for s in near if s.id in set(job.scene_ids)]
        if not named:
            raise NoScenesError(f"None of the named scenes covers chunk {job.chunk.id}.")
        fill_clear_fractions(named, aoi)
        frames = [frame_order(f) for f in group_by_day(named)]
    else:
        frames = choose_scenes(near, job.task, aoi, start=job.start, end=job.end)
    return sorted(frames, key=lambda f: f[0].datetime)


def _fresh(scene: Scene) -> Scene:
    s = copy.copy(scene)
    s.clear_fraction = None
    return s


def read_frames(frames: list[list[Scene]], grid: Grid, area: np.ndarray) -> HLSStack:
    """Read each frame's scenes onto ``grid`` (a window of the zone grid) exactly as ``read_aoi`` does."""
    return read_grid(frames, grid, area)


# ------------------------------------------------------------------------------------------ the job

def _write_tile(job: ChunkJob, spec: ModelSpec, grid: Grid, out: np.ndarray, mask: np.ndarray | None,
                checkpoint_sha256: str) -> Path:
    final = Path(job.out_dir) / tile_name(job.chunk.id)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.{os.getpid()}.{time.monotonic_ns()}.tmp.tif")
    try:
        if spec.kind == "mae":
            assert mask is not None, "a reconstruction tile has its mask"
            t = out.shape[0]
            empty = np.zeros((t, 0, 0, 3), np.uint8)
            write_reconstruction_cog(ReconstructionResult(empty, empty, empty, mask, out, grid.crs, grid.transform,
                                                          spec.name, job.mask_ratio, job.seed,
                                                          checkpoint_sha256=checkpoint_sha256), tmp)
        else:
            write_class_map_cog(SegmentationResult(out, grid.crs, grid.transform, spec.name,
                                                   tuple(c.name for c in spec.classes),
                                                   tuple(c.color for c in spec.classes),
                                                   checkpoint_sha256=checkpoint_sha256), tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def _compute(job: ChunkJob) -> dict[str, Any]:
    spec = get_model_spec(job.model)
    zone = job.part.grid
    extent = read_span(job.chunk.core, zone, spec)
    frames = chunk_frames(job, extent)
    grid = extent.grid(zone)
    stack = read_frames(frames, grid, grid.area_mask(job.part.aoi))
    device = worker_device(job.device)
    model, spec = get_model(job.model, weights_dir=job.weights_dir, device=device)
    core = job.chunk.core
    counts: list[int] = []
    if spec.kind == "mae":
        out, mask, windows = reconstruct_core(model, spec, stack, extent, core, zone, device=device,
                                              batch_size=job.batch_size, mask_ratio=job.mask_ratio, seed=job.seed,
                                              precision=job.precision)
        valid_px = int((out[:, 0] != HLS_NODATA).all(axis=0).sum())
    else:
        out, windows = segment_core(model, spec, stack, extent, core, device=device, batch_size=job.batch_size,
                                     precision=job.precision)
        mask = None
        counts = np.bincount(out[out != CLASS_NODATA], minlength=len(spec.classes)).astype(int).tolist()
        valid_px = int(sum(counts))
    checkpoint = checkpoint_sha256(spec, job.weights_dir)  # of the file the model was loaded from
    path = _write_tile(job, spec, core.grid(zone), out, mask, checkpoint)
    return {"file": tile_name(job.chunk.id), "sha256": sha256_of(path), "checkpoint_sha256": checkpoint,
            "scenes": [[s.id for s in f] for f in frames],
            "dates": [str(f[0].date) for f in frames], "windows": windows, "valid_pixels": valid_px,
            "class_counts": counts, "read_pixels": extent.height * extent.width, "device": str(device)}


def run_chunk(job: ChunkJob) -> dict[str, Any]:
    """Run one chunk (``job.attempts`` runs at most for transient faults; one by default, as every request of
    the chunk already has its own retry budget); never raises for a GeofmError.

    Returns a record for the manifest: ``status`` ``done`` or ``failed`` (with ``error``), ``attempts``,
    ``seconds`` and, when done, the tile's file name, sha256, scenes and counts.
    """
    start = time.perf_counter()
    attempt = 0
    while True:
        attempt += 1
        try:
            record = _compute(job)
            record.update(status="done", attempts=attempt, error=None)
            break
        except ServiceError as err:  # transient: the image host or the network
            if attempt >= job.attempts:
                record = {"status": "failed", "attempts": attempt, "error": err.user_message()}
                break
            time.sleep(job.retry_delay_s * 2 ** (attempt - 1))
        except GeofmError as err:  # permanent: no scene over the chunk, all cloudy, bad weights ...
            record = {"status": "failed", "attempts": attempt, "error": err.user_message()}
            break
    record.update(id=job.chunk.id, seconds=round(time.perf_counter() - start, 3), pid=os.getpid())
    return record
