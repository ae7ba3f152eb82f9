"""The classification task's `TaskSpec` (`recurrax.tasks.get_task("classify")`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._contract import Holdout, TaskSpec
from ._config import ClassifyConfig
from ._fit import fit_classifier
from ._inference import classify_inference
from ._retrain import challenge_classify


def _fit(cfg: ClassifyConfig, run_dir: Path, data_dir: Path | None, progress: bool) -> list[dict[str, Any]]:
    return fit_classifier(cfg, run_dir, data_dir=data_dir, progress=progress).fit.history


TASK = TaskSpec(
    name="classify",
    config_type=ClassifyConfig,
    fit=_fit,
    inference=classify_inference,
    serving="recurrax.tasks.classify._serving",
    holdout=Holdout(("loss", "accuracy", "macro_f1"), "loss", ("accuracy", "macro_f1"), challenge_classify),
)
