"""The pipeline end to end on the stand-in: stage times (search, read, model) for square areas.

    python bench/e2e.py --device cuda                 # flood and crops, 10 x 10 km and 49.9 x 49.9 km
    python bench/e2e.py --device cpu --km 10 --tasks flood

Starts the tests' stand-in STAC API + COG host on 127.0.0.1 (synthetic HLS over Omaha/Fremont, 2022),
writes full-size checkpoints with the published layouts and random weights (``tests/checkpoints.py``;
reused from ``--weights-dir`` when present), then per task and area: ``load_task_stack`` (search + read)
and ``run_flood`` / ``run_crops`` with the precision ``auto`` picks, timed by the app's StageRecorder.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geofm import pipeline  # noqa: E402
from geofm.data import AOI, load_task_stack  # noqa: E402
from geofm.inference.device import device_label, resolve_device  # noqa: E402
from geofm.serve.progress import StageRecorder  # noqa: E402

CENTER = (-96.05, 41.43)  # inside the stand-in's two tiles
DATES = {"flood": ("2022-03-20", "2022-03-25"), "crops": ("2022-03-01", "2022-09-30")}


def square(km: float) -> AOI:
    lon, lat = CENTER
    dlat = km / 2 / 111.32
    dlon = km / 2 / (111.32 * math.cos(math.radians(lat)))
    return AOI.from_bbox(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--tasks", nargs="+", default=["flood", "crops"], choices=["flood", "crops"])
    p.add_argument("--km", nargs="+", type=float, default=[10.0, 49.9])
    p.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "geofm-e2e")
    args = p.parse_args(argv)
    from tests.checkpoints import write_published
    from tests.standin import StandIn

    device = resolve_device(args.device)
    weights = args.work_dir / "weights"
    if not (weights / "sen1floods11_Prithvi_100M.pth").exists():
        weights.mkdir(parents=True, exist_ok=True)
        write_published(weights)
    standin = StandIn.start(args.work_dir / "standin")
    # the stand-in is Planetary-Computer-like: its hrefs are signed with tokens from its own token API
    import os

    from planetary_computer.settings import Settings as PCSettings

    os.environ["PC_SDK_SAS_URL"] = f"{standin.url}/api/sas/v1/token"
    os.environ.setdefault("GEOFM_CACHE_DIR", str(args.work_dir / "cache"))
    PCSettings.get().sas_url = os.environ["PC_SDK_SAS_URL"]
    print(f"device: {device_label(device)}; stand-in {standin.url}")
    try:
        for task in args.tasks:
            pipeline.get_model(task, weights_dir=weights, device=device)  # load once, outside the timings
            for km in args.km:
                rec = StageRecorder()
                start = time.perf_counter()
                stack, _scenes = load_task_stack(task, square(km), *DATES[task], max_cloud=100,
                                                 stac_url=standin.url, progress=rec)
                run = pipeline.run_flood if task == "flood" else pipeline.run_crops
                result = run(stack, weights_dir=weights, device=device, precision=args.precision, progress=rec)
                times = rec.finish()
                h, w = stack.shape
                print(f"{task:6s} {km:5.1f} km ({w} x {h} px, {result.precision}): {times.summary()} · "
                      f"total {time.perf_counter() - start:.1f} s")
    finally:
        standin.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
