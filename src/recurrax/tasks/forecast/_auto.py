"""`fit_auto`: ``model.kind = "auto"``, forecasting that never loses to the baselines it ships (on validation).

1. Settings left out are derived from the training history (`resolve_config`: history window, training
   steps; auto's LSTM is a 3-member `ForecastEnsemble` of direct forecasters unless ``model.ensemble`` says
   otherwise).
2. Each candidate of ``model.candidates`` forecasts the last ``horizon`` values of every series from the
   values before them (series not longer than ``horizon`` are left out of validation, with a note): the LSTM
   trained on those values (its run in ``run_dir/validation``) and the baselines naive, seasonal naive (with
   a period > 1), Theta and ETS (statsmodels; skipped with a note when it is not installed). Every forecast
   passes the plausibility catch (`catch_implausible`).
3. ``model.select = "combination"`` (the default): of the candidates whose mean MASE over series is within 1.5
   times the best, the ``model.combination_size`` (3) best are combined with weights proportional to the
   inverse of their MASE (`combination_weights`; a candidate that far ahead of the rest forecasts alone);
   ``"best"``: the lowest mean MASE alone (`Selection`; why MASE: `_select`). The collection gets one
   forecaster: a per-series choice would pick on one window of ``horizon`` values per series, which is mostly
   noise. On the M3 and M1 development splits the combination of the three best beat the best alone and the
   combination of every candidate within 1.5 times the best (docs/forecast.md).
4. The LSTM is refit on the whole history with the same settings (the run in ``run_dir``, whose checkpoints
   keep the selection in ``meta.json``; ``selection.json`` beside them). `predict_series` forecasts with the
   winner: the refit LSTM, or the baseline fitted on the histories it is given (no training needed), then
   the plausibility catch with a warning.

"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from ...train import find_checkpoint, read_meta
from ._config import ForecastConfig
from ._data import SeriesSet
from ._derive import AUTO_ENSEMBLE, resolve_config
from ._predict import Forecast, predict
from ._run import ForecastRun, fingerprint, fit_forecast
from ._select import (
    K_RANGE,
    NEEDS_STATSMODELS,
    Selection,
    baseline_forecast,
    catch_implausible,
    combination_weights,
    combine,
    has_statsmodels,
    scores,
)

EXPORT_FIX = "--set model.kind=direct"


def auto_config(cfg: ForecastConfig, values: Sequence[np.ndarray]) -> ForecastConfig:
    """The settings auto trains its LSTM with: ``cfg`` resolved on the histories ``values``
    (`resolve_config`), ``model.ensemble`` 3 when left out."""
    if cfg.model.ensemble is None:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, ensemble=AUTO_ENSEMBLE))
    return resolve_config(cfg, values)


def candidate_names(cfg: ForecastConfig) -> tuple[list[str], list[str]]:
    """The candidates auto compares for ``cfg`` and notes on those left out (seasonal naive with period 1 is
    the naive forecast; theta and ets without statsmodels)."""
    names, notes = list(cfg.model.candidates), []
    if cfg.data.period <= 1 and "seasonal_naive" in names:
        names.remove("seasonal_naive")
        notes.append("seasonal_naive left out: with period 1 it is the naive forecast")
    missing = [n for n in names if n in NEEDS_STATSMODELS]
    if missing and not has_statsmodels():
        names = [n for n in names if n not in NEEDS_STATSMODELS]
        notes.append(f"{' and '.join(missing)} skipped: they need statsmodels (pip install 'recurrax[forecast]')")
    return names, notes


def candidate_forecasts(
    names: Sequence[str],
    run: ForecastRun,
    history: SeriesSet,
    future: np.ndarray | None = None,
    weights: dict[str, float] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[str], dict[str, float]]:
    """Each candidate's forecasts ``[N, H]`` of the ``horizon`` steps after ``history`` (the LSTM: ``run``'s
    model; ``future``: its covariates of those steps; ``combination``: those of ``weights``' candidates
    combined), after the plausibility catch; the caught rows ``[N]`` per candidate; notes on baseline
    fallbacks; the seconds each took."""
    cfg = run.config
    h, period = cfg.data.horizon, cfg.data.period
    forecasts, caught, notes, seconds = {}, {}, [], {}
    singles = [name for name in names if name != "combination"]
    if "combination" in names:
        singles += [name for name in weights if name not in singles]
    for name in singles:
        start = time.perf_counter()
        if name == "lstm":
            raw = lstm_forecast(run, history, future=future).mean
        else:
            raw, failed = baseline_forecast(name, history.values, h, period)
            if failed:
                notes.append(f"{name} failed on {failed} of {len(history)} series, which took the naive forecast")
        forecasts[name], caught[name] = catch_implausible(raw, history.values, period)
        seconds[name] = time.perf_counter() - start
    if "combination" in names:
        mixed = combine(forecasts, weights)
        forecasts["combination"], caught["combination"] = catch_implausible(mixed, history.values, period)
    return {n: forecasts[n] for n in names}, {n: caught[n] for n in names}, notes, seconds


def fit_auto(
    cfg: ForecastConfig, series: SeriesSet, run_dir: str | Path, *, resume: bool = False, progress: bool = True
) -> ForecastRun:
    """Choose between the LSTM and the baselines on validation, refit the LSTM on all of ``series`` and
    write the run directory ``run_dir`` (see the module docstring). Returns the refit run with its
    `Selection` (``run.selection``); `predict_series` forecasts with the winner.

    Example:
        >>> cfg = ForecastConfig(data=DataConfig(horizon=4, period=12))         # doctest: +SKIP
        >>> run = fit_auto(cfg, series, "runs/sales")                          # doctest: +SKIP
        >>> run.selection.winner, run.selection.summary()                      # doctest: +SKIP
        ('seasonal_naive', 'seasonal_naive won on validation (MASE 0.6120), ...')
    """
    if cfg.model.kind != "auto":
        raise ValueError(f"fit_auto needs model.kind 'auto', got {cfg.model.kind!r}; use fit_forecast")
    run_dir, h = Path(run_dir), cfg.data.horizon
    cfg = auto_config(cfg, series.values)
    names, notes = candidate_names(cfg)
    scored = [i for i, y in enumerate(series.values) if y.size > h]
    if not scored:
        raise ValueError(f"model.kind 'auto' scores its candidates on each series' last {h} values, and no series "
                         f"is longer than that; give longer series or set {EXPORT_FIX}")  # fmt: skip
    if len(scored) < len(series):
        notes.append(f"{len(series) - len(scored)} of {len(series)} series are not longer than the horizon: left "
                     "out of validation, forecast by the winner")  # fmt: skip
    fit_history, actual = _subset(series, scored).split_last(h)
    actual = np.stack(actual)
    start = time.perf_counter()
    validation = fit_forecast(cfg, fit_history, run_dir / "validation", resume=resume, progress=progress)
    fitted = time.perf_counter() - start
    forecasts, caught, more, seconds = candidate_forecasts(names, validation, fit_history,
                                                           _subset(series, scored).last_covariates(h))  # fmt: skip
    seconds["lstm"] += fitted
    rows = {name: {**scores(actual, forecasts[name], fit_history.values, cfg.data.period),
                   "caught": int(caught[name].sum())} for name in names}  # fmt: skip
    windows = read_meta(find_checkpoint(validation.run_dir)).get("windows")
    selection = Selection.choose(rows, notes=notes + more, validation_fingerprint=fingerprint(fit_history),
                                 validation_windows=windows, seconds=seconds)  # fmt: skip
    weights = selection.weights
    if cfg.model.select == "combination":
        weights = combination_weights(rows, size=cfg.model.combination_size)
    if len(weights) > 1:  # the combination's validation score, in-sample for its weights
        mixed, hit = catch_implausible(combine(forecasts, weights), fit_history.values, cfg.data.period)
        rows["combination"] = {**scores(actual, mixed, fit_history.values, cfg.data.period), "caught": int(hit.sum())}
        selection = dataclasses.replace(selection, winner="combination", validation=rows, weights=weights)
    run = fit_forecast(cfg, series, run_dir, resume=resume, progress=progress, selection=selection)
    (run_dir / "selection.json").write_text(json.dumps(selection.to_json(), indent=1) + "\n")
    return run


def _subset(series: SeriesSet, rows: list[int]) -> SeriesSet:
    """The series ``rows`` of ``series`` (itself when that is all of them)."""
    if len(rows) == len(series):
        return series
    pick = lambda items: None if items is None else [items[i] for i in rows]  # noqa: E731
    return SeriesSet(pick(series.ids), pick(series.values), pick(series.ds), pick(series.covariates))


def lstm_forecast(
    run: ForecastRun,
    series: SeriesSet,
    levels: Sequence[float] | None = None,
    future: np.ndarray | None = None,
    *,
    samples: int | None = None,
    key: jax.Array | None = None,
) -> Forecast:
    """`predict` of the run's model after each of ``series`` (its covariates, ``future``), as `predict_series`."""
    known = {} if future is None and series.covariates is None else {"covariates": series.covariates,
                                                                       "future": future}  # fmt: skip
    return predict(run.model, run.config, series.values, scaler=run.scaler, levels=levels, samples=samples, key=key,
                   covariate_scaler=run.covariate_scaler, **known)  # fmt: skip


