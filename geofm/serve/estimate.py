"""How long a run takes here: before Run, model windows / measured windows per second + reading; during the
run, the time left.

The rates are measured per device from the app's own runs (the model stage's seconds over its windows, the
search and read stages' seconds) and kept in ``GEOFM_CACHE_DIR/run-rates.json`` (written atomically), so a
restart keeps them. Until a device has run a task, ``geofm.config.RUN_ESTIMATE``'s first guesses are used and
the estimate says so.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from geofm.config import HLS_RESOLUTION_M, RUN_ESTIMATE, get_model_spec
from geofm.settings import settings

log = logging.getLogger(__name__)
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def device_name() -> str:
    """The device the app's runs use: ``CPU`` or ``CUDA (<gpu name>)``."""
    from geofm.inference.device import device_label, resolve_device  # lazy: torch

    return device_label(resolve_device("auto"))


def model_windows(task: str, height: int, width: int) -> int:
    """Model windows (forward passes of one window) over a grid of ``height`` x ``width`` pixels."""
    from geofm.inference.sliding import window_origins  # lazy: torch

    spec = get_model_spec(task)
    return len(window_origins(height, width, spec.window, spec.stride))


def _rates_path() -> Path:
    return settings().cache_dir / RUN_ESTIMATE.file_name


def _load() -> dict[str, Any]:
    try:
        data = json.loads(_rates_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save(data: dict[str, Any]) -> None:
    path = _rates_path()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError as err:
        log.warning("could not keep the measured run rates in %s: %s", path, err)
        tmp.unlink(missing_ok=True)


def _guess(task: str, device: str) -> float:
    if device.startswith("CUDA"):
        return RUN_ESTIMATE.gpu_windows_per_s
    return dict(RUN_ESTIMATE.cpu_windows_per_s).get(task, 0.25)


@dataclass(frozen=True)
class Estimate:
    """A run's expected duration on this machine."""

    task: str
    windows: int
    windows_per_s: float
    read_s: float
    device: str
    measured: bool  # the rate was measured on this device (else the first guess)

    @property
    def seconds(self) -> float:
        return self.windows / self.windows_per_s + self.read_s

    @property
    def long(self) -> bool:
        return self.seconds > RUN_ESTIMATE.long_s

    def text(self) -> str:
        """'About 9 s on this machine's CPU: 1 model window at 0.31 windows/s (measured here) + about 5 s to read.'"""
        where = "this machine's CPU" if self.device == "CPU" else f"this machine's GPU ({self.device[6:-1]})"
        how = "measured here" if self.measured else "first guess until a run here measures it"
        s = "" if self.windows == 1 else "s"
        return (f"About {duration(self.seconds)} on {where}: {self.windows} model window{s} at "
                f"{self.windows_per_s:.2g} windows/s ({how}) + about {duration(self.read_s)} to find and read "
                "the images.")


def duration(seconds: float) -> str:
    """'8 s', '50 s', '2 min', '1 h 5 min'."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{max(1, math.ceil(seconds))} s"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def estimate_run(task: str, height: int, width: int) -> Estimate:
    """The estimate for ``task`` over a grid of ``height`` x ``width`` pixels on this machine."""
    device = device_name()
    with _LOCK:
        known = _load().get(device, {}).get(task, {})
    rate = float(known.get("windows_per_s") or 0) or _guess(task, device)
    read_s = float(known.get("read_s") or 0) or RUN_ESTIMATE.read_s
    return Estimate(task, model_windows(task, height, width), rate, read_s, device,
                    measured=bool(known.get("windows_per_s")))


def estimate_area(task: str, aoi) -> Estimate:
    """The estimate for ``task`` over the area (on the 30 m grid the run reads)."""
    from geofm.data.grid import Grid  # lazy: rasterio

    grid = Grid.for_aoi(aoi, HLS_RESOLUTION_M)
    return estimate_run(task, grid.height, grid.width)


def learn(task: str, height: int, width: int, seconds: dict[str, float]) -> None:
    """Fold a finished run's stage times into this device's rates (``seconds``: stage -> seconds)."""
    infer = seconds.get("infer", 0.0)
    if infer <= 0:
        return
    device = device_name()
    rate = model_windows(task, height, width) / infer
    read = seconds.get("search", 0.0) + seconds.get("read", 0.0)
    w = RUN_ESTIMATE.ewma
    with _LOCK:
        data = _load()
        entry = data.setdefault(device, {}).setdefault(task, {})
        old_rate, old_read = entry.get("windows_per_s"), entry.get("read_s")
        entry["windows_per_s"] = rate if not old_rate else (1 - w) * float(old_rate) + w * rate
        if read > 0:
            entry["read_s"] = read if not old_read else (1 - w) * float(old_read) + w * read
        entry["runs"] = int(entry.get("runs", 0)) + 1
        _save(data)


def remaining_s(estimate: Estimate | None, elapsed_s: float, stage: str | None, fraction: float | None,
                stage_elapsed_s: float) -> float | None:
    """Seconds left: from the model's own pace once it has done some windows, else the estimate less the time
    spent; None without an estimate."""
    if stage == "infer" and fraction and fraction > 0.02 and stage_elapsed_s > 0:
        return stage_elapsed_s * (1 - fraction) / fraction
    if estimate is None:
        return None
    if stage == "infer" and fraction is not None:  # counting has begun: the expected pace less the time spent
        return max(estimate.windows * (1 - fraction) / estimate.windows_per_s - stage_elapsed_s, 1.0)
    return max(estimate.seconds - elapsed_s, 1.0)
