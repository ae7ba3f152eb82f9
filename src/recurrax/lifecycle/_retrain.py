"""`retrain`: warm-start a challenger from the production model on new data, score challenger and champion
on the same holdout, and promote the challenger only if it is better.

The decision rule (``champion`` and ``challenger`` are the two holdout scores, ``m`` the relative
``min_improvement``, 0 by default), for a metric where lower is better (mirrored where higher is)::

    promote  <=>  challenger < champion - m * |champion|        (strictly better; a NaN never promotes)

The challenger is always registered (with its holdout scores and the decision under ``notes["retrain"]``):
promoted, it becomes ``production`` and the champion is archived; refused, it is registered ``archived``.
Every decision is also appended as one JSON line to the model's ``retrain.jsonl`` in the registry and logged
(logger ``recurrax.lifecycle._retrain``).

Tasks: ``forecast`` (`warm_fit_forecast`; scores of `recurrax.tasks.forecast.holdout_forecast`) and
``classify`` (`warm_fit_classifier`; holdout ``loss``: the task's class-weighted cross-entropy, ``accuracy``,
``macro_f1``).
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

import numpy as np

from ..config import load_config, to_toml
from ..train import find_checkpoint, read_meta, start_run_dir
from ._registry import ModelRegistry

logger = logging.getLogger(__name__)

METRICS = {  # task: (scores that may decide, the default)
    "forecast": (("mae", "rmse", "smape", "mase", "quantile_loss"), "smape"),
    "classify": (("loss", "accuracy", "macro_f1"), "loss"),
}
HIGHER_IS_BETTER = ("accuracy", "macro_f1")


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

    - ``new_data``: forecast: a `SeriesSet` or a long-frame file (read with the champion's ``data.freq`` and
      ``data.missing``); classify: a file of labelled cases (``.ts``, ``.npz``, ``.csv``: `read_cases`).
    - ``holdout``: the same kind of data, scored by both models. Forecast: each series' last
      ``data.horizon`` values, forecast from the values before them; classify: every case. None: taken from
      ``new_data`` (forecast: its last ``horizon`` values; classify: a stratified ``data.valid_fraction`` of
      its cases), and the challenger trains on the rest.
    - ``metric``: the holdout score that decides (forecast: ``mae``, ``rmse``, ``smape`` (default), ``mase``,
      ``quantile_loss``; classify: ``loss`` (default), ``accuracy``, ``macro_f1``); ``min_improvement``: the
      relative margin (see `decide`).
    - ``steps``, ``overrides`` (``"section.key=value"``, as ``--set``): changes to the champion's config for
      the challenger (default: the champion's own config, all its ``train.steps``).
    - ``run_dir``: the challenger's run directory (default ``runs/retrain-<name>-<time>``).
    - ``trainer``: replaces the task's warm-start function (`warm_fit_forecast`, `warm_fit_classifier`:
      same arguments without ``progress``; returns the run directory), e.g. in tests.
    """
    champion = registry.get(name, stage="production")
    if champion.kind != "checkpoint":
        raise ValueError(f"{name} version {champion.version} is an exported artifact; re-training needs a checkpoint")
    if champion.task not in METRICS:
        raise ValueError(f"re-training supports {', '.join(METRICS)} models; {name} is a {champion.task!r} model")
    choices, default = METRICS[champion.task]
    metric = default if metric is None else metric
    if metric not in choices:
        raise ValueError(f"unknown metric {metric!r} for {champion.task}; choose one of {', '.join(choices)}")
    if metric == "quantile_loss" and ((champion.config or {}).get("model") or {}).get("head") == "point":
        raise ValueError("a point forecaster has no quantile_loss; choose mae, rmse, smape or mase")
    higher = metric in HIGHER_IS_BETTER
    decide(0.0, 0.0, min_improvement)  # checks min_improvement before any training
    run_dir = Path(run_dir or Path("runs") / time.strftime(f"retrain-{name}-%Y%m%d-%H%M%S"))
    if (run_dir / "checkpoints").exists():
        raise ValueError(f"{run_dir} already holds a run; give a new run directory")
    challenge = _challenge_forecast if champion.task == "forecast" else _challenge_classify
    settings = [*([] if steps is None else [f"train.steps={steps}"]), *overrides]
    champion_scores, challenger_scores = challenge(
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


def warm_fit_forecast(model: Any, cfg: Any, series: Any, run_dir: str | Path, *, progress: bool = False) -> Path:
    """Train the `Forecaster` ``model`` further on ``series`` (a `SeriesSet`) as ``cfg`` says, into the run
    directory ``run_dir`` (returned): `fit_forecast` started from ``model`` (a series scaler is refit on
    ``series``; the optimiser starts afresh). Ensembles are not supported."""
    from ..tasks.forecast import fit_forecast

    return fit_forecast(cfg, series, run_dir, init=model, progress=progress).run_dir


def warm_fit_classifier(
    model: Any, cfg: Any, cases: tuple[list[np.ndarray], list[str]], run_dir: str | Path, classes: Sequence[str],
    *, progress: bool = False,
) -> Path:  # fmt: skip
    """Train the `SequenceClassifier` ``model`` further on raw labelled ``cases`` (``(series, labels)``, as
    `read_cases` returns them) as ``cfg`` says, with the champion's ``classes`` order, into ``run_dir``
    (returned): `fit_classifier`'s training started from ``model`` (the scaler is refit on the new cases;
    the optimiser starts afresh)."""
    from ..tasks.classify import prepare, train_classifier

    run_dir = start_run_dir(run_dir, to_toml(cfg), False)
    data = prepare({"train": cases}, cfg.data, cfg.train.seed, classes=tuple(classes))
    return train_classifier(cfg, data, run_dir, init=model, progress=progress).run_dir


def _challenge_forecast(champion_path, new_data, holdout, settings, run_dir, trainer, progress):
    """Train the forecast challenger; ``(champion scores, challenger scores)`` on the same holdout."""
    from ..tasks import forecast

    champion = forecast.load_forecast(champion_path)
    fixed = ["data.validate=false", "train.early_stopping_patience=0"]  # no validation split to stop on
    cfg = _challenger_config(champion.config, run_dir, [*fixed, *settings])
    series = _series(new_data, cfg.data, "new_data")
    history, actual = _split(series if holdout is None else _series(holdout, cfg.data, "holdout"), cfg.data.horizon)
    train = history if holdout is None else series
    if trainer is None:
        warm_fit_forecast(champion.model, cfg, train, run_dir, progress=progress)
    else:
        trainer(champion.model, cfg, train, run_dir)
    challenger = forecast.load_forecast(run_dir)
    return tuple(forecast.holdout_forecast(run, history, actual)[0] for run in (champion, challenger))


def _challenge_classify(champion_path, new_data, holdout, settings, run_dir, trainer, progress):
    """Train the classify challenger; ``(champion scores, challenger scores)`` on the same holdout cases."""
    from ..tasks.classify import load_classifier
    from ..tasks.classify._data import stratified_split

    champion = load_classifier(champion_path)
    cfg = _challenger_config(champion.config, run_dir, settings)
    cases = _cases(new_data, "new_data", champion)
    if holdout is None:
        labels = np.asarray(cases[1])
        keep, held = stratified_split(labels, cfg.data.valid_fraction, cfg.train.seed)
        test = ([cases[0][i] for i in held], labels[held].tolist())
        cases = ([cases[0][i] for i in keep], labels[keep].tolist())
    else:
        test = _cases(holdout, "holdout", champion)
    if trainer is None:
        warm_fit_classifier(champion.model, cfg, cases, run_dir, champion.classes, progress=progress)
    else:
        trainer(champion.model, cfg, cases, run_dir, champion.classes)
    return _classify_scores(champion_path, test), _classify_scores(run_dir, test)


def _cases(data: Any, what: str, champion: Any) -> tuple[list[np.ndarray], list[str]]:
    from ..tasks.classify import read_cases

    try:
        series, labels = read_cases(Path(data))
    except TypeError:
        raise ValueError(f"{what} must be a path to labelled cases (.ts, .npz or .csv), got {data!r}") from None
    unknown = sorted(set(labels) - set(champion.classes))
    if unknown:
        raise ValueError(f"{what} has classes the production model does not know: {unknown[:5]}")
    if any(s.shape[1] != champion.mean.size for s in series):
        raise ValueError(f"{what} must have {champion.mean.size} features per step, like the production model")
    return series, labels


def _classify_scores(path: Path, cases: tuple[list[np.ndarray], list[str]]) -> dict[str, float]:
    """Holdout ``loss``, ``accuracy`` and ``macro_f1`` of the classifier at ``path``. The loss is the task's
    (`weighted_cross_entropy`), with the class weights of the run's ``data.class_weights`` computed from the
    holdout labels, so champion and challenger are weighed alike (plain mean cross-entropy for ``"none"``)."""
    import jax.numpy as jnp

    from ..data import pad_series
    from ..tasks.classify import accuracy, class_weights, macro_f1, predict_classifier, weighted_cross_entropy

    meta = read_meta(find_checkpoint(path))
    classes = meta["classes"]
    xs, lengths = pad_series(cases[0])
    _, probabilities = predict_classifier(path, xs, lengths)
    truth = np.asarray([classes.index(label) for label in cases[1]])
    predicted = probabilities.argmax(axis=-1)
    weights = class_weights(truth, len(classes), meta["config"]["data"]["class_weights"])
    log_probabilities = jnp.log(jnp.maximum(jnp.asarray(probabilities), 1e-12))
    loss = weighted_cross_entropy(log_probabilities, jnp.asarray(truth), jnp.asarray(weights))
    scores = {"loss": float(loss), "accuracy": accuracy(truth, predicted)}
    return {**scores, "macro_f1": macro_f1(truth, predicted, len(classes))}


def _challenger_config(cfg: Any, run_dir: Path, settings: Sequence[str]) -> Any:
    """The champion's config with ``settings`` (``section.key=value``) applied, through a TOML file."""
    run_dir.mkdir(parents=True, exist_ok=True)
    base = run_dir / "champion_config.toml"
    base.write_text(to_toml(cfg))
    return load_config(type(cfg), base, settings)


def _series(data: Any, cfg: Any, what: str) -> Any:
    from ..tasks import forecast

    if isinstance(data, forecast.SeriesSet):
        return data
    if isinstance(data, (str, Path)):
        return forecast.load_series(cfg, data)
    raise ValueError(f"{what} must be a SeriesSet or a path to a long frame, got {type(data).__name__}")


def _split(series: Any, horizon: int) -> tuple[Any, np.ndarray]:
    history, actual = series.split_last(horizon)
    return history, np.stack(actual)
