"""Runs on a long-frame file, as ``recurrax forecast`` drives them: fit with a holdout, evaluate, predict,
backtest.

The holdout is each series' last ``data.horizon`` values: `fit_holdout` trains on the rest (which
``data.validate`` may split again for validation) and scores the holdout; `evaluate_forecast` scores it
again from the saved run.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from ...metrics import coverage, quantile_loss
from ...train import find_checkpoint, read_meta
from ._auto import candidate_forecasts, fit_auto, lstm_forecast, selected_forecast
from ._backtest import backtest, point_scores
from ._config import DataConfig, ForecastConfig
from ._data import SeriesSet
from ._frames import read_series
from ._plot import write_forecast_plot
from ._predict import Forecast
from ._report import baseline_scores, write_forecast_report
from ._select import scores as selection_scores
from ._run import ForecastRun, fingerprint, fit_forecast, load_forecast

LEVELS = (0.1, 0.5, 0.9)  # the quantile levels that the holdout is scored at (0.1..0.9: the 80% interval)


def load_series(cfg: DataConfig, path: str | Path | None = None) -> SeriesSet:
    """The series of the long frame at ``path`` (default ``cfg.path``), read with ``cfg.freq`` and
    ``cfg.missing``."""
    source = cfg.path if path is None else path
    if source is None:
        raise ValueError("no data: set data.path (or give --data) to a .csv or .parquet file of unique_id, ds, y")
    return read_series(source, freq=cfg.freq, missing=cfg.missing, calendar=cfg.calendar, exogenous=cfg.exogenous,
                       static=cfg.static)  # fmt: skip


def predict_series(
    run: ForecastRun,
    series: SeriesSet,
    levels: Sequence[float] | None = None,
    future: np.ndarray | None = None,
    *,
    samples: int | None = None,
    key: jax.Array | None = None,
) -> Forecast:
    """`predict` the ``horizon`` steps after the end of each of ``series`` with the run's model (``levels``:
    quantile levels for intervals; ``future``: the covariates ``[N, H, K]`` of the forecast steps, for a
    model with covariates; ``samples``, ``key``: sampled paths of a recursive model, see `predict`). A run
    with series scaling only forecasts its own training series.

    A run of `fit_auto` (``run.selection``) forecasts with the forecaster chosen on validation, the refit
    LSTM or a baseline fitted on ``series``, and replaces forecasts outside the plausible range by the
    seasonal naive ones with a warning (`selected_forecast`)."""
    if run.scaler is not None and run.scaler.loc.size != len(series):
        raise ValueError(
            f"the run scales each of its {run.scaler.loc.size} training series (data.scale_scope 'series') and "
            f"got {len(series)} series; give the same series in the same order, or train with scale_scope 'window'"
        )
    if run.selection is not None:
        return selected_forecast(run, series, levels, future, samples=samples, key=key)
    return lstm_forecast(run, series, levels, future, samples=samples, key=key)


def holdout_forecast(
    run: ForecastRun, history: SeriesSet, actual: np.ndarray, future: np.ndarray | None = None
) -> tuple[dict[str, float], Forecast]:
    """Scores of the run's forecasts after ``history`` against ``actual`` ``[N, H]`` (``future``: the
    covariates of the holdout steps, for a model with covariates), and the forecast.

    `point_scores` (``mae``, ``rmse``, ``smape``, ``mase`` with ``data.period``); a probabilistic head adds
    ``coverage_80`` (the fraction of actuals within the 0.1 to 0.9 quantiles) and ``quantile_loss`` (the mean
    pinball loss at 0.1, 0.5, 0.9)."""
    probabilistic = run.model.head != "point" and (run.selection is None or run.selection.winner == "lstm")
    forecast = predict_series(run, history, LEVELS if probabilistic else None, future)
    scores = point_scores(actual, forecast.mean, history.values, run.config.data.period)
    if probabilistic:
        scores["coverage_80"] = coverage(actual, *forecast.interval(0.8))
        scores["quantile_loss"] = quantile_loss(actual, forecast.quantiles, LEVELS)
    return scores, forecast


def fit_holdout(
    cfg: ForecastConfig, run_dir: str | Path, *, resume: bool = False, progress: bool = True
) -> tuple[ForecastRun, dict[str, float]]:
    """`fit_forecast` (`fit_auto` for ``model.kind = "auto"``) on the series of ``data.path`` without their
    holdout, then score the holdout (`holdout_forecast`: an auto run's chosen forecaster). Besides the run's
    files writes ``holdout.json`` (the scores), ``holdout.png`` (history, forecast, 80% interval and actuals of
    the first six series) and ``report.md`` (the set-up and the holdout scores beside the naive and seasonal
    naive forecasts', `write_forecast_report`; an auto run adds every candidate's validation and holdout
    scores and the forecasts the plausibility catch replaced)."""
    history, actual, future = _split(load_series(cfg.data), cfg.data.horizon)
    auto = cfg.model.kind == "auto"
    fit_run = fit_auto if auto else fit_forecast
    run = fit_run(cfg, history, run_dir, resume=resume, progress=progress)
    candidates = None
    if auto:  # every candidate's holdout forecast (the winner's is the run's: `selected_forecast`)
        forecasts, caught, _, _ = candidate_forecasts(list(run.selection.validation), run, history, future,
                                                      run.selection.weights)  # fmt: skip
        candidates = {name: {**selection_scores(actual, f, history.values, cfg.data.period),
                             "caught": int(caught[name].sum())} for name, f in forecasts.items()}  # fmt: skip
    if auto and run.selection.winner != "lstm":
        forecast = Forecast(forecasts[run.selection.winner])
        scores = point_scores(actual, forecast.mean, history.values, cfg.data.period)
    else:
        with warnings.catch_warnings():  # the report counts the caught forecasts
            warnings.simplefilter("ignore", RuntimeWarning)
            scores, forecast = holdout_forecast(run, history, actual, future)
    (run.run_dir / "holdout.json").write_text(json.dumps(scores, indent=1) + "\n")
    baselines = baseline_scores(history, actual, cfg.data.horizon, cfg.data.period)
    derived = [f"{key} = {used}" for key, given, used in (
        ("data.input_size", cfg.data.input_size, run.config.data.input_size),
        ("train.steps", cfg.train.steps, run.config.train.steps),
        ("model.ensemble", cfg.model.ensemble, run.config.model.ensemble),
    ) if given is None and auto]  # fmt: skip
    write_forecast_report(run.run_dir / "report.md", run.config, history, scores, baselines,
                          selection=run.selection, candidates=candidates, derived=derived)  # fmt: skip
    lower, upper = (None, None) if forecast.quantiles is None else forecast.interval(0.8)
    write_forecast_plot(run.run_dir / "holdout.png", history.values, forecast.mean, actuals=actual, lower=lower,
                        upper=upper, titles=history.ids)  # fmt: skip
    return run, scores


def evaluate_forecast(path: str | Path, *, data: str | Path | None = None) -> dict[str, float]:
    """The holdout scores (`holdout_forecast`) of a saved run on its data: ``data`` or the run's
    ``data.path``, which must hold the series it was trained on (the fingerprint is checked)."""
    run = load_forecast(path)
    history, actual, future = _split(load_series(run.config.data, data), run.config.data.horizon)
    if fingerprint(history) != read_meta(find_checkpoint(path)).get("data_fingerprint"):
        raise ValueError(f"the data differ from those {path} was trained on (the holdout is their last values)")
    return holdout_forecast(run, history, actual, future)[0]


def backtest_run(run: ForecastRun, series: SeriesSet, *, origins: int = 3, step: int | None = None) -> list[dict]:
    """`backtest` of the run's model on ``series`` (its ``horizon`` and ``period``). The model is not
    refit: an origin before the holdout forecasts values it was trained on, so its scores are optimistic."""
    d = run.config.data

    def forecaster(histories: list[np.ndarray]) -> np.ndarray:
        if series.covariates is None:
            return predict_series(run, SeriesSet(series.ids, histories)).mean
        past = [c[: h.size] for c, h in zip(series.covariates, histories)]
        future = np.stack([c[h.size : h.size + d.horizon] for c, h in zip(series.covariates, histories)])
        return predict_series(run, SeriesSet(series.ids, histories, None, past), future=future).mean

    return backtest(forecaster, series.values, d.horizon, origins=origins, step=step, period=d.period)


def backtest_table(rows: list[dict]) -> pd.DataFrame:
    """The rows of `backtest` (one per origin) and an ``all`` row with their means, as a frame (``origin`` as
    text: the steps before the end, or ``all``)."""
    frame = pd.DataFrame(rows)
    means = frame.drop(columns="origin").mean()
    return pd.concat([frame.astype({"origin": str}), pd.DataFrame([{"origin": "all", **means}])],
                     ignore_index=True)  # fmt: skip


def _split(series: SeriesSet, horizon: int) -> tuple[SeriesSet, np.ndarray, np.ndarray | None]:
    history, holdout = series.split_last(horizon)
    return history, np.stack(holdout), series.last_covariates(horizon)
