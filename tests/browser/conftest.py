"""The browser tests' fixtures (defined in tests/browser/streamlit_app.py)."""

from tests.browser.streamlit_app import app_url  # noqa: F401
