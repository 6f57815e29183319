"""geofm web app: explore a map, pick an area and a task, see what Prithvi sees.

``streamlit run app.py`` serves this file as an ``st.App`` (Streamlit's ASGI mode): the server's start hook
begins importing the map library and loading the models while the browser is still fetching the page, so
the first visitor does not wait for them. Each session then runs this same file as the page script.
"""

import streamlit as st

if __name__ != "__main__":  # imported by the server (``streamlit run`` finds ``app`` below): the start hook
    from geofm.serve.startup import lifespan

    app = st.App(__file__, lifespan=lifespan)
else:  # a session's script run
    from geofm.render.maps import preload
    from geofm.serve.nav import all_pages, explore
    from geofm.serve.share import read_link, show_link_notice
    from geofm.serve.ui import forget_presses_elsewhere, page_style, settings_ok, warming_up_banner

    preload()  # no-op when the server's start hook has begun it
    st.set_page_config(page_title="geofm — see what a geospatial foundation model sees", page_icon="🛰️",
                       layout="wide")
    page_style()
    if not settings_ok():
        st.stop()
    warming_up_banner()  # models load in the background; the page is usable at once
    linked_task = read_link()
    page = st.navigation(all_pages())
    forget_presses_elsewhere(page.url_path)  # a press on a page the visitor left is not run later
    if linked_task and page.url_path == explore().url_path:  # a link with task=… opens that task's page
        from geofm.config import TASKS

        st.switch_page(TASKS[linked_task].page)
    show_link_notice()  # on the page the link opened
    page.run()
