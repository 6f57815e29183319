"""The package is complete: pyproject.toml's runtime dependencies name every third-party package that geofm/,
app.py and app_pages/ import (module- or function-level), and nothing that only the benchmarks use."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_SOURCES = [*(ROOT / "geofm").rglob("*.py"), ROOT / "app.py", *(ROOT / "app_pages").glob("*.py")]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def imported_top_levels(files: list[Path]) -> set[str]:
    found = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("geofm", "__future__")}


def test_every_runtime_import_is_a_declared_dependency():
    declared = {_name(r) for r in _pyproject()["project"]["dependencies"]}
    dists = packages_distributions()
    missing = {}
    for module in sorted(imported_top_levels(RUNTIME_SOURCES)):
        names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
        if not names & declared:
            missing[module] = sorted(names)
    assert missing == {}


def test_bench_only_packages_are_an_extra_not_runtime():
    project = _pyproject()["project"]
    declared = {_name(r) for r in project["dependencies"]}
    bench = {_name(r) for r in project["optional-dependencies"]["bench"]}
    assert bench == {"odc-stac", "odc-geo", "xarray"} and not bench & declared
    runtime_imports = imported_top_levels(RUNTIME_SOURCES)
    assert not {"odc", "xarray"} & runtime_imports


def test_requirements_txt_pins_the_runtime_dependencies():
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    pinned = {_name(ln) for ln in lines if ln}
    assert pinned == {_name(r) for r in _pyproject()["project"]["dependencies"]}


def test_the_test_extra_has_what_the_tests_import():
    test_extra = {_name(r) for r in _pyproject()["project"]["optional-dependencies"]["test"]}
    assert {"pytest", "timm", "einops", "terratorch", "jsonschema", "playwright"} <= test_extra


def test_the_reader_sees_function_level_imports(tmp_path):
    (tmp_path / "m.py").write_text("import os\n\ndef f():\n    import leafmap.foliumap\n    from dask import delayed\n")
    assert imported_top_levels([tmp_path / "m.py"]) == {"leafmap", "dask"}
