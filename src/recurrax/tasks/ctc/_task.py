"""The CTC task's `TaskSpec` (`recurrax.tasks.get_task("ctc")`): trained and tuned; its decoding (greedy or
prefix beam search) runs in the library and is not exported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._contract import TaskSpec
from ._config import CTCConfig
from ._run import fit_ctc


def _fit(cfg: CTCConfig, run_dir: Path, data_dir: Path | None, progress: bool) -> list[dict[str, Any]]:
    return fit_ctc(cfg, run_dir, progress=progress).fit.history


TASK = TaskSpec(name="ctc", config_type=CTCConfig, fit=_fit)
