"""Scene choice and load_task_stack against the stand-in: clearest date, three dates in thirds, named ids."""

from __future__ import annotations

import threading
from datetime import date

import numpy as np
import pytest

from geofm.data import AOI, choose_scenes, get_scenes, load_task_stack, search_hls
from geofm.errors import AllCloudyError, InputError, NoScenesError
from tests.standin import StandIn

OMAHA_AOI = (-96.00, 41.215, -95.88, 41.305)  # the app's flood example: Missouri River at Omaha
FREMONT_AOI = (-96.56, 41.40, -96.44, 41.46)  # the app's crop example


def test_flood_takes_the_clearest_date(standin: StandIn) -> None:
    aoi = AOI.from_bbox(*OMAHA_AOI)
    scenes = search_hls(aoi, "2022-03-10", "2022-04-30", stac_url=standin.url)
    assert {s.date for s in scenes} == {date(2022, 3, 22), date(2022, 4, 7)}  # 03-14 is 73 % cloud: not found
    frames = choose_scenes(scenes, "flood", aoi)
    assert len(frames) == 1 and {s.date for s in frames[0]} == {date(2022, 3, 22)}
    assert [s.tile for s in frames[0]] == ["15TTG", "14TQL"]  # the tile covering more of the area first
    by_id = {s.id: s for s in scenes}
    cloudy = by_id["HLS.L30.T15TTG.2022097T171500.v2.0"]
    assert cloudy.clear_fraction is not None and cloudy.clear_fraction < 0.5  # the cloud sits on Omaha
    assert frames[0][0].clear_fraction > 0.9


def test_all_cloudy_is_a_clear_error(standin: StandIn) -> None:
    aoi = AOI.from_bbox(*OMAHA_AOI)
    scenes = search_hls(aoi, "2022-04-01", "2022-04-10", stac_url=standin.url)
    with pytest.raises(AllCloudyError) as e:
        choose_scenes(scenes, "flood", aoi)
    msg = e.value.user_message()
    assert "(2022-04-07, L30) is only" in msg and "% clear; at least 30% is needed" in msg
    assert "wider date range" in msg


def test_crops_take_three_dates_one_per_third(standin: StandIn) -> None:
    aoi = AOI.from_bbox(*FREMONT_AOI)
    scenes = search_hls(aoi, "2022-05-01", "2022-09-30", stac_url=standin.url)
    frames = choose_scenes(scenes, "crops", aoi, start=date(2022, 5, 1), end=date(2022, 9, 30))
    # thirds: 05-01..06-20, 06-21..08-10, 08-11..09-30. 06-13 has a cloud on Fremont; 07-08 and 08-01 are both
    # clear (ties go to the later date); 09-20 is too cloudy to be found.
    assert [f[0].date for f in frames] == [date(2022, 5, 12), date(2022, 8, 1), date(2022, 8, 27)]
    assert all(len(f) == 1 and f[0].tile == "14TQL" for f in frames)


def test_crops_without_a_date_in_a_third(standin: StandIn) -> None:
    aoi = AOI.from_bbox(*FREMONT_AOI)
    scenes = search_hls(aoi, "2022-05-01", "2022-07-31", stac_url=standin.url)
    with pytest.raises(NoScenesError, match=r"No scene in the late third of the window \(2022-08-11 to 2022-09-30\)"):
        choose_scenes(scenes, "crops", aoi, start=date(2022, 5, 1), end=date(2022, 9, 30))


def test_load_task_stack_flood(standin: StandIn) -> None:
    seen: list[tuple[str, str]] = []
    threads: set[str] = set()

    def progress(stage: str, msg: str, frac: float | None = None) -> None:
        seen.append((stage, msg))
        threads.add(threading.current_thread().name)

    stack, used = load_task_stack("flood", AOI.from_bbox(*OMAHA_AOI), "2022-03-10", "2022-04-30", progress=progress)
    assert threads == {threading.current_thread().name}  # callbacks only on the caller's thread (UI-safe)
    assert stack.num_frames == 1 and stack.data.shape[1] == 6 and stack.crs.to_epsg() == 32615
    assert [s.date for s in used] == [date(2022, 3, 22)] * 2
    assert stack.valid.mean() > 0.9
    assert {st for st, _ in seen} >= {"search", "read"}


def test_load_task_stack_crops_time_ordered(standin: StandIn) -> None:
    stack, used = load_task_stack("crops", AOI.from_bbox(*FREMONT_AOI), "2022-05-01", "2022-09-30")
    assert stack.num_frames == 3 and [t.date() for t in stack.times] == [date(2022, 5, 12), date(2022, 8, 1),
                                                                          date(2022, 8, 27)]
    date_codes = [int(np.median(stack.data[t, 0][stack.valid[t]]) % 1000 // 100) for t in range(3)]
    assert date_codes == [3, 6, 7]  # the pixels really come from those dates' files


def test_named_scene_ids_from_other_dates_and_tiles(standin: StandIn) -> None:
    aoi = AOI.from_bbox(-96.12, 41.30, -95.91, 41.36)
    ids = ["HLS.S30.T15TTG.2022239T171900.v2.0", "HLS.S30.T14TQL.2022239T171900.v2.0"]  # 2022-08-27, both tiles
    stack, used = load_task_stack("reconstruct", aoi, "2022-03-01", "2022-03-31", scene_ids=ids)
    assert stack.num_frames == 1 and {s.id for s in used} == set(ids)  # one date, mosaicked
    assert stack.times[0].date() == date(2022, 8, 27)
    three = ["HLS.S30.T14TQL.2022081T171900.v2.0", "HLS.S30.T14TQL.2022189T171900.v2.0",
             "HLS.S30.T14TQL.2022239T171900.v2.0"]
    crops, _ = load_task_stack("crops", AOI.from_bbox(*FREMONT_AOI), "2022-05-01", "2022-09-30",
                               scene_ids=list(reversed(three)))
    assert [t.date() for t in crops.times] == [date(2022, 3, 22), date(2022, 7, 8), date(2022, 8, 27)]
    with pytest.raises(InputError, match="The task crops takes 3 dates; the scene ids name 2"):
        load_task_stack("crops", AOI.from_bbox(*FREMONT_AOI), "2022-05-01", "2022-09-30", scene_ids=three[:2])
    with pytest.raises(InputError, match=r"Unknown scene id HLS\.L30\.T15TTG\.2022001T000000\.v2\.0"):
        load_task_stack("flood", aoi, "2022-05-01", "2022-09-30", scene_ids=["HLS.L30.T15TTG.2022001T000000.v2.0"])
    with pytest.raises(InputError, match=r"does not cover the area"):
        load_task_stack("flood", AOI.from_bbox(*FREMONT_AOI), "2022-05-01", "2022-09-30",
                        scene_ids=["HLS.S30.T15TTG.2022239T171900.v2.0"])
    with pytest.raises(InputError, match="Unknown task 'segment'"):
        choose_scenes(get_scenes(ids, stac_url=standin.url), "segment", aoi)
