"""Flood page: runs the task over the area chosen on the explore page."""

from geofm.serve.task_page import task_page

task_page("flood")
