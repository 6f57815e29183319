"""The "your own file" page: upload HLS GeoTIFFs and run any task with the same views."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from geofm.config import TASKS
from geofm.errors import GeofmError
from geofm.serve import ui, uploads, views
from geofm.serve.runs import RunRequest, run_files
from geofm.serve.task_page import execute, task_controls

PAGE = "upload"


def with_user_names(err: GeofmError, paths: list[Path], names: list[str]) -> GeofmError:
    """``err`` with the saved files' paths and names replaced by the names the user uploaded."""
    def swap(text: str) -> str:
        for path, name in sorted(zip(paths, names), key=lambda pn: -len(str(pn[0]))):
            text = text.replace(str(path), name).replace(Path(path).name, name)
        return text

    err.args = (swap(str(err)), *err.args[1:])
    err.hint = swap(err.hint)
    return err


def date_field(task: str, model: str) -> str:
    """For a model that uses the acquisition date (EO-2.0 TL): a date field, for files whose name (HLS) or tags
    do not say it; "" when not needed or left empty (the run then asks for it)."""
    from geofm.config import get_model_spec
    from geofm.inference.coords import needs_coords

    if not model or not needs_coords(get_model_spec(model)):
        return ""
    when = st.date_input("Acquisition date (needed when the file name is not an HLS name and its tags hold no "
                         "date)", value=None, key="up-date", format="YYYY-MM-DD")
    return when.isoformat() if when else ""


def upload_page() -> None:
    st.title("Your own file")
    st.markdown("Upload HLS GeoTIFFs in **HLS DN** (reflectance × 10 000, nodata −9999) with the six bands in "
                "model order: Blue, Green, Red, NIR narrow, SWIR 1, SWIR 2 — as the public Prithvi demos take.")
    task = st.radio("Task", list(TASKS), format_func=lambda name: TASKS[name].title, horizontal=True,
                    key="up-task")
    spec = TASKS[task]
    files = st.file_uploader(f"GeoTIFF(s): {spec.upload_help}", type=["tif", "tiff"], accept_multiple_files=True,
                             key="up-files")
    missing = ui.weights_blocking(task)  # missing and cannot be fetched: Run is disabled
    ui.show_weights_notice(task)
    mask_ratio, seed, model = task_controls(spec, PAGE)
    date = date_field(spec.name, model)
    contents = [(f.name, f.getvalue()) for f in files or []]
    request = (RunRequest.for_upload(task, contents, mask_ratio=mask_ratio, seed=seed, model=model, date=date)
               if contents else None)
    if st.button(f"Run {spec.title.lower()}", type="primary", icon=":material/play_arrow:",
                 disabled=not files or bool(missing), key="up-run") and request is not None:
        run_request = request

        def work(panel):
            uploads.check_files(contents, task)
            with uploads.saved_files(contents) as paths:  # a private folder, removed after the run
                try:
                    uploads.check_raster_files(paths)
                    return run_files(run_request, paths, progress=panel, visitor=ui.visitor())
                except GeofmError as err:
                    raise with_user_names(err, paths, [name for name, _ in contents]) from None

        execute(PAGE, run_request, work)
    ui.show_last_error(PAGE)
    outcome = ui.outcomes().get(PAGE)
    if outcome is None:
        return
    if request is None or outcome.request != request:
        what = TASKS[outcome.request.task].title.lower()
        st.info(f"The result below is from an earlier run ({what} on the files uploaded then), not the task "
                "and files chosen now. Press Run to update it.", icon=":material/history:")
    views.show_outcome(outcome, key=PAGE)
