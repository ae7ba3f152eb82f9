"""Re-training a forecaster (`recurrax.lifecycle.retrain`): the warm-started challenger and both models' scores
on the same holdout (each series' last ``data.horizon`` values, forecast from the values before them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._retraining import challenger_config
from ._config import DataConfig, ForecastConfig
from ._data import SeriesSet
from ._holdout import holdout_forecast, load_series
from ._run import fit_forecast, load_forecast

def warm_fit_forecast(model: Any, cfg: ForecastConfig, series: SeriesSet, run_dir: str | Path, *,
                      progress: bool = False) -> Path:  # fmt: skip
    """Train the `Forecaster` ``model`` further on ``series`` as ``cfg`` says, into the run directory
    ``run_dir`` (returned): `fit_forecast` started from ``model`` (a series scaler is refit on ``series``; the
    optimiser starts afresh). Ensembles are not supported."""
    return fit_forecast(cfg, series, run_dir, init=model, progress=progress).run_dir


def challenge_forecast(
    champion_path: Path, new_data: Any, holdout: Any, settings: Sequence[str], run_dir: Path,
    trainer: Callable[..., Path] | None, progress: bool,
) -> tuple[dict[str, float], dict[str, float]]:  # fmt: skip
    """Train the challenger on ``new_data`` (a `SeriesSet` or a long-frame file, read with the champion's
    ``data.freq`` and ``data.missing``; without a ``holdout``, all but each series' last ``horizon`` values)
    and return ``(champion scores, challenger scores)`` on the holdout (`holdout_forecast`)."""
    champion = load_forecast(champion_path)
    fixed = ["data.validate=false", "train.early_stopping_patience=0"]  # no validation split to stop on
    cfg = challenger_config(champion.config, run_dir, [*fixed, *settings])
    series = _series(new_data, cfg.data, "new_data")
    history, actual = _split(series if holdout is None else _series(holdout, cfg.data, "holdout"), cfg.data.horizon)
    train = history if holdout is None else series
    if trainer is None:
        warm_fit_forecast(champion.model, cfg, train, run_dir, progress=progress)
    else:
        trainer(champion.model, cfg, train, run_dir)
    challenger = load_forecast(run_dir)
    return tuple(holdout_forecast(run, history, actual)[0] for run in (champion, challenger))


def check_metric(metric: str, config: dict[str, Any]) -> None:
    """A point forecaster has no ``quantile_loss``."""
    if metric == "quantile_loss" and (config.get("model") or {}).get("head") == "point":
        raise ValueError("a point forecaster has no quantile_loss; choose mae, rmse, smape or mase")


def _series(data: Any, cfg: DataConfig, what: str) -> SeriesSet:
    if isinstance(data, SeriesSet):
        return data
    if isinstance(data, (str, Path)):
        return load_series(cfg, data)
    raise ValueError(f"{what} must be a SeriesSet or a path to a long frame, got {type(data).__name__}")


def _split(series: SeriesSet, horizon: int) -> tuple[SeriesSet, np.ndarray]:
    history, actual = series.split_last(horizon)
    return history, np.stack(actual)
