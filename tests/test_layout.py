"""The suite mirrors the package (docs/architecture.md, "Tests"): the tests of geofm/<part>/ are in tests/<part>/, the
app's page tests in tests/app/ and the browser tests in tests/browser/; only whole-project tests and the tests of
geofm's top-level modules (tests/test_<module>.py) sit at the top. No test file imports another."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
PACKAGE = ROOT / "geofm"

#: geofm's parts: its sub-packages.
PARTS = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
#: Folders for what is not a part of geofm: the Streamlit pages through AppTest, the app in Chromium.
APP_FOLDERS = ("app", "browser")
#: Tests of the whole project, not of one part.
WHOLE_PROJECT = ("test_architecture.py", "test_cache.py", "test_layout.py", "test_packaging.py", "test_space.py",
                 "test_suite_order.py")
#: Support folders that hold no tests.
SUPPORT_FOLDERS = ("standin",)


def _test_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if "__pycache__" not in p.parts)


def test_every_test_file_is_in_the_folder_of_what_it_tests():
    top_modules = {p.stem for p in PACKAGE.glob("*.py") if not p.name.startswith("_")}
    misplaced = []
    for path in _test_files():
        rel = path.relative_to(TESTS)
        if len(rel.parts) == 1:
            if rel.name not in WHOLE_PROJECT and rel.stem.removeprefix("test_") not in top_modules:
                misplaced.append(f"{rel} (top level: whole-project tests, tests/test_<module>.py of geofm/<module>.py)")
        elif len(rel.parts) > 2 or rel.parts[0] not in (*PARTS, *APP_FOLDERS):
            misplaced.append(f"{rel} (folders: {', '.join((*PARTS, *APP_FOLDERS))})")
    assert not misplaced, "test files outside the layout:\n" + "\n".join(misplaced)


def test_every_part_of_geofm_has_its_test_folder():
    assert {"cli", "data", "models", "serve"} <= set(PARTS)  # the scan found the package
    missing = [part for part in PARTS if not any((TESTS / part).glob("test_*.py"))]
    assert not missing, f"parts of geofm without tests/<part>/: {missing}"


def test_every_test_folder_is_a_package():
    """The tests import their helpers as ``tests.<folder>.<module>``."""
    folders = [p for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__" and not p.name.startswith(".")]
    assert not [p.name for p in folders if not (p / "__init__.py").is_file()]
    assert not [p.name for p in folders if p.name not in (*PARTS, *APP_FOLDERS, *SUPPORT_FOLDERS)]


def test_no_test_file_imports_another():
    """What several test files share lives in a support module or a folder's conftest.py, so each test is found
    in its own file and a test module is collected once."""
    found = []
    for path in _test_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "tests" and any(part.startswith("test_") for part in parts[1:]):
                    found.append(f"{path.relative_to(TESTS)} imports {name}")
                    break
    assert not found, "\n".join(found)
