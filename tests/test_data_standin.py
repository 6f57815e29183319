"""The stand-in itself: startable outside pytest, serves Range requests and thumbnails like a COG host."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from tests.standin import StandIn
from tests.standin.layout import DATES, TILE_PX, TILES, decode, item_id

ROOT = Path(__file__).resolve().parents[1]


def test_python_m_tests_standin_prints_its_url(stac_standin: StandIn) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.standin", "--port", "0", "--dir", str(stac_standin.folder)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        landing = requests.get(url + "/", timeout=10).json()
        assert any(link["rel"] == "search" and link.get("method") == "POST" for link in landing["links"])
        cols = requests.get(url + "/collections", timeout=10).json()["collections"]
        assert [c["id"] for c in cols] == ["hls2-l30", "hls2-s30"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cogs_ranges_and_thumbnail(standin: StandIn) -> None:
    iid = item_id(DATES[1], TILES[1])
    href = f"{standin.url}/files/{iid}.B8A.tif"
    head = requests.head(href, timeout=10)
    size = int(head.headers["Content-Length"])
    part = requests.get(href, headers={"Range": "bytes=0-99"}, timeout=10)
    assert part.status_code == 206 and len(part.content) == 100 and part.content[:4] in (b"II*\x00", b"II+\x00")
    assert part.headers["Content-Range"] == f"bytes 0-99/{size}"
    multi = requests.get(href, headers={"Range": "bytes=0-9,20-29"}, timeout=10)
    assert multi.status_code == 206 and multi.headers["Content-Type"].startswith("multipart/byteranges")
    assert standin.stats.file_bytes >= 100
    import rasterio

    with rasterio.open(standin.folder / "files" / f"{iid}.B8A.tif") as src:
        assert src.profile["blockxsize"] == 256 and src.overviews(1) == [2, 4, 8] and src.nodata == -9999
        assert src.shape == (TILE_PX, TILE_PX) and src.crs.to_epsg() == 32615
        v = src.read(1, window=((100, 101), (200, 201)))[0, 0]
    assert decode(v) == {"band": 3, "date": 1, "tile": 1, "pos": (200 // 16 + 100 // 16) % 25}
    thumb = requests.get(f"{standin.url}/files/{iid}.thumbnail.png", timeout=10)
    assert thumb.headers["Content-Type"] == "image/png"
    from io import BytesIO

    img = np.asarray(Image.open(BytesIO(thumb.content)))
    assert img.shape == (183, 183, 3)
