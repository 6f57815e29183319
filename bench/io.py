"""I/O benchmark: geofm's windowed COG reader vs a naive reader (download whole files, then crop), and a
repeat view from the disk cache, on a 10 x 10 km area across the stand-in's two tiles (UTM 14N / 15N).

    python bench/io.py [--latency-ms 50] [--bandwidth-mbit 0] [--odc]

The stand-in adds ``--latency-ms`` to every request (and optionally limits each connection's bandwidth).
Prints bytes and wall time per reader and the ratios; "blocks" is the compressed size of the COG blocks
(at full resolution) that the area touches in each file, read from the TIFF block tables.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import requests
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from shapely.geometry import box

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geofm.config import HLS_FMASK_ASSET, MODEL_BANDS  # noqa: E402
from geofm.data import AOI, Grid, get_scenes, read_aoi  # noqa: E402
from geofm.data.signing import strip_query  # noqa: E402
from tests.standin.generate import generate  # noqa: E402
from tests.standin.layout import DATES, TILES, item_id  # noqa: E402

AREA = (-96.06, 41.30, -95.94, 41.39)  # ~10 x 10 km straddling lon -96 (both tiles)
DATE_INDEX = 5  # 2022-07-08, S30, clear on both tiles


def area_block_bytes(path: Path, grid: Grid) -> int:
    """Compressed bytes of the full-resolution blocks of ``path`` that the grid's footprint touches."""
    with rasterio.open(path) as src:
        tr = Transformer.from_crs(grid.crs.to_wkt(), src.crs.to_wkt(), always_xy=True)
        x0, y0 = grid.transform.c, grid.transform.f + grid.transform.e * grid.height
        x1, y1 = grid.transform.c + grid.transform.a * grid.width, grid.transform.f
        poly = box(x0, y0, x1, y1).segmentize(100.0)
        xs, ys = tr.transform(*np.asarray(poly.exterior.coords).T)
        inv = ~src.transform
        cols, rows = inv * (np.asarray(xs), np.asarray(ys))
        bw, bh = src.block_shapes[0][1], src.block_shapes[0][0]
        c0, c1 = max(0, int(np.floor(cols.min())) // bw), min(src.width - 1, int(np.floor(cols.max()))) // bw
        r0, r1 = max(0, int(np.floor(rows.min())) // bh), min(src.height - 1, int(np.floor(rows.max()))) // bh
        total = 0
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                total += int(src.get_tag_item(f"BLOCK_SIZE_{c}_{r}", "TIFF", bidx=1) or 0)
        return total


def naive_read(hrefs: list[str], grid: Grid, workdir: Path) -> None:
    """What a simple script does: download each whole file, then crop/warp it locally."""
    for href in hrefs:
        local = workdir / strip_query(href).rsplit("/", 1)[-1]
        with requests.get(href, timeout=60) as r:
            r.raise_for_status()
            local.write_bytes(r.content)
        with rasterio.open(local) as src, WarpedVRT(src, crs=grid.crs, transform=grid.transform, width=grid.width,
                                                    height=grid.height, resampling=Resampling.nearest) as vrt:
            vrt.read(1)


def odc_read(standin: "RemoteStandIn", ids: list[str], grid: Grid) -> None:
    """odc-stac's load of the same bands onto the same grid (for comparison)."""
    import odc.stac
    from odc.geo.geobox import GeoBox
    from pystac_client import Client

    items = list(Client.open(standin.url).search(ids=ids, collections=["hls2-s30"]).items())
    gbox = GeoBox((grid.height, grid.width), grid.transform, grid.crs.to_wkt())
    odc.stac.configure_rio(cloud_defaults=True, GDAL_HTTP_MAX_RETRY=3)
    odc.stac.load(items, bands=["B02", "B03", "B04", "B8A", "B11", "B12", "Fmask"], geobox=gbox,
                  groupby="solar_day", resampling="nearest", pool=16).load()


class RemoteStandIn:
    """The stand-in in its own process (so its Python threads do not compete with the reader's)."""

    def __init__(self, folder: Path, latency_s: float, bandwidth_mbit: float) -> None:
        root = Path(__file__).resolve().parents[1]
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.standin", "--port", "0", "--dir", str(folder),
                                      "--latency", str(latency_s), "--bandwidth-mbit", str(bandwidth_mbit)],
                                     cwd=root, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        self.folder = folder

    def stats(self) -> dict:
        return requests.get(self.url + "/_stats", timeout=10).json()

    def reset(self) -> None:
        """Zero the counters and move asset hrefs to a new path (nothing cached by GDAL)."""
        requests.get(self.url + "/_reset", timeout=10)

    def file_size(self, name: str) -> int:
        return (self.folder / "files" / name).stat().st_size

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--bandwidth-mbit", type=float, default=0.0, help="per connection; 0 = unlimited")
    p.add_argument("--odc", action="store_true", help="also time odc-stac's load")
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "geofm-standin")
    args = p.parse_args(argv)

    os.environ["GEOFM_CACHE_DIR"] = tempfile.mkdtemp(prefix="geofm-bench-cache-")
    generate(args.dir)
    standin = RemoteStandIn(args.dir, args.latency_ms / 1000, args.bandwidth_mbit)
    # the stand-in is Planetary-Computer-like: its hrefs are signed with tokens from its own token API
    os.environ["PC_SDK_SAS_URL"] = f"{standin.url}/api/sas/v1/token"
    from planetary_computer.settings import Settings

    Settings.get().sas_url = os.environ["PC_SDK_SAS_URL"]
    try:
        aoi = AOI.from_bbox(*AREA)
        grid = Grid.for_aoi(aoi)
        ids = [item_id(DATES[DATE_INDEX], t) for t in TILES]

        def scenes_fresh() -> list:
            standin.reset()
            return get_scenes(ids, stac_url=standin.url)

        scenes = scenes_fresh()
        hrefs = [s.assets[b] for s in scenes for b in (*MODEL_BANDS, HLS_FMASK_ASSET)]
        names = [strip_query(h).rsplit("/", 1)[-1] for h in hrefs]
        files_bytes = sum(standin.file_size(n) for n in names)
        blocks = sum(area_block_bytes(standin.folder / "files" / n, grid) for n in names)
        print(f"area {aoi.size_km[0]:.1f} x {aoi.size_km[1]:.1f} km -> grid {grid.width} x {grid.height} px "
              f"({grid.crs.to_string()}); {len(hrefs)} COGs, {files_bytes / 1e6:.1f} MB in all; blocks under the "
              f"area {blocks / 1e6:.2f} MB")
        print(f"stand-in (own process): +{args.latency_ms:g} ms per request"
              + (f", {args.bandwidth_mbit:g} Mbit/s per connection" if args.bandwidth_mbit else ""))

        def measure(fn) -> tuple[float, int, int]:
            before = standin.stats()
            t0 = time.perf_counter()
            fn()
            sec = time.perf_counter() - t0
            after = standin.stats()
            return sec, after["file_bytes"] - before["file_bytes"], after["file_requests"] - before["file_requests"]

        results = {}
        scenes = scenes_fresh()
        stack_box: list = []
        # First read in this process: the reader threads pay GDAL/PROJ per-thread set-up (a CLI run's cost).
        results["geofm-cold"] = measure(lambda: read_aoi([scenes], aoi, use_cache=False))
        # Steady state of a running app: reader threads already warm, nothing cached (fresh asset URLs).
        scenes = scenes_fresh()
        results["geofm"] = measure(lambda: stack_box.append(read_aoi([scenes], aoi, use_cache=True)))
        cached = measure(lambda: stack_box.append(read_aoi([scenes], aoi, use_cache=True)))
        assert np.array_equal(stack_box[0].data, stack_box[1].data)
        scenes = scenes_fresh()
        hrefs = [s.assets[b] for s in scenes for b in (*MODEL_BANDS, HLS_FMASK_ASSET)]
        with tempfile.TemporaryDirectory() as tmp:
            results["naive"] = measure(lambda: naive_read(hrefs, grid, Path(tmp)))
        if args.odc:
            standin.reset()
            results["odc-stac"] = measure(lambda: odc_read(standin, ids, grid))

        print(f"{'reader':<10} {'wall s':>8} {'MB':>8} {'requests':>9}")
        for name, (sec, nbytes, nreq) in results.items():
            print(f"{name:<10} {sec:8.2f} {nbytes / 1e6:8.3f} {nreq:9d}")
        print(f"{'cached':<10} {cached[0]:8.3f} {cached[1] / 1e6:8.3f} {cached[2]:9d}")
        g, n = results["geofm"], results["naive"]
        print(f"bytes: geofm / area blocks = {g[1] / blocks:.2f} (target <= 2)")
        print(f"bytes: naive / geofm = {n[1] / g[1]:.1f}x (target >= 10)")
        print(f"time:  naive / geofm = {n[0] / g[0]:.1f}x (target >= 3; warm reader threads)")
        print(f"time:  naive / geofm-cold = {n[0] / results['geofm-cold'][0]:.1f}x (first read of a process)")
        print(f"cached repeat view: {cached[0] * 1000:.0f} ms, {cached[1]} bytes (target < 1 s)")
        if "odc-stac" in results:
            o = results["odc-stac"]
            print(f"odc-stac / geofm: bytes {o[1] / g[1]:.2f}x, time {o[0] / g[0]:.2f}x")
    finally:
        standin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
