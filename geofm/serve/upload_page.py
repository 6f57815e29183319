"""The "your own file" page: upload HLS GeoTIFFs and run any task with the same views."""

from __future__ import annotations

import streamlit as st

from geofm.config import TASKS
from geofm.serve import ui, uploads, views
from geofm.serve.runs import RunRequest, run_files
from geofm.serve.task_page import execute, task_controls

PAGE = "upload"


def upload_page() -> None:
    st.title("Your own file")
    st.markdown("Upload HLS GeoTIFFs in **HLS DN** (reflectance × 10 000, nodata −9999) with the six bands in "
                "model order: Blue, Green, Red, NIR narrow, SWIR 1, SWIR 2 — as the public Prithvi demos take.")
    task = st.radio("Task", list(TASKS), format_func=lambda name: TASKS[name].title, horizontal=True,
                    key="up-task")
    spec = TASKS[task]
    files = st.file_uploader(f"GeoTIFF(s): {spec.upload_help}", type=["tif", "tiff"], accept_multiple_files=True,
                             key="up-files")
    ui.show_weights_notice(task)
    mask_ratio, seed, model = task_controls(spec, PAGE)
    if st.button(f"Run {spec.title.lower()}", type="primary", icon=":material/play_arrow:",
                 disabled=not files, key="up-run"):
        contents = [(f.name, f.getvalue()) for f in files]
        request = RunRequest.for_upload(task, contents, mask_ratio=mask_ratio, seed=seed, model=model)

        def work(panel):
            uploads.check_files(contents, task)
            with uploads.saved_files(contents) as paths:  # a private folder, removed after the run
                uploads.check_raster_files(paths)
                return run_files(request, paths, progress=panel, visitor=ui.visitor())

        execute(PAGE, request, work)
    ui.show_last_error(PAGE)
    outcome = ui.outcomes().get(PAGE)
    if outcome is not None:
        views.show_outcome(outcome, key=PAGE)
