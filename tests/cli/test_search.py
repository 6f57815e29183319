"""`geofm search` end to end against the stand-in (real HTTP), in a subprocess and in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from geofm.cli import main
from tests.standin import StandIn

BOX = ["-95.80", "41.30", "-95.70", "41.36"]


def test_search_json_in_a_subprocess(stac_standin: StandIn, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "geofm", "search", "--bbox", *BOX, "--start", "2022-03-01",
                           "--end", "2022-04-30", "--max-cloud", "100", "--json", "--stac-url", stac_standin.url],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["id"] for r in rows] == ["HLS.L30.T15TTG.2022097T171500.v2.0", "HLS.S30.T15TTG.2022081T171900.v2.0",
                                       "HLS.L30.T15TTG.2022073T171500.v2.0"]
    assert rows[1]["sensor"] == "S30" and rows[1]["tile"] == "15TTG" and rows[1]["cloud_cover"] == 0.0
    assert rows[1]["datetime"] == "2022-03-22T17:19:00+00:00"
    assert rows[1]["assets"]["B05"].split("?")[0].endswith(".B8A.tif")
    assert rows[1]["thumbnail"].split("?")[0].endswith(".jpg")
    # the hrefs are signed inside geofm, but no SAS token is printed (secrets, and they expire)
    assert "sig=" not in proc.stdout and "?" not in rows[1]["assets"]["B02"] and "?" not in rows[1]["thumbnail"]


def test_search_table_and_polygon(standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["search", "--bbox", *BOX, "--start", "2022-03-01", "--end", "2022-04-30"]) == 0  # GEOFM_STAC_URL
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["ID", "DATE", "(UTC)", "SENSOR", "TILE", "CLOUD", "%"]
    assert out[1].split() == ["HLS.L30.T15TTG.2022097T171500.v2.0", "2022-04-07", "17:15", "L30", "15TTG", "23.0"]
    assert out[2].split() == ["HLS.S30.T15TTG.2022081T171900.v2.0", "2022-03-22", "17:19", "S30", "15TTG", "0.0"]
    assert out[-1] == "2 scenes"
    poly = tmp_path / "area.geojson"
    poly.write_text(json.dumps({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
        [[-95.8, 41.3], [-95.7, 41.3], [-95.75, 41.36], [-95.8, 41.3]]]}}))
    assert main(["search", "--geojson", str(poly), "--start", "2022-03-01", "--end", "2022-04-30", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_search_errors_are_one_line(standin: StandIn, capsys: pytest.CaptureFixture) -> None:
    assert main(["search", "--bbox", *BOX, "--start", "2021-01-01", "--end", "2021-01-31"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("geofm: error: No HLS scenes over the area") and "wider date range" in err
    assert "\n" not in err
    assert main(["search", "--bbox", "-97", "41", "-96", "41.5", "--start", "2022-03-01", "--end", "2022-04-30"]) == 2
    assert "largest allowed is 50 x 50 km" in capsys.readouterr().err