def selected_forecast(
    run: ForecastRun,
    series: SeriesSet,
    levels: Sequence[float] | None = None,
    future: np.ndarray | None = None,
    *,
    samples: int | None = None,
    key: jax.Array | None = None,
) -> Forecast:
    """The forecast of an auto run's winner after each of ``series``: the refit LSTM (`lstm_forecast`), the
    baseline fitted on ``series``, or the combination of those (no quantiles, no samples), then the
    plausibility catch: caught rows take the seasonal naive forecast (their quantiles and samples too) with a
    warning."""
    selection, d = run.selection, run.config.data
    if selection.winner == "lstm":
        forecast = lstm_forecast(run, series, levels, future, samples=samples, key=key)
    else:
        if levels is not None or samples is not None:
            raise ValueError(f"this auto run forecasts with {selection.describe()} (chosen on validation), which "
                             f"gives no quantiles or sampled paths; ask for the mean only, or refit with "
                             f"{EXPORT_FIX}")  # fmt: skip
        if selection.winner == "combination":
            parts = candidate_forecasts(["combination"], run, series, future, selection.weights)[0]
            forecast = Forecast(parts["combination"])
        else:
            forecast = Forecast(baseline_forecast(selection.winner, series.values, d.horizon, d.period)[0])
    mean, caught = catch_implausible(forecast.mean, series.values, d.period)
    if not caught.any():
        return forecast
    ids = [series.ids[i] for i in np.flatnonzero(caught)]
    warnings.warn(f"{len(ids)} of {len(series)} forecasts left the plausible range (more than {K_RANGE:g} times "
                  f"the history's range beyond its minimum or maximum) and were replaced by the seasonal naive "
                  f"forecast: series {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}", RuntimeWarning,
                  stacklevel=2)  # fmt: skip
    quantiles = None if forecast.quantiles is None else forecast.quantiles.copy()
    if quantiles is not None:
        quantiles[caught] = mean[caught][..., None]
    paths = None if forecast.samples is None else forecast.samples.copy()
    if paths is not None:
        paths[:, caught] = mean[caught]
    return Forecast(mean, quantiles, forecast.levels, paths)
