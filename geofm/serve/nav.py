"""The app's pages (one place, so links between pages and the router agree)."""

from __future__ import annotations

import streamlit as st

from geofm.config import TASKS


EXPLORE_PAGE = "app_pages/0_Explore.py"


def explore() -> "st.Page":
    return st.Page(EXPLORE_PAGE, title="Explore", icon=":material/map:", default=True)


def all_pages() -> list:
    """Every page in menu order: Explore, one page per task of the registry, then Your own file."""
    return [
        explore(),
        *(st.Page(task.page, title=task.menu_title, icon=task.icon) for task in TASKS.values()),
        st.Page("app_pages/4_Your_file.py", title="Your own file", icon=":material/upload_file:"),
    ]
