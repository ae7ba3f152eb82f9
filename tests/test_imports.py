"""The import structure of recurrax, read from the source (AST) and checked in a fresh interpreter.

- every module imports, in a fresh interpreter, in any order (the module-level import graph has no cycle);
- a recurrax import sits at module top, not inside a function, except where laziness is the point
  (`LAZY`: the CLI, which imports the library when a command runs so that ``recurrax --help`` stays fast,
  and ``recurrax.serve``'s module ``__getattr__``); optional extras (fastapi, optuna, onnx, ...) may be
  imported inside functions, being third-party;
- a package does not import another package's private module or name (``from ..metrics._drift import X``:
  import ``X`` from ``recurrax.metrics``), checked for the packages in `PUBLIC_ONLY`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LAZY = {
    "recurrax/cli/": "commands import the library when they run (a fast `recurrax --help`)",
    "recurrax/serve/__init__.py": "export_run and create_app on first use (module __getattr__)",
}
PUBLIC_ONLY = ("data", "metrics", "models", "interop", "serve", "lifecycle", "tasks", "studies")
NOT_CHECKED: tuple[str, ...] = ()
# Private names that cells/, scan/, train/ and config.py do not export yet: (importing module, imported module).
PENDING: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    """Every module of recurrax (in a package with an ``__init__.py``) by dotted name."""
    out = {}
    for path in sorted((SRC / "recurrax").rglob("*.py")):
        if not all((SRC / p / "__init__.py").exists() for p in path.relative_to(SRC).parents if p != Path(".")):
            continue
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imports(tree: ast.Module, *, top: bool) -> list[ast.Import | ast.ImportFrom]:
    """The import statements run at import time (``top``: not in a function, not under ``TYPE_CHECKING``),
    or those inside functions (``top=False``)."""
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import | ast.ImportFrom) and inner != top:
                found.append(child)
            visit(child, inner)

    visit(tree, False)
    return found


def _targets(name: str, node: ast.Import | ast.ImportFrom) -> list[tuple[str, str | None]]:
    """``(module, imported name or None)`` per alias of ``node`` in module ``name``, relative imports resolved;
    ``from pkg import sub`` resolves to the module ``pkg.sub`` when that is a module."""
    if isinstance(node, ast.Import):
        return [(alias.name, None) for alias in node.names]
    base = name.split(".") if MODULES.get(name, Path()).name == "__init__.py" else name.split(".")[:-1]
    module = node.module or ""
    if node.level:
        module = ".".join(base[: len(base) - node.level + 1] + ([module] if module else []))
    return [(f"{module}.{a.name}", None) if f"{module}.{a.name}" in MODULES else (module, a.name) for a in node.names]


def _graph() -> dict[str, set[str]]:
    """Module -> the recurrax modules it imports at import time."""
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = {t for node in _imports(tree, top=True) for t, _ in _targets(name, node)}
        graph[name] = {t for t in targets if t in MODULES and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root, edges in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(edges)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_on_known_graphs():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []
    assert sorted(cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "a"}})) == [["a", "b"], ["c", "d"]]


def test_no_import_cycle():
    graph = _graph()
    assert len(graph) > 150 and graph["recurrax.tasks.forecast._data"] >= {"recurrax.tasks.forecast._covariates"}
    assert cycles(graph) == []


def test_every_module_imports_in_a_fresh_interpreter():
    code = (
        "import importlib, sys\n"
        "bad = []\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as error:\n"
        "        bad.append(f'{name}: {type(error).__name__}: {error}')\n"
        "print('\\n'.join(bad))\n"
    )
    assert len(MODULES) > 150
    names = sorted(
        set(MODULES) - {"recurrax.__main__"}, reverse=True
    )  # leaves before their packages: a cycle shows on a partial module
    result = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ""


def _lazy(path: Path) -> bool:
    relative = path.relative_to(SRC).as_posix()
    return any(relative.startswith(prefix) for prefix in LAZY)


def test_recurrax_imports_sit_at_module_top():
    inside = []
    for name, path in MODULES.items():
        if _lazy(path):
            continue
        for node in _imports(ast.parse(path.read_text(), str(path)), top=False):
            if any(target.startswith("recurrax") for target, _ in _targets(name, node)):
                inside.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}")
    assert inside == []


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _private_across(name: str, target: str, imported: str | None) -> bool:
    """Whether module ``name`` reaches into a private module or name of a package that neither holds ``name``
    nor lies inside ``name``'s own package (a package may register its subpackages' private modules)."""
    parts = target.split(".") + ([imported] if imported else [])
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            owner = ".".join(parts[:i])
            package = name if MODULES.get(name, Path()).name == "__init__.py" else name.rpartition(".")[0]
            return not (_within(name, owner) or _within(owner, package))
    return False


def test_private_rule_on_known_imports():
    assert _private_across("recurrax.serve._drift", "recurrax.metrics._drift", "ReferenceProfile")
    assert _private_across("recurrax.serve._drift", "recurrax.metrics", "_psi")
    assert not _private_across("recurrax.serve._drift", "recurrax.metrics", "psi")
    assert not _private_across("recurrax.tasks.forecast._run", "recurrax.tasks._contract", "Input")
    assert not _private_across("recurrax.data", "recurrax.data._nab", None)
    assert not _private_across("recurrax.tasks", "recurrax.tasks.lm._task", "TASK")
    assert _private_across("recurrax.tasks.anomaly._run", "recurrax.tasks.forecast._frames", "read_frame")


def test_no_private_import_across_packages():
    found = set()
    for name, path in MODULES.items():
        package = name.split(".")[1] if "." in name else ""
        if package not in PUBLIC_ONLY or name.startswith(NOT_CHECKED):
            continue
        for node in _imports(ast.parse(path.read_text(), str(path)), top=True):
            for target, imported in _targets(name, node):
                if target.startswith("recurrax") and _private_across(name, target, imported):
                    found.add((name, target))
    assert sorted(found - PENDING) == []
    assert sorted(PENDING - found) == []  # a fixed one leaves PENDING too
