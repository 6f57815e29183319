"""The suite passes in any order (issue 18): what one test could leave for the next is fixed for the session."""

from __future__ import annotations

import pytest


def test_the_stack_cache_is_a_session_folder_whichever_test_runs_first(tmp_path_factory: pytest.TempPathFactory):
    """Before, GEOFM_CACHE_DIR was set only when the STAC stand-in started: a test that ran before it (or a file
    run alone) used ~/.cache/geofm."""
    from geofm.settings import settings

    cache = settings().cache_dir
    assert cache.is_relative_to(tmp_path_factory.getbasetemp()), cache


def test_the_app_modules_import_with_a_bad_setting():
    """A bad GEOFM_* value raised when geofm.serve.queue was imported, so the app showed Streamlit's generic error
    (and the bad-settings tests, now in tests/test_settings.py, failed when run alone). Now the process queue is
    built when first asked for: the modules import, and asking for the queue names the setting."""
    import os
    import subprocess
    import sys

    code = ("import geofm.serve.queue as q, geofm.serve.runs, geofm.serve.share, geofm.serve.task_page\n"
            "from geofm.settings import SettingsError\n"
            "try:\n    q.gpu_queue()\nexcept SettingsError as err:\n    print(err)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, GEOFM_QUEUE_MAX="lots"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "GEOFM_QUEUE_MAX must be a whole number > 0, got 'lots'."


def _exit_zero() -> None:
    return None


def test_a_spawned_process_starts_after_any_test():
    """Dask's worker processes are spawned: the child re-runs the parent's ``__main__`` from its path. After an
    AppTest, that was the app's script (Streamlit's runner leaves it as ``sys.modules["__main__"]``); conftest's
    ``_keep_main_module`` puts the test process's own back after every test."""
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=_exit_zero)
    child.start()
    child.join(120)
    assert child.exitcode == 0


def test_a_spawned_process_starts_right_after_an_apptest():
    """The order that failed in CI's reverse pass (an AppTest of a function script, then worker processes),
    forced in a pytest of its own."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--random-order-bucket=none",
         "tests/serve/test_ui_presses.py::test_without_the_clean_up_both_buttons_read_their_press",
         "tests/test_suite_order.py::test_a_spawned_process_starts_after_any_test"],
        cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 passed" in done.stdout
