"""`retrain`: warm-start a challenger from the production model on new data, score challenger and champion
on the same holdout, and promote the challenger only if it is better.

The decision rule (``champion`` and ``challenger`` are the two holdout scores, ``m`` the relative
``min_improvement``, 0 by default), for a metric where lower is better (mirrored where higher is)::

    promote  <=>  challenger < champion - m * |champion|        (strictly better; a NaN never promotes)

The challenger is always registered (with its holdout scores and the decision under ``notes["retrain"]``):
promoted, it becomes ``production`` and the champion is archived; refused, it is registered ``archived``.
Every decision is also appended as one JSON line to the model's ``retrain.jsonl`` in the registry and logged
(logger ``recurrax.lifecycle._retrain``).

Tasks: those whose `recurrax.tasks.TaskSpec` declares a `recurrax.tasks.Holdout` (its metrics and its
``challenge``, which trains the warm-started challenger and scores both models on the same holdout), e.g. the
forecasting and classification tasks.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..tasks import get_task
from ._registry import ModelRegistry

logger = logging.getLogger(__name__)

@dataclasses.dataclass(frozen=True)
class RetrainDecision:
    """The outcome of `retrain`: both holdout scores on ``metric`` (and all scores), the versions, whether the
    challenger was promoted and why, and the challenger's run directory."""

    name: str
    task: str
    metric: str
    champion_version: int
    challenger_version: int
    champion_score: float
    challenger_score: float
    promoted: bool
    reason: str
    min_improvement: float
    champion_scores: dict[str, float]
    challenger_scores: dict[str, float]
    run_dir: Path
    time: str

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON-able data (the line written to ``retrain.jsonl``)."""
        return {**dataclasses.asdict(self), "run_dir": str(self.run_dir)}


def decide(
    champion: float, challenger: float, min_improvement: float = 0.0, *, higher_is_better: bool = False
) -> tuple[bool, str]:
    """``(promote, reason)`` for two holdout scores (see the module docstring).

    >>> decide(10.0, 9.0)
    (True, 'challenger 9 < champion 10')
    >>> decide(10.0, 9.5, min_improvement=0.1)
    (False, 'challenger 9.5 is not below champion 10 by 10% (needs < 9)')
    >>> decide(0.8, 0.8, higher_is_better=True)
    (False, 'challenger 0.8 is not above champion 0.8')
    """
    if not 0 <= min_improvement < 1:
        raise ValueError(f"min_improvement must be in [0, 1), got {min_improvement}")
    if not math.isfinite(challenger):
        return False, f"challenger score is {challenger}"
    if not math.isfinite(champion):
        return True, f"champion score is {champion}, challenger {challenger:.6g}"
    sign, op, side = (-1, ">", "above") if higher_is_better else (1, "<", "below")
    bar = champion - sign * min_improvement * abs(champion)
    if sign * challenger < sign * bar:
        return True, f"challenger {challenger:.6g} {op} champion {champion:.6g}"
    margin = f" by {min_improvement:.0%} (needs {op} {bar:.6g})" if min_improvement else ""
    return False, f"challenger {challenger:.6g} is not {side} champion {champion:.6g}{margin}"


def retrain(
    registry: ModelRegistry,
    name: str,
    new_data: Any,
    *,
    holdout: Any = None,
    metric: str | None = None,
    min_improvement: float = 0.0,
    steps: int | None = None,
    overrides: Sequence[str] = (),
    run_dir: str | Path | None = None,
    trainer: Callable[..., Path] | None = None,
    progress: bool = False,
) -> RetrainDecision:
    """Re-train the production version of ``name`` on ``new_data`` and promote the result only if better.

    - ``new_data``, ``holdout``: data of the kind the task's ``challenge`` reads (its docstring says which,
      e.g. `recurrax.tasks.forecast.challenge_forecast`); the holdout is scored by both models. None: the
      challenge cuts a holdout from ``new_data`` and the challenger trains on the rest.
    - ``metric``: the holdout score that decides, one of the task's `recurrax.tasks.Holdout` ``metrics``
      (default its ``default``); ``min_improvement``: the relative margin (see `decide`).
    - ``steps``, ``overrides`` (``"section.key=value"``, as ``--set``): changes to the champion's config for
      the challenger (default: the champion's own config, all its ``train.steps``).
    - ``run_dir``: the challenger's run directory (default ``runs/retrain-<name>-<time>``).
    - ``trainer``: replaces the task's warm-start function (e.g. `recurrax.tasks.classify.warm_fit_classifier`;
      same arguments without ``progress``; returns the run directory), e.g. in tests.
    """
    champion = registry.get(name, stage="production")
    if champion.kind != "checkpoint":
        raise ValueError(f"{name} version {champion.version} is an exported artifact; re-training needs a checkpoint")
    holdout_spec = get_task(champion.task, having="holdout", purpose="re-train").holdout
    metric = holdout_spec.default if metric is None else metric
    if metric not in holdout_spec.metrics:
        raise ValueError(f"unknown metric {metric!r} for {champion.task}; choose one of {', '.join(holdout_spec.metrics)}")
    holdout_spec.check_metric(metric, champion.config or {})
    higher = metric in holdout_spec.higher_is_better
    decide(0.0, 0.0, min_improvement)  # checks min_improvement before any training
    run_dir = Path(run_dir or Path("runs") / time.strftime(f"retrain-{name}-%Y%m%d-%H%M%S"))
    if (run_dir / "checkpoints").exists():
        raise ValueError(f"{run_dir} already holds a run; give a new run directory")
    settings = [*([] if steps is None else [f"train.steps={steps}"]), *overrides]
    champion_scores, challenger_scores = holdout_spec.challenge(
        champion.path, new_data, holdout, settings, run_dir, trainer, progress
    )

    promoted, reason = decide(champion_scores[metric], challenger_scores[metric], min_improvement,
                              higher_is_better=higher)  # fmt: skip
    decision = {
        "champion_version": champion.version,
        "champion_score": champion_scores[metric],
        "challenger_score": challenger_scores[metric],
        "metric": metric,
        "promoted": promoted,
        "reason": reason,
        "min_improvement": min_improvement,
    }
    version = registry.register(
        name, run_dir, metrics=challenger_scores, stage="production" if promoted else "archived",
        notes={"retrain": decision, "warm_start": {"name": name, "version": champion.version}},
    )  # fmt: skip
    result = RetrainDecision(
        name=name, task=champion.task, metric=metric, champion_version=champion.version, challenger_version=version,
        champion_score=champion_scores[metric], challenger_score=challenger_scores[metric], promoted=promoted,
        reason=reason, min_improvement=min_improvement, champion_scores=champion_scores,
        challenger_scores=challenger_scores, run_dir=run_dir,
        time=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    with open(registry.log_path(name), "a") as log:
        log.write(json.dumps(result.to_dict()) + "\n")
    logger.info("retrain %s: %s version %d (%s)", name, "promoted" if promoted else "refused", version, reason)
    return result
