"""A task through time: one single-date class-map task (flood, burn scars) over every clear date of a range.

>>> from geofm.series import run_series
>>> series = run_series("flood", aoi, "2022-08-20", "2022-10-31", "out/")   # SeriesResult
"""

from geofm.series.dates import SeriesDate, check_series_area, check_series_range, check_series_task, find_dates
from geofm.series.products import SeriesRow, series_rows
from geofm.series.run import SeriesResult, run_series

__all__ = ["SeriesDate", "SeriesResult", "SeriesRow", "check_series_area", "check_series_range",
           "check_series_task", "find_dates", "run_series", "series_rows"]
