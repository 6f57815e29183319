"""Explore page: the map, place search, examples, dates, scenes and the task to run."""

from geofm.serve.explore import explore_page

explore_page()
