"""The task registry: `register` a `TaskSpec` once (``recurrax/tasks/__init__.py`` registers each task folder's
``TASK``), and everything outside the tasks (export, the service, retrain, tune, the CLI) finds it by name with
`get_task`, with no per-task branches of its own.

    >>> get_task("classify").config_type.__name__
    'ClassifyConfig'
    >>> get_task("anomaly_scorer").name  # a name that older checkpoints carry
    'anomaly'
"""

from __future__ import annotations

from ._contract import TaskSpec

_TASKS: dict[str, TaskSpec] = {}
_ALIASES: dict[str, str] = {}


def register(spec: TaskSpec) -> TaskSpec:
    """Add ``spec`` under its name and aliases; a name already taken is an error."""
    for name in (spec.name, *spec.aliases):
        if name in _TASKS or name in _ALIASES:
            raise ValueError(f"task name {name!r} is already registered")
    _TASKS[spec.name] = spec
    _ALIASES.update({alias: spec.name for alias in spec.aliases})
    return spec


def get_task(name: str | None, *, having: str | None = None, purpose: str = "") -> TaskSpec:
    """The `TaskSpec` named ``name`` (or one of its aliases). ``having``: a `TaskSpec` field that must be set
    (``"inference"``, ``"serving"``, ``"holdout"``, ``"fit"``), else a ValueError naming ``purpose`` and the
    tasks that offer it."""
    spec = _TASKS.get(_ALIASES.get(name, name)) if isinstance(name, str) else None
    able = task_names(having)
    if spec is None:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(able)}")
    if having is not None and getattr(spec, having) is None:
        raise ValueError(f"cannot {purpose or 'use'} a {spec.name} model; tasks that can: {', '.join(able)}")
    return spec


def task_names(having: str | None = None) -> list[str]:
    """The registered task names (those whose ``having`` field is set, when given), in registration order."""
    return [name for name, spec in _TASKS.items() if having is None or getattr(spec, having) is not None]
