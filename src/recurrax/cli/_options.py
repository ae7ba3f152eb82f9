"""Options shared by the commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

ConfigFile = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="TOML config file (sections model, data, optim, train).", exists=True,
                 dir_okay=False),
]
Overrides = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", help="Override a config key, e.g. --set optim.lr=0.001 (repeatable)."),
]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Random seed (sets train.seed).")]
DataDir = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Folder with datasets laid out as <dir>/<name>/<file> (or RECURRAX_DATA).",
                 envvar="RECURRAX_DATA"),
]
RunPath = Annotated[Path, typer.Argument(help="A run directory (or one of its checkpoint directories).")]


def overrides_with_seed(overrides: list[str] | None, seed: int | None) -> list[str]:
    """The ``--set`` overrides, plus ``train.seed`` when ``--seed`` is given (it wins)."""
    items = list(overrides or [])
    if seed is not None:
        items.append(f"train.seed={seed}")
    return items
