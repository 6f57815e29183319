"""The package's import graph (read with ast, module-level and function-level imports alike): no cycle, every
import pointing down the pipeline (docs/architecture.md), no private name taken from another stage, and imports
inside functions only where they keep a module light (each saying which heavy library it defers)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "geofm"

#: Stages from the bottom up: a module may import its own stage and the stages below it, never one above.
STAGES: tuple[tuple[str, ...], ...] = (
    ("geofm.errors", "geofm.lazy", "geofm.digest", "geofm.settings", "geofm.config"),
    ("geofm.data", "geofm.stack", "geofm.progress"),
    ("geofm.models",),
    ("geofm.inference",),
    ("geofm.render", "geofm.io", "geofm.evaluate", "geofm.examples"),
    ("geofm.pipeline",),
    ("geofm.serve", "geofm.cli", "geofm.region", "geofm.series", "geofm.__main__"),
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    names: tuple[str, ...]
    line: int
    in_function: bool


def module_names(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _owner(name: str, modules: dict[str, Path]) -> str:
    """The module that ``name`` (a module, or a name inside one) belongs to."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in modules else ""


def imports(root: Path = PACKAGE) -> list[Import]:
    """Every import of a geofm module by a geofm module, where it is and whether it sits inside a function."""
    modules = module_names(root)
    found = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        inside = {id(sub) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for sub in ast.walk(fn) if sub is not fn}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [(alias.name, ()) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                targets = []
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append((sub, ()) if sub in modules else (base, (alias.name,)))
                if base in modules and any(t == (f"{base}.{a.name}", ()) for t, a in zip(targets, node.names)):
                    # ``from package import submodule`` runs the package's __init__ too (and waits for it while
                    # another thread runs it): an edge to the package, so a module that does it from inside the
                    # package its __init__ imports is a cycle (two threads importing both deadlock)
                    targets.append((base, ()))
            else:
                continue
            for target, names in targets:
                owner = _owner(target, modules) if target.startswith("geofm") else ""
                if owner and owner != module:
                    found.append(Import(module, owner, names, node.lineno, id(node) in inside))
    return found


def stage(module: str) -> int:
    for rank, prefixes in enumerate(STAGES):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    if module == "geofm":  # the package itself: lazy exports only
        return 0
    raise AssertionError(f"{module} is in no stage of STAGES: add it where it belongs in the pipeline")


def cycles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        graph[e.importer].add(e.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _where(e: Import) -> str:
    return f"{e.importer} (line {e.line}{', in a function' if e.in_function else ''}) imports {e.imported}"


def _top(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_import_cycle():
    assert cycles(imports()) == []


def test_imports_point_down_the_pipeline():
    against = [_where(e) for e in imports() if stage(e.imported) > stage(e.importer)]
    assert against == []


def test_no_private_name_from_another_part():
    taken = [f"{_where(e)}: {', '.join(n for n in e.names if n.startswith('_'))}" for e in imports()
             if _top(e.importer) != _top(e.imported) and any(n.startswith("_") and not n.startswith("__")
                                                              for n in e.names)]
    assert taken == []


def test_every_module_has_a_stage():
    for module in module_names():
        stage(module)


def test_the_graph_reader_sees_each_kind_of_import(tmp_path):
    """The checks above read what they claim to: absolute, relative, module- and function-level imports."""
    pkg = tmp_path / "geofm"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "__init__.py").write_text("from .aoi import AOI\n")
    (pkg / "data" / "aoi.py").write_text("AOI = 1\n\ndef f():\n    from geofm.pipeline import run, _private\n")
    (pkg / "pipeline.py").write_text("import geofm.data.aoi\n")
    found = {(e.importer, e.imported, e.names, e.in_function) for e in imports(pkg)}
    assert found == {("geofm.data", "geofm.data.aoi", ("AOI",), False),
                     ("geofm.data.aoi", "geofm.pipeline", ("run",), True),
                     ("geofm.data.aoi", "geofm.pipeline", ("_private",), True),
                     ("geofm.pipeline", "geofm.data.aoi", (), False)}
    assert cycles(imports(pkg)) == [["geofm.data.aoi", "geofm.pipeline"]]


# --- imports inside functions ---------------------------------------------------------------------------------
#
# An import sits inside a function only where it keeps the module light: where it loads a heavy library that the
# module's own top-level imports do not already load. It then says which, in a trailing comment:
#     import torch  # lazy: torch
#     from geofm.pipeline import get_model  # lazy: torch
# Any other reason to import in a function (a cycle that cannot be broken) is written as ``# here: <why>``.

#: Third-party libraries heavy to import: 100 ms or more, cumulative, in a fresh interpreter
#: (``python -X importtime -c "import X"``, least of several runs; ms measured in December 2026 on a shared
#: 2-core machine, so read them as orders of size). Under the bar, for comparison: numpy 42, shapely 50,
#: requests 53, pyproj 43, pystac 39, urllib3 35, xyzservices 28, tqdm 20, filelock 20, jinja2 21, affine 16,
#: yaml 9, PIL 6, safetensors 1 (without its torch module).
HEAVY: dict[str, int] = {
    "torch": 1900, "streamlit": 580, "streamlit_folium": 1300, "leafmap": 1700, "folium": 640, "branca": 110,
    "altair": 710, "matplotlib": 120, "pandas": 340, "distributed": 400, "dask": 90, "rasterio": 220,
    "pystac_client": 100, "planetary_computer": 150,
    "huggingface_hub": 180,  # its names load on first use: ``from huggingface_hub import hf_hub_download``
}
#: Light modules of a third-party package that load a heavy library.
LOADS_HEAVY: dict[str, str] = {"safetensors.torch": "torch"}

_REASON = re.compile(r"#\s*(lazy|here):\s*(.*)$")


@dataclass(frozen=True)
class Statement:
    """One import statement: the modules it loads (geofm's, resolved through lazy exports, and third-party)."""
    module: str
    path: Path
    line: int
    end_line: int
    targets: tuple[str, ...]
    in_function: bool
    type_checking: bool
    comment: str


def _lazy_exports(path: Path) -> dict[str, str]:
    """A package's ``_EXPORTS`` table (public name -> defining module) for ``geofm.lazy.lazy_exports``."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets) and node.value is not None:
                return dict(ast.literal_eval(node.value))
    return {}


def statements(root: Path = PACKAGE) -> list[Statement]:
    modules = module_names(root)
    exports = {m: _lazy_exports(p) for m, p in modules.items() if p.name == "__init__.py"}
    found = []
    for module, path in modules.items():
        source = path.read_text()
        lines = source.splitlines()
        tree = ast.parse(source, str(path))
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        inside = {id(sub) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for sub in ast.walk(fn) if sub is not fn}
        guarded = {id(sub) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for stmt in node.body for sub in ast.walk(stmt)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                if base == "__future__":
                    continue
                targets = [base]
                for alias in node.names:
                    if f"{base}.{alias.name}" in modules:
                        targets.append(f"{base}.{alias.name}")
                    elif alias.name in exports.get(base, {}):
                        targets.append(exports[base][alias.name])
            else:
                continue
            end = node.end_lineno or node.lineno
            comments = [m.group(0) for m in (_REASON.search(lines[i - 1]) for i in range(node.lineno, end + 1)) if m]
            found.append(Statement(module, path, node.lineno, end, tuple(targets), id(node) in inside,
                                   id(node) in guarded, comments[0] if comments else ""))
    return found


def _heavy(name: str) -> set[str]:
    out = {name.split(".")[0]} & set(HEAVY)
    out |= {lib for prefix, lib in LOADS_HEAVY.items() if name == prefix or name.startswith(prefix + ".")}
    return out


def heavy_loads(found: list[Statement]) -> dict[str, set[str]]:
    """Geofm module -> the heavy libraries that importing it loads: its own top-level imports (not those for
    type checkers only), its packages', and theirs, and so on down."""
    top: dict[str, set[str]] = defaultdict(set)
    for s in found:
        if not s.in_function and not s.type_checking:
            top[s.module].update(s.targets)

    def loads(module: str) -> set[str]:
        seen, todo, libs = set(), [module], set()
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            if m.split(".")[0] == "geofm":
                parts = m.split(".")
                todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # a module's packages run first
                todo += list(top.get(m, ()))
            else:
                libs |= _heavy(m)
        return libs

    return {m: loads(m) for m in {s.module for s in found}}


def _statement_loads(s: Statement, loads: dict[str, set[str]]) -> set[str]:
    out: set[str] = set()
    for target in s.targets:
        if target.split(".")[0] == "geofm":
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                out |= loads.get(".".join(parts[:i]), set())
        else:
            out |= _heavy(target)
    return out


def function_import_problems(root: Path = PACKAGE) -> list[str]:
    found = statements(root)
    loads = heavy_loads(found)
    problems = []
    for s in found:
        if not s.in_function:
            continue
        where = f"{s.path.relative_to(root.parent)}:{s.line}"
        deferred = _statement_loads(s, loads) - loads.get(s.module, set())
        match = _REASON.search(s.comment) if s.comment else None
        if match and match.group(1) == "here" and match.group(2).strip():
            continue
        if not deferred:
            problems.append(f"{where}: loads no heavy library {s.module} does not load already: "
                            "import it at the top of the module")
            continue
        named = set(re.findall(r"[\w.]+", match.group(2).split("(")[0])) if match and match.group(1) == "lazy" \
            else set()
        if not named:
            problems.append(f"{where}: defers {', '.join(sorted(deferred))}: say so, ``# lazy: "
                            f"{sorted(deferred, key=lambda lib: -HEAVY.get(lib, 0))[0]}``")
        elif not named <= deferred:
            problems.append(f"{where}: ``{s.comment}`` but it defers {', '.join(sorted(deferred))} only")
    return sorted(problems, key=lambda p: (p.split(":")[0], int(p.split(":")[1])))


def test_imports_in_functions_only_defer_heavy_libraries():
    assert function_import_problems() == []


def test_the_heavy_library_rule_reads_each_case(tmp_path):
    """The rule above on a small package: a light import in a function, a heavy one with and without its reason,
    a geofm module that loads a heavy library through its package, and one the importer already loads."""
    pkg = tmp_path / "geofm"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models" / "__init__.py").write_text("import torch\n")
    (pkg / "models" / "vit.py").write_text("X = 1\n")
    (pkg / "light.py").write_text("def f():\n    import json\n"
                                  "def g():\n    from geofm.models.vit import X  # lazy: torch\n"
                                  "def h():\n    import rasterio\n"
                                  "def i():\n    import pandas  # lazy: torch\n"
                                  "def j():\n    import json  # here: a reason\n")
    (pkg / "heavy.py").write_text("import torch\n\ndef f():\n    from geofm.models import vit  # lazy: torch\n")
    problems = function_import_problems(pkg)
    assert {p.split(": ")[0] for p in problems} == {"geofm/light.py:2", "geofm/light.py:6", "geofm/light.py:8",
                                                    "geofm/heavy.py:4"}


def test_importing_geofm_and_its_command_line_loads_no_heavy_library():
    code = "import sys, geofm, geofm.cli; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                cwd=PACKAGE.parent).stdout.split())
    assert loaded & (set(HEAVY) | set(LOADS_HEAVY)) == set()


_TWO_THREADS = r'''
import sys, threading
import numpy, rasterio, geofm.config, geofm.errors  # what both threads need anyway, loaded before they race

package, module, inside = sys.argv[1], sys.argv[2], sys.argv[3]
package_running, module_running = threading.Event(), threading.Event()
errors = []


class Interleave:
    """Holds the thread importing the package inside its __init__ until the other thread runs the module."""

    def find_spec(self, name, path=None, target=None):
        me = threading.current_thread().name
        if me == "package" and name.startswith(package + ".") and not package_running.is_set():
            package_running.set()
            module_running.wait(5)
        if me == "module" and name == inside:
            module_running.set()
        return None


sys.meta_path.insert(0, Interleave())


def run(name, target):
    try:
        if name == "module":
            package_running.wait(5)
        __import__(target)
    except BaseException as err:
        errors.append(f"{name}: {type(err).__name__}: {err}")


threads = [threading.Thread(target=run, args=("package", package), name="package"),
           threading.Thread(target=run, args=("module", module), name="module")]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
print("|".join(errors) or "ok", "hung" if any(t.is_alive() for t in threads) else "")
'''


def test_two_threads_importing_a_package_and_one_of_its_modules_at_once_both_succeed():
    """The app's first page imported ``geofm.data`` (its __init__ imports the reader) while the model preload
    imported ``geofm.data.reader``, whose ``from geofm.data import fmask`` waited for the package: a deadlock
    that Python breaks by handing one thread a half-run module (CI: "cannot import name 'fill_clear_fractions'
    from partially initialized module"). Forced here in that order: the package's thread is held inside its
    __init__ until the other thread is running the reader's body."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _TWO_THREADS, "geofm.data", "geofm.data.reader", "geofm.data.fmask"],
                         capture_output=True, text=True, timeout=120, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "ok", out.stdout + out.stderr[-2000:]
