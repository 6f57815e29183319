"""The "your own file" page: upload HLS GeoTIFFs and run any task with the same views."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from geofm.config import TASKS, get_model_spec
from geofm.errors import GeofmError
from geofm.inference.coords import needs_coords
from geofm.serve import ui, uploads, views
from geofm.serve.runs import RunRequest, run_files
from geofm.serve.task_page import execute, resume_job, session_busy, task_controls

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


_CHECKED = "geofm_upload_checked"  # session: (request, problems) of the files checked last


def checked_upload(request: RunRequest | None, contents: list[tuple[str, bytes]], task: str) -> list[str]:
    """The upload's problems, checked once per set of files and task (on upload, before any Run)."""
    if request is None:
        return []
    kept = st.session_state.get(_CHECKED)
    key = (request.upload_digest, tuple(name for name, _ in contents), task)
    if kept is None or kept[0] != key:
        kept = (key, uploads.file_problems(contents, task))
        st.session_state[_CHECKED] = kept
    return kept[1]


def date_field(task: str, model: str) -> str:
    """For a model that uses the acquisition date (EO-2.0 TL): a date field, for files whose name (HLS) or tags
    do not say it; "" when not needed or left empty (the run then asks for it)."""

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
    one_file = spec.date_span() == (1, 1)  # a task that takes one file: a new upload replaces the old one
    picked = st.file_uploader(f"GeoTIFF{'' if one_file else '(s)'}: {spec.upload_help}", type=["tif", "tiff"],
                              accept_multiple_files=not one_file, key="up-file" if one_file else "up-files")
    files: list[UploadedFile] = ([picked] if isinstance(picked, UploadedFile) else
                                 [f for f in picked if isinstance(f, UploadedFile)] if isinstance(picked, list) else [])
    missing = ui.weights_blocking(task)  # missing and cannot be fetched: Run is disabled
    ui.show_weights_notice(task)
    mask_ratio, seed, model = task_controls(spec, PAGE)
    date = date_field(spec.name, model)
    contents = [(f.name, f.getvalue()) for f in files]
    request = (RunRequest.for_upload(task, contents, mask_ratio=mask_ratio, seed=seed, model=model, date=date)
               if contents else None)
    problems = checked_upload(request, contents, task)
    if problems:
        st.error("This upload cannot run yet:\n" + "\n".join(f"- {p}" for p in problems), icon=":material/error:")
    elif contents:
        for name, content in contents:
            st.caption(uploads.describe_file(name, content))
    if ui.pressed(st.button, f"Run {spec.title.lower()}", type="primary", icon=":material/play_arrow:",
                  disabled=not files or bool(missing) or bool(problems) or session_busy(), key="up-run") \
            and request is not None and not problems:
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
    else:
        resume_job()  # this session's run goes on: show its progress here until it ends
    ui.show_last_error(PAGE)
    outcome = ui.outcomes().get(PAGE)
    if outcome is None:
        return
    if request is None or outcome.request != request:
        what = TASKS[outcome.request.task].title.lower()
        st.info(f"The result below is from an earlier run ({what} on the files uploaded then), not the task "
                "and files chosen now. Press Run to update it.", icon=":material/history:")
    views.show_outcome(outcome, key=PAGE)
