"""Class maps of local inputs too large for memory: read, run and write block by block.

The inputs are read one region at a time (a block plus the model windows' halo), the segmenter runs on the
region (``geofm.inference.blockwise``: the same windows as a whole-image run, so the same result), and each
block's classes (and probabilities) go into a tiled GeoTIFF in the output's private temporary folder. That
file becomes the Cloud-Optimised GeoTIFF, is checked block by block and renamed into place.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.errors import RasterioError
from rasterio.windows import Window

from geofm.config import CLASS_NODATA, INPUT_LIMITS, get_model_spec, get_task
from geofm.errors import InputError, OutputError
from geofm.io.geotiff import (COG_OPTIONS, REFLECTANCE_MEAN_MAX, check_same_grid, decode_valid,
                              reflectance_note, to_dn)
from geofm.io.header import RasterHeader
from geofm.io.safewrite import atomic_output
from geofm.progress import Progress, null_progress

#: Rows read at a time while measuring a float input's mean (reflectance or DN?).
_SCAN_ROWS = 512


@dataclass
class BlockInputs:
    """Local inputs on one grid, read region by region."""

    paths: list[Path]
    headers: list[RasterHeader]
    scale: list[bool]

    @classmethod
    def open(cls, paths: list[Path], headers: list[RasterHeader], progress: Progress = null_progress
             ) -> "BlockInputs":
        check_same_grid(headers)
        scale = []
        for path, h in zip(paths, headers):
            scale.append(np.issubdtype(np.dtype(h.dtype), np.floating) and _looks_like_reflectance(path, progress))
        return cls(paths, headers, scale)

    @property
    def shape(self) -> tuple[int, int]:
        return self.headers[0].height, self.headers[0].width

    @property
    def num_frames(self) -> int:
        return sum(h.count for h in self.headers) // 6

    def read(self, y0: int, y1: int, x0: int, x1: int) -> tuple[np.ndarray, np.ndarray]:
        datas, valids = [], []
        window = Window(x0, y0, x1 - x0, y1 - y0)
        for path, scale in zip(self.paths, self.scale):
            try:
                with rasterio.open(path) as src:
                    raw, nodata = src.read(window=window), src.nodata
            except RasterioError as err:
                raise InputError(f"Cannot read {path.name} as a GeoTIFF ({err}).") from None
            data, valid = decode_valid(raw, nodata)
            datas.append(to_dn(data, valid, scale))
            valids.append(valid)
        return np.concatenate(datas), np.concatenate(valids)


def _looks_like_reflectance(path: Path, progress: Progress) -> bool:
    """The mean over valid samples, streamed in row bands: floats at or below REFLECTANCE_MEAN_MAX are
    reflectance (as the whole-image reader decides)."""
    total, n = 0.0, 0
    with rasterio.open(path) as src:
        for y in range(0, src.height, _SCAN_ROWS):
            rows = min(_SCAN_ROWS, src.height - y)
            data, valid = decode_valid(src.read(window=Window(0, y, src.width, rows)), src.nodata)
            chosen = data[np.broadcast_to(valid[:, None], data.shape)]
            total += float(chosen.sum(dtype=np.float64))
            n += chosen.size
    if n and total / n <= REFLECTANCE_MEAN_MAX:
        progress("read", reflectance_note(path.name, total / n), None)
        return True
    return False


def _stage_profile(h: RasterHeader, count: int, dtype: str, nodata: float) -> dict:
    return dict(driver="GTiff", width=h.width, height=h.height, count=count, dtype=dtype, crs=h.crs,
                transform=h.transform, nodata=nodata, tiled=True, blockxsize=512, blockysize=512,
                compress="DEFLATE", BIGTIFF="IF_SAFER")


def _finish_cog(stage: Path, tmp: Path) -> None:
    try:
        with rasterio.Env(CPL_LOG=os.devnull):
            rasterio.shutil.copy(stage, tmp, driver="COG", **COG_OPTIONS)
    except (RasterioError, SystemError):
        raise OutputError(f"Writing {tmp.name} failed: the file could not be written completely (is the disk "
                          "full?).") from None


def _same_blocks(a: Path, b: Path) -> None:
    """Compare two rasters block by block (bounded memory)."""
    try:
        with rasterio.open(a) as x, rasterio.open(b) as y:
            ok = (x.count, x.height, x.width) == (y.count, y.height, y.width)
            for _, window in (x.block_windows(1) if ok else []):
                u, v = x.read(window=window), y.read(window=window)
                if not np.array_equal(u, v, equal_nan=u.dtype.kind == "f"):
                    ok = False
                    break
    except RasterioError:
        ok = False
    if not ok:
        raise OutputError(f"Writing {b.name} failed: the file on disk is incomplete (is the disk full?).")


def segment_large_inputs(task: str, paths: list[Path], headers: list[RasterHeader], out: Path, *,
                         probabilities: Path | None = None, weights_dir: Path | None = None,
                         device: object = "cpu", batch_size: int | None = None,
                         progress: Progress = null_progress, block: int | None = None) -> tuple[str, float]:
    """Class map (and probabilities) of large inputs written block by block; returns (summary, model seconds)."""

    import torch  # lazy: torch

    from geofm.inference.blockwise import segment_blocks  # lazy: torch
    from geofm.inference import model_cache  # lazy: torch
    from geofm.inference.device import default_batch_size  # lazy: torch

    spec = get_task(task)
    model_spec = get_model_spec(spec.model)
    inputs = BlockInputs.open(paths, headers, progress)
    spec.check_dates(inputs.num_frames, model_spec)
    dev = torch.device(str(device))
    progress("infer", f"loading {model_spec.title}", None)
    model, model_spec = model_cache.get_model(model_spec.name, weights_dir=weights_dir, device=dev)
    sha = model_cache.checkpoint_sha256(model_spec, weights_dir)
    h, w = inputs.shape
    header = headers[0]
    k = len(model_spec.classes)
    counts = np.zeros(256, np.int64)
    started = time.perf_counter()
    tags = {"MODEL": model_spec.name, **({"CHECKPOINT_SHA256": sha} if sha else {})}
    with atomic_output(out) as tmp_out:
        stage = tmp_out.with_name("stage-classes.tif")
        prob_stage = tmp_out.with_name("stage-probabilities.tif")
        cmap = {i: (*c.color, 255) for i, c in enumerate(model_spec.classes)}
        cmap[CLASS_NODATA] = (0, 0, 0, 0)
        with rasterio.open(stage, "w", **_stage_profile(header, 1, "uint8", CLASS_NODATA)) as dst, \
                (rasterio.open(prob_stage, "w", **_stage_profile(header, k, "float32", float("nan")))
                 if probabilities is not None else _Null()) as pdst:
            dst.write_colormap(1, cmap)
            dst.set_band_description(1, "class")
            dst.update_tags(**tags, **{f"CLASS_{i}": c.name for i, c in enumerate(model_spec.classes)})

            def take(y: int, x: int, classes: np.ndarray, probs: np.ndarray | None) -> None:
                window = Window(x, y, classes.shape[1], classes.shape[0])
                dst.write(classes[None], window=window)
                counts[:] += np.bincount(classes.ravel(), minlength=256)
                if probs is not None and pdst is not None:
                    pdst.write(np.where(classes[None] == CLASS_NODATA, np.nan, probs).astype(np.float32),
                               window=window)

            if pdst is not None:
                for i, c in enumerate(model_spec.classes, start=1):
                    pdst.set_band_description(i, c.name)
                pdst.update_tags(**tags)
            segment_blocks(model, model_spec, inputs.read, h, w, take, block=block or INPUT_LIMITS.block_px,
                           device=dev, batch_size=batch_size or default_batch_size(dev, model_spec),
                           probabilities=probabilities is not None, progress=progress)
        seconds = time.perf_counter() - started
        _finish_cog(stage, tmp_out)
        _same_blocks(stage, tmp_out)
        if probabilities is not None:
            with atomic_output(probabilities) as tmp_probs:
                _finish_cog(prob_stage, tmp_probs)
                _same_blocks(prob_stage, tmp_probs)
    return _summary(model_spec, counts, header), seconds


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _summary(model_spec, counts: np.ndarray, header: RasterHeader) -> str:  # noqa: ANN001
    """As the whole-image summary: share of the classified area per class, km2, then the no-data share."""
    px, py = header.pixel_size_m()
    px_m2 = px * py
    all_px = int(counts.sum())
    classified = all_px - int(counts[CLASS_NODATA])
    parts = [(int(counts[i]), c.name) for i, c in enumerate(model_spec.classes)]
    shown = [f"{name} {100 * n / max(classified, 1):.1f}% ({n * px_m2 / 1e6:.2f} km2)"
             for n, name in sorted(parts, key=lambda p: -p[0]) if n > 0][:6]
    nodata = 100 * int(counts[CLASS_NODATA]) / max(all_px, 1)
    return ", ".join(shown) + (f"; no data {nodata:.1f}%" if nodata else "")
