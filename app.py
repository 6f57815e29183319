"""geofm web app: explore a map, pick an area and a task, see what Prithvi sees."""

import streamlit as st

from geofm.serve.nav import all_pages
from geofm.serve.ui import page_style, settings_ok, warming_up_banner

st.set_page_config(page_title="geofm — see what a geospatial foundation model sees", page_icon="🛰️",
                   layout="wide")
page_style()
if not settings_ok():
    st.stop()
warming_up_banner()  # models load in the background; the page is usable at once
st.navigation(all_pages()).run()
