"""The language-model task's `TaskSpec` (`recurrax.tasks.get_task("lm")`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._contract import TaskSpec
from ._config import LMConfig
from ._inference import lm_inference
from ._run import fit_lm


def _fit(cfg: LMConfig, run_dir: Path, data_dir: Path | None, progress: bool) -> list[dict[str, Any]]:
    return fit_lm(cfg, run_dir, data_dir=data_dir, progress=progress).fit.history


TASK = TaskSpec(
    name="lm",
    config_type=LMConfig,
    fit=_fit,
    inference=lm_inference,
    onnx=True,
    serving="recurrax.tasks.lm._serving",
)
