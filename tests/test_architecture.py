"""The package's import graph (read with ast, module-level and function-level imports alike): no cycle, every
import pointing down the pipeline (docs/architecture.md), and no private name taken from another stage."""

from __future__ import annotations

import ast
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
