"""Run requests as cache keys, the results cache, stage timings, place search and upload checks."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from geofm.errors import InputError, ServiceError
from geofm.serve.geocode import geocode
from geofm.serve.progress import StageRecorder
from geofm.serve.runs import ResultCache, RunOutcome, RunRequest, canonical_json
from geofm.serve.uploads import check_files, check_raster_size

GEOM = {"type": "Polygon", "coordinates": [[[-95.93, 41.29], [-95.9, 41.29], [-95.9, 41.31], [-95.93, 41.29]]]}


def test_same_inputs_make_the_same_key_and_task_settings_only_count_where_they_matter(monkeypatch):
    monkeypatch.setenv("GEOFM_STAC_URL", "http://stac.example")
    a = RunRequest.for_area("flood", GEOM, "2022-03-10", "2022-04-30", max_cloud=30, mask_ratio=0.5, seed=7)
    jittered = json.loads(json.dumps(GEOM))
    jittered["coordinates"][0][0][0] += 1e-9  # below 1 cm
    b = RunRequest.for_area("flood", jittered, "2022-03-10", "2022-04-30", max_cloud=30.0)
    assert a == b and hash(a) == hash(b)  # flood ignores mask ratio and seed
    r1 = RunRequest.for_area("reconstruct", GEOM, "2022-03-10", "2022-04-30", max_cloud=30, mask_ratio=0.5)
    r2 = RunRequest.for_area("reconstruct", GEOM, "2022-03-10", "2022-04-30", max_cloud=30, mask_ratio=0.75)
    assert r1 != r2
    monkeypatch.setenv("GEOFM_STAC_URL", "http://other.example")
    assert RunRequest.for_area("flood", GEOM, "2022-03-10", "2022-04-30", max_cloud=30) != a
    assert a.geometry == json.loads(canonical_json(GEOM))


def test_upload_requests_key_on_content():
    one = RunRequest.for_upload("flood", [("a.tif", b"123")])
    assert one == RunRequest.for_upload("flood", [("a.tif", b"123")])
    assert one != RunRequest.for_upload("flood", [("a.tif", b"124")])


def test_results_cache_is_lru():
    cache = ResultCache(maxsize=2)
    outcomes = [RunOutcome(request=RunRequest(task="flood", start=str(i)), result=None, stack=None) for i in range(3)]
    cache.put(outcomes[0])
    cache.put(outcomes[1])
    assert cache.get(outcomes[0].request) is outcomes[0]  # 0 is now the most recent
    cache.put(outcomes[2])
    assert cache.get(outcomes[1].request) is None
    assert cache.get(outcomes[0].request) is outcomes[0] and len(cache) == 2


def test_stage_recorder_times_each_stage_and_forwards_reports():
    ticks = iter([0.0, 1.0, 1.5, 4.0, 4.5, 10.0])
    seen = []
    rec = StageRecorder(lambda *a: seen.append(a), clock=lambda: next(ticks))
    rec("search", "searching")  # 0.0
    rec("read", "1.0 MB", 0.5)  # 1.0
    rec("read", "2.0 MB", 1.0)  # 1.5
    rec("infer", "window 1 of 2 on CPU", 0.5)  # 4.0
    rec("infer", "window 2 of 2 on CPU", 1.0)  # 4.5
    times = rec.finish()  # 10.0
    assert times.seconds == {"search": 1.0, "read": 3.0, "infer": 6.0}
    assert times.messages["read"] == "2.0 MB" and len(seen) == 5
    assert times.summary() == "Searching scenes 1.0 s · Reading pixels 3.0 s · Running the model 6.0 s"


class _Nominatim(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps([] if "nowhere" in self.path else [
            {"display_name": "Omaha, Douglas County, Nebraska", "lat": "41.2587", "lon": "-95.9378",
             "boundingbox": ["41.19", "41.40", "-96.20", "-95.87"]}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_geocode_parses_nominatim_and_reports_offline():
    server = HTTPServer(("127.0.0.1", 0), _Nominatim)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/search"
    try:
        place = geocode("Omaha", url=url)
        assert place.name.startswith("Omaha") and place.bounds == (-96.20, 41.19, -95.87, 41.40)
        assert (place.lat, place.lon) == (41.2587, -95.9378)
        with pytest.raises(InputError, match="No place called 'nowhere'"):
            geocode("nowhere", url=url)
    finally:
        server.shutdown()
    with pytest.raises(ServiceError, match="Place search is unavailable") as err:
        geocode("Omaha", url="http://127.0.0.1:9/search", timeout_s=1)
    assert "internet" in err.value.user_message()


def test_upload_checks():
    with pytest.raises(InputError, match="No file uploaded"):
        check_files([], "flood")
    with pytest.raises(InputError, match="takes three 6-band GeoTIFFs .* got 2 files"):
        check_files([("a.tif", b"x"), ("b.tif", b"y")], "crops")
    with pytest.raises(InputError, match="Burn scar mapping takes one 6-band GeoTIFF; got 2 files"):
        check_files([("a.tif", b"x"), ("b.tif", b"y")], "burn-scars")
    check_files([("a.tif", b"x")], "crops")  # one 18-band file is fine
    with pytest.raises(InputError, match="a.tif is empty"):
        check_files([("a.tif", b"")], "flood")
    check_raster_size((1666, 1666))
    with pytest.raises(InputError, match=r"2000 × 100 pixels \(60 × 3 km at 30 m\); the app takes at most 1667"):
        check_raster_size((100, 2000))
