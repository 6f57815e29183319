"""geofm web app: explore a map, pick an area and a task, see what Prithvi sees."""

import streamlit as st

from geofm.render.maps import preload
from geofm.serve.nav import all_pages
from geofm.serve.share import read_link
from geofm.serve.ui import page_style

preload()  # leafmap's import runs in the background while the page starts
st.set_page_config(page_title="geofm — see what a geospatial foundation model sees", page_icon="🛰️",
                   layout="wide")
page_style()
read_link()
st.navigation(all_pages()).run()
