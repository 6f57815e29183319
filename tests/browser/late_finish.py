"""``python tests/browser/late_finish.py run app.py …``: `streamlit run` with one thread interleaving forced.

Under load a script run that has just ended can lose the CPU before its end-of-run clean-up (which resets every
button's click). If a click meanwhile starts a second run of the same session (Streamlit's fast reruns), the
clean-up then lands inside that run and resets its click: the press is lost. Here every end-of-run clean-up
waits (up to ``GEOFM_TEST_FINISH_WAIT_S``, default 2 s) for a newer run of its session to take its clicks, so
that interleaving happens every time it can, instead of once in a hundred presses on a busy 2-core machine.
Each clean-up that found a newer run already started prints ``late clean-up after a newer run`` to the log.
"""

from __future__ import annotations

import os
import sys
import threading

from streamlit.runtime.state.session_state import SessionState

WAIT_S = float(os.environ.get("GEOFM_TEST_FINISH_WAIT_S", "2"))
_LOCK = threading.Condition()
_TOOK_CLICKS: dict[int, int] = {}  # id(SessionState) -> how many runs have taken the browser's widget states

_will_rerun = SessionState.on_script_will_rerun
_finished = SessionState.on_script_finished


def on_script_will_rerun(self, *args, **kwargs):
    _will_rerun(self, *args, **kwargs)
    with _LOCK:
        _TOOK_CLICKS[id(self)] = _TOOK_CLICKS.get(id(self), 0) + 1
        _LOCK.notify_all()


def on_script_finished(self, *args, **kwargs):
    with _LOCK:
        seen = _TOOK_CLICKS.get(id(self), 0)
        newer = _LOCK.wait_for(lambda: _TOOK_CLICKS.get(id(self), 0) != seen, timeout=WAIT_S)
    if newer:
        print("late clean-up after a newer run", flush=True)
    _finished(self, *args, **kwargs)


SessionState.on_script_will_rerun = on_script_will_rerun
SessionState.on_script_finished = on_script_finished

if __name__ == "__main__":
    from streamlit.web.cli import main

    sys.argv = ["streamlit", *sys.argv[1:]]
    main()
