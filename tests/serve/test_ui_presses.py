"""``geofm.serve.ui.pressed``: a button press is read from its callback, so Streamlit's end-of-run clean-up of an
older run (fast reruns) cannot undo it; a press is read once, kept when its run is cut short before the button,
dropped when the visitor left its page. The browser version of the first case: tests/browser/test_clicks.py."""

from __future__ import annotations

import ast
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def _buttons_after_an_older_runs_clean_up() -> None:
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from geofm.serve import ui

    if st.session_state.get("clean_up_lands_here"):  # what an ending older run's on_script_finished does
        get_script_run_ctx().session_state._state._reset_triggers()
    if st.session_state.get("stop_before_the_buttons"):
        st.stop()
    plain = st.button("plain", key="plain")
    ours = ui.pressed(st.button, "ours", key="ours")
    st.session_state.setdefault("seen", []).append((plain, ours))


def _app() -> AppTest:
    at = AppTest.from_function(_buttons_after_an_older_runs_clean_up, default_timeout=30)
    at.run()
    return at


def test_a_press_survives_the_clean_up_that_loses_a_plain_buttons_press():
    at = _app()
    at.session_state["clean_up_lands_here"] = True
    at.button(key="plain").click()
    at.button(key="ours").click()
    at.run()
    assert not at.exception
    assert at.session_state["seen"][-1] == (False, True)  # the plain press is lost, ours is not
    at.session_state["clean_up_lands_here"] = False
    at.run()
    assert at.session_state["seen"][-1] == (False, False)  # read once


def test_without_the_clean_up_both_buttons_read_their_press():
    at = _app()
    at.button(key="plain").click()
    at.button(key="ours").click()
    at.run()
    assert at.session_state["seen"][-1] == (True, True)


def test_a_press_whose_run_stopped_before_the_button_is_read_by_the_next_run_once():
    at = _app()
    at.session_state["stop_before_the_buttons"] = True
    at.button(key="ours").click()
    at.run()
    assert len(at.session_state["seen"]) == 1  # the first run only
    at.session_state["stop_before_the_buttons"] = False
    at.run()
    assert at.session_state["seen"][-1] == (False, True)
    at.run()
    assert at.session_state["seen"][-1] == (False, False)


def _page_switch() -> None:
    import streamlit as st

    from geofm.serve import ui

    ui.forget_presses_elsewhere(st.session_state.get("page", "flood"))
    if st.session_state.get("page", "flood") == "flood":
        st.session_state["ran"] = ui.pressed(st.button, "Run", key="flood-run")
        if st.session_state.get("stop_before_the_buttons"):
            st.stop()


def test_a_press_on_a_page_the_visitor_left_is_not_run_when_they_come_back():
    at = AppTest.from_function(_page_switch, default_timeout=30)
    at.run()
    at.button(key="flood-run").click()
    at.session_state["page"] = "explore"  # the click's run shows another page (a navigation cut it short)
    at.run()
    assert at.session_state["geofm_presses"] == {}
    at.session_state["page"] = "flood"
    at.run()
    assert at.session_state["ran"] is False
    at.button(key="flood-run").click()  # a press on the page it shows is read
    at.run()
    assert at.session_state["ran"] is True


def _buttons_read_by_return_value(source: str) -> list[int]:
    """Lines of ``….button(…)`` / ``…form_submit_button(…)`` calls with no callback (their press is read from the
    return value, which the clean-up can undo); ``ui.pressed(st.button, …)`` passes the button, it does not call it."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("button", "form_submit_button")
                and not any(k.arg == "on_click" for k in node.keywords)):
            lines.append(node.lineno)
    return lines


def test_every_button_of_the_app_reads_its_press_from_a_callback():
    found = {str(p.relative_to(ROOT)): lines for p in sorted((ROOT / "geofm" / "serve").rglob("*.py"))
             + [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py"))]
             if (lines := _buttons_read_by_return_value(p.read_text()))}
    assert found == {}, f"use geofm.serve.ui.pressed for these buttons: {found}"


def test_the_button_rule_reads_each_case():
    src = ("import streamlit as st\nst.button('a')\ncol.button('b', on_click=f)\nui.pressed(st.button, 'c', key='c')\n"
           "st.form_submit_button('d')\nst.download_button('e', b'')\n")
    assert _buttons_read_by_return_value(src) == [2, 5]
