"""What the tasks' re-training challenges share (`recurrax.tasks.Holdout.challenge`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import load_config, to_toml


def challenger_config(cfg: Any, run_dir: Path, settings: Sequence[str]) -> Any:
    """The champion's config ``cfg`` with ``settings`` (``section.key=value``) applied, through a TOML file
    that stays in the challenger's ``run_dir`` as ``champion_config.toml``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    base = run_dir / "champion_config.toml"
    base.write_text(to_toml(cfg))
    return load_config(type(cfg), base, settings)
