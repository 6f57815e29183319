"""The app's pages (one place, so links between pages and the router agree)."""

from __future__ import annotations

import streamlit as st


def explore() -> "st.Page":
    from geofm.serve.explore import explore_page

    return st.Page(explore_page, title="Explore", icon=":material/map:", default=True)


def all_pages() -> list:
    """Every page in menu order."""
    return [
        explore(),
        st.Page("pages/2_Flood.py", title="Flood", icon=":material/water:"),
        st.Page("pages/3_Crops.py", title="Crops", icon=":material/agriculture:"),
        st.Page("pages/1_Reconstruction.py", title="Reconstruction", icon=":material/auto_fix_high:"),
        st.Page("pages/4_Your_file.py", title="Your own file", icon=":material/upload_file:"),
    ]
