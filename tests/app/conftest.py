"""The AppTest pages' fixtures (defined in tests/app/support.py, which tests elsewhere import them from)."""

from tests.app.support import env, model_calls  # noqa: F401
