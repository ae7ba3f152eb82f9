"""Options shared by the commands, defined once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (sections model, data, optim, train).", exists=True,
                 dir_okay=False),
]
Overrides = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a config key, e.g. --set optim.lr=0.001 (repeatable)."),
]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed (sets train.seed).")]
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder with datasets laid out as <dir>/<name>/<file> (or RECURRAX_DATA).",
                 envvar="RECURRAX_DATA"),
]
RunPath = Annotated[Path, typer.Argument(help="A run directory (or one of its checkpoint directories).")]
Out = Annotated[Path | None, typer.Option("--out", "-o", help="Run directory (default runs/<task>-<time>).")]
Resume = Annotated[bool, typer.Option(help="Continue the run in --out from its last checkpoint.")]
Progress = Annotated[bool, typer.Option(help="Show the progress bar.")]


def fit_arguments(
    config_type: type, task: str, config: Path | None, overrides: list[str] | None, seed: int | None,
    out: Path | None, resume: bool,
) -> tuple[Any, Path]:
    """The resolved config and the run directory of a ``fit`` command (``--resume`` rereads the run's config)."""
    from ..config import load_config

    if resume and out is None:
        raise typer.BadParameter("--resume needs --out, the run directory to continue")
    if resume and config is None and (out / "config.toml").is_file():
        config = out / "config.toml"
    cfg = load_config(config_type, config, overrides_with_seed(overrides, seed))
    run_dir = out or Path("runs") / time.strftime(f"{task}-%Y%m%d-%H%M%S")
    typer.echo(f"run directory: {run_dir}")
    return cfg, run_dir


def overrides_with_seed(overrides: list[str] | None, seed: int | None) -> list[str]:
    """The ``--set`` overrides, plus ``train.seed`` when ``--seed`` is given (it wins)."""
    items = list(overrides or [])
    if seed is not None:
        items.append(f"train.seed={seed}")
    return items
