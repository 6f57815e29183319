"""Tasks live in one registry (``geofm.config.TASKS``): no code outside it compares task names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from geofm.config import MODELS, TASKS, get_task
from geofm.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "geofm" / "config"  # the registries: the one place task names may be compared


def _task_literals(node: ast.AST) -> list[str]:
    """Task names written as string constants in ``node`` (itself, or the items of a tuple/list/set)."""
    items = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return [i.value for i in items if isinstance(i, ast.Constant) and i.value in TASKS]


def task_name_comparisons(source: str) -> list[tuple[int, str]]:
    """(line, task name) of every comparison, ``in`` test, ``match`` case or dict key that uses a task name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                found += [(node.lineno, name) for name in _task_literals(operand)]
        elif isinstance(node, ast.match_case):
            for pattern in ast.walk(node.pattern):
                if isinstance(pattern, ast.MatchValue):
                    found += [(node.pattern.lineno, name) for name in _task_literals(pattern.value)]
        elif isinstance(node, ast.Dict):  # {"flood": ...} tables keyed by task names
            found += [(node.lineno, name) for key in node.keys if key is not None for name in _task_literals(key)]
    return found


def _sources() -> list[Path]:
    files = sorted((ROOT / "geofm").rglob("*.py")) + sorted((ROOT / "app_pages").glob("*.py")) + [ROOT / "app.py"]
    return [f for f in files if REGISTRY not in f.parents]


def test_the_scan_finds_every_kind_of_task_name_comparison():
    snippet = '''
if task == "flood": pass
if "crops" != t: pass
ok = task in ("reconstruct", "x")
TITLES = {"burn-scars": "Burn scars"}
match task:
    case "flood": pass
'''
    assert [name for _, name in task_name_comparisons(snippet)] == [
        "flood", "crops", "reconstruct", "burn-scars", "flood"]
    assert task_name_comparisons('run("flood")\nx = dict(task="crops")\nif kind == "classes": pass') == []


def test_no_task_name_is_compared_outside_the_registry():
    offenders = [f"{path.relative_to(ROOT)}:{line}: {name!r}" for path in _sources()
                 for line, name in task_name_comparisons(path.read_text())]
    assert not offenders, "task names compared outside geofm/config/:\n" + "\n".join(offenders)


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_is_complete(name):
    task = TASKS[name]
    assert task.name == name and task.model in MODELS and task.title and task.intro and task.layer
    lo, hi = task.date_span()
    assert 1 <= lo <= hi <= MODELS[task.model].num_frames
    page = ROOT / task.page
    assert page.is_file(), f"{task.page} is missing"
    calls = [n for n in ast.walk(ast.parse(page.read_text())) if isinstance(n, ast.Call)]
    assert any(isinstance(c.func, ast.Name) and c.func.id == "task_page" and c.args[0].value == name for c in calls)
    if task.result == "classes":
        assert MODELS[task.model].kind == "segmenter" and task.view in ("target", "classes")
    else:
        assert MODELS[task.model].kind == "mae" and task.view == "reconstruction" and task.masking


def test_unknown_task_names_the_known_ones():
    with pytest.raises(InputError, match="Unknown task 'wildfire'; choose one of flood, crops, burn-scars"):
        get_task("wildfire")
    with pytest.raises(ValueError):  # an InputError is also a ValueError
        get_task("wildfire")


def test_the_cli_offers_every_task():
    import argparse

    from geofm.cli import run

    parser = argparse.ArgumentParser()
    run.add_parser(parser.add_subparsers())
    action = next(a for a in parser._subparsers._group_actions[0].choices["run"]._actions if a.dest == "task")
    assert list(action.choices) == list(TASKS)


def test_public_api_is_exported_lazily():
    import subprocess
    import sys

    import geofm
    from geofm import pipeline

    assert geofm.run_task is pipeline.run_task and geofm.TASKS is TASKS
    assert set(geofm.__all__) <= set(dir(geofm)) | {"__version__"}
    code = "import sys, geofm; print('torch' in sys.modules, 'streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    with pytest.raises(AttributeError):
        geofm.no_such_thing  # noqa: B018
