"""The CTC task's `TaskSpec` (`recurrax.tasks.get_task("ctc")`): trained, tuned, exported (``recognize``: frame
log-probabilities and greedy labels; prefix beam search runs in the caller) and served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._contract import TaskSpec
from ._config import CTCConfig
from ._inference import ctc_inference
from ._run import fit_ctc


def _fit(cfg: CTCConfig, run_dir: Path, data_dir: Path | None, progress: bool) -> list[dict[str, Any]]:
    return fit_ctc(cfg, run_dir, progress=progress).fit.history


TASK = TaskSpec(
    name="ctc",
    config_type=CTCConfig,
    fit=_fit,
    inference=ctc_inference,
    serving="recurrax.tasks.ctc._serving",
)
