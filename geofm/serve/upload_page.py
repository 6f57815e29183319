"""The "your own file" page: upload HLS GeoTIFFs and run any task with the same views."""

from __future__ import annotations

import streamlit as st

from geofm.serve import ui, uploads, views
from geofm.serve.runs import TASK_TITLES, RunRequest, run_files
from geofm.serve.task_page import execute, reconstruction_controls

PAGE = "upload"
FILE_HELP = {
    "flood": "one 6-band GeoTIFF",
    "crops": "three 6-band GeoTIFFs (one per date, in time order) or one 18-band GeoTIFF",
    "reconstruct": "one to three 6-band GeoTIFFs (one per date)",
}


def upload_page() -> None:
    st.title("Your own file")
    st.markdown("Upload HLS GeoTIFFs in **HLS DN** (reflectance × 10 000, nodata −9999) with the six bands in "
                "model order: Blue, Green, Red, NIR narrow, SWIR 1, SWIR 2 — as the public Prithvi demos take.")
    task = st.radio("Task", list(TASK_TITLES), format_func=TASK_TITLES.get, horizontal=True, key="up-task")
    files = st.file_uploader(f"GeoTIFF(s): {FILE_HELP[task]}", type=["tif", "tiff"], accept_multiple_files=True,
                             key="up-files")
    ui.show_weights_notice(task)
    mask_ratio, seed, model = reconstruction_controls(PAGE) if task == "reconstruct" else (0.75, 0, "")
    if st.button(f"Run {TASK_TITLES[task].lower()}", type="primary", icon=":material/play_arrow:",
                 disabled=not files, key="up-run"):
        contents = [(f.name, f.getvalue()) for f in files]
        request = RunRequest.for_upload(task, contents, mask_ratio=mask_ratio, seed=seed, model=model)

        def work(panel):
            uploads.check_files(contents, task)
            paths = uploads.save_files(contents, request.upload_digest)
            uploads.check_raster_files(paths)
            return run_files(request, paths, progress=panel, visitor=ui.visitor())

        execute(PAGE, request, work)
    ui.show_last_error(PAGE)
    outcome = ui.outcomes().get(PAGE)
    if outcome is not None:
        views.show_outcome(outcome, key=PAGE)
