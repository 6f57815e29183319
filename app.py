"""geofm web app (placeholder until the map app lands)."""

import streamlit as st

st.set_page_config(page_title="geofm", layout="wide")
st.title("geofm")
st.write("See what a geospatial foundation model sees. The map app is under construction.")
