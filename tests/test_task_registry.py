"""The task registry: lookups by name and alias, clear errors, and the rule that export, the service and the
lifecycle know no task by name (checked on their source: no task package imported, no task name as a string)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import recurrax
from recurrax.tasks import TaskSpec, get_task, register, task_names
from recurrax.tasks.classify import ClassifyConfig

PACKAGE = Path(recurrax.__file__).parent
TASK_FREE = ("serve", "lifecycle")  # packages that must reach tasks only through the registry


def test_lookups_by_name_and_alias_and_the_errors_name_what_exists():
    assert get_task("anomaly_scorer") is get_task("anomaly")
    assert get_task("classify").config_type is ClassifyConfig
    assert {"lm", "classify", "forecast", "anomaly", "seq2seq"} <= set(task_names())
    assert set(task_names("holdout")) >= {"classify", "forecast"}
    assert task_names("inference") == task_names()  # every task exports its inference (DESIGN.md)
    assert "seq2seq" not in task_names("holdout")
    with pytest.raises(ValueError, match="unknown task 'nope'; known tasks: lm, classify"):
        get_task("nope")
    with pytest.raises(ValueError, match=r"cannot retrain a seq2seq model; tasks that can: .*classify"):
        get_task("seq2seq", having="holdout", purpose="retrain")
    with pytest.raises(ValueError, match="task name 'anomaly_scorer' is already registered"):
        register(TaskSpec("fresh", ClassifyConfig, aliases=("anomaly_scorer",)))
    assert "fresh" not in task_names()


def _modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


@pytest.mark.parametrize("package", TASK_FREE)
def test_serve_and_lifecycle_hold_no_task_names_and_import_no_task_package(package):
    names = {alias for name in task_names() for alias in (name, *get_task(name).aliases)}
    offences = []
    for path in _modules(package):
        tree = ast.parse(path.read_text())
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if "tasks" in parts and parts[parts.index("tasks") + 1 :]:
                    offences.append(f"{path.name}:{node.lineno} imports {node.module}")
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in docstrings:
                offences.append(f"{path.name}:{node.lineno} names the task {node.value!r}")
    assert not offences, offences
