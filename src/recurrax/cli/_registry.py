"""``recurrax registry list|register|promote|show``: the local model registry (`recurrax.lifecycle.ModelRegistry`).

The registry directory is ``--root``, else ``RECURRAX_REGISTRY``, else ``models/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Register, list, show and promote model versions.", no_args_is_help=True)

Root = Annotated[
    Path,
    typer.Option("--root", help="Registry directory (or RECURRAX_REGISTRY).", envvar="RECURRAX_REGISTRY",
                 file_okay=False),
]  # fmt: skip
Name = Annotated[str, typer.Argument(help="Model name.")]
Stage = Annotated[str, typer.Option("--stage", help="staging, production or archived.")]


def _registry(root: Path):
    from ..lifecycle import ModelRegistry

    return ModelRegistry(root)


def _scores(metrics: dict) -> str:
    shown = [f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return ", ".join(shown[:4]) or "-"


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    root: Root = Path("models"),
) -> None:
    """Every registered version: name, version, stage, task, when, and its first scores.

    Example: recurrax registry list --root models
    """
    versions = _registry(root).list(name)
    if not versions:
        typer.echo(f"no models registered in {root}")
    for v in versions:
        typer.echo(f"{v.name}\tv{v.version}\t{v.stage}\t{v.task or '-'}\t{v.created}\t{_scores(v.metrics)}")


@app.command()
def register(
    name: Name,
    source: Annotated[
        Path,
        typer.Argument(
            help="A run directory, checkpoint directory or exported artifact.", exists=True, file_okay=False
        ),
    ],
    root: Root = Path("models"),
    stage: Stage = "staging",
    metrics: Annotated[
        Path | None,
        typer.Option(help="JSON file of scores (default the run's holdout.json).", exists=True, dir_okay=False),
    ] = None,
) -> None:
    """Copy a trained model into the registry as the next version of NAME.

    Config and data fingerprint come from the checkpoint; scores from --metrics, else the run's holdout.json.

    Examples:

      recurrax registry register sales runs/sales

      recurrax registry register sales runs/sales --stage production --metrics scores.json
    """
    scores = None
    if metrics is not None:
        scores = json.loads(metrics.read_text())
        if not isinstance(scores, dict):
            raise ValueError(f"{metrics} must hold a JSON object of scores")
    version = _registry(root).register(name, source, metrics=scores, stage=stage)
    typer.echo(f"registered {name} version {version} ({stage}) in {root}")


@app.command()
def promote(
    name: Name,
    version: Annotated[int, typer.Argument(help="The version to move.", min=1)],
    root: Root = Path("models"),
    stage: Stage = "production",
) -> None:
    """Move a version to a stage (default production, which archives the current production version).

    Examples:

      recurrax registry promote sales 3

      recurrax registry promote sales 1 --stage archived
    """
    registry = _registry(root)
    before = [v.version for v in registry.list(name) if v.stage == "production"]
    registry.transition(name, version, stage)
    typer.echo(f"{name} version {version} is now {stage}")
    for old in before:
        if old != version and stage == "production":
            typer.echo(f"{name} version {old} archived")


@app.command()
def show(
    name: Name,
    version: Annotated[int | None, typer.Option(help="A version (default the newest).", min=1)] = None,
    stage: Annotated[str | None, typer.Option(help="The newest version in this stage.")] = None,
    root: Root = Path("models"),
) -> None:
    """One version's entry as JSON: stage, path, metrics, config, data fingerprint, notes.

    Examples:

      recurrax registry show sales --stage production

      recurrax registry show sales --version 2
    """
    typer.echo(json.dumps(_registry(root).get(name, version, stage).to_dict(), indent=1))
