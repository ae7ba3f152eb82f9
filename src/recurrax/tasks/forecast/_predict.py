"""`predict` and `Forecast`: forecasts of a trained model (single, ensemble, sampled paths) in data units (by
`forecast_outputs`, the function that the exported model runs too), and `scaled_windows`, the model inputs of
training and validation windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ...data import Scaler, Windows, check_covariates, last_inputs, left_aligned, scale_rows, window_stats
from ._config import ForecastConfig
from ._covariate_scaling import CovariateScaler
from ._ensemble import ForecastEnsemble
from ._inference import Options, check_levels, forecast_outputs, forecast_tables
from ._model import Forecaster
from ._sampling import check_sampling, sample_in_chunks
from ._seq2seq import Seq2SeqForecaster


@dataclass
class Forecast:
    """Forecasts in data units: ``mean`` ``[N, H]`` (the point forecast), ``quantiles`` ``[N, H, K]`` at
    ``levels`` ``[K]`` (None for a point head or when no levels were asked) and, when `predict` sampled
    paths, the ``samples`` ``[S, N, H]``."""

    mean: np.ndarray
    quantiles: np.ndarray | None = None
    levels: np.ndarray | None = None
    samples: np.ndarray | None = None

    def interval(self, coverage: float) -> tuple[np.ndarray, np.ndarray]:
        """The central interval of ``coverage`` (e.g. 0.8: the 0.1 and 0.9 quantiles), each ``[N, H]``."""
        lo, hi = (1 - coverage) / 2, (1 + coverage) / 2
        if self.levels is None or self.quantiles is None:
            raise ValueError("this forecast holds no quantiles; predict with levels")
        found = [int(np.argmin(np.abs(self.levels - q))) for q in (lo, hi)]
        if not np.allclose(self.levels[found], [lo, hi]):
            raise ValueError(f"levels {self.levels.tolist()} lack {lo} and {hi}")
        return self.quantiles[..., found[0]], self.quantiles[..., found[1]]


def scaled_windows(
    windows: Windows, cfg: ForecastConfig, scaler: Scaler | None, covariate_scaler: CovariateScaler | None = None
) -> dict[str, np.ndarray]:
    """Model inputs of ``windows``: ``inputs``, ``lengths``, ``targets`` scaled, the ``loc``/``scale`` used and,
    with covariates, ``past`` and ``future`` (mapped by ``covariate_scaler`` when given; padding stays 0)."""
    if scaler is None:
        stats = window_stats(jnp.asarray(windows.inputs, jnp.float32), jnp.asarray(windows.lengths), cfg.data.scaler)
        loc, scale = (np.asarray(a, np.float64) for a in stats)
    else:
        loc, scale = scaler.loc[windows.series], scaler.scale[windows.series]
    inputs = scale_rows(windows.inputs, windows.lengths, loc, scale)
    targets = (windows.targets - loc[:, None]) / scale[:, None]
    covariates = {} if windows.past is None else {"past": windows.past, "future": windows.future}
    if covariates and covariate_scaler is not None:
        valid = np.arange(windows.past.shape[1]).reshape(1, -1, 1) < windows.lengths.reshape(-1, 1, 1)
        covariates = {"past": np.where(valid, covariate_scaler(windows.past), 0.0),
                      "future": covariate_scaler(windows.future)}  # fmt: skip
    return {"inputs": inputs, "lengths": windows.lengths, "targets": targets, "loc": loc, "scale": scale,
            **covariates}  # fmt: skip


def device_batch(data: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    """The model's batch of `scaled_windows` on the device: int32 ``lengths``, float32 the rest."""
    names = [k for k in ("inputs", "lengths", "targets", "loc", "scale", "past", "future") if k in data]
    return {k: jnp.asarray(data[k], jnp.int32 if k == "lengths" else jnp.float32) for k in names}


def predict(
    model: Forecaster | Seq2SeqForecaster | ForecastEnsemble,
    cfg: ForecastConfig,
    values: Sequence[np.ndarray],
    *,
    scaler: Scaler | None = None,
    levels: Sequence[float] | None = None,
    covariates: Sequence[np.ndarray] | None = None,
    future: np.ndarray | None = None,
    covariate_scaler: CovariateScaler | None = None,
    samples: int | None = None,
    key: jax.Array | None = None,
    chunk: int = 1024,
) -> Forecast:
    """Forecasts of the next ``horizon`` steps after each history ``values[i]`` (data units).

    ``scaler``: the run's series scaler (series scaling), None for window scaling. ``levels``: quantile
    levels in (0, 1) for prediction intervals (needs a probabilistic head). A `ForecastEnsemble` forecasts
    the median over its members of their point forecasts and of their quantiles. A model trained with
    ``K`` covariates needs ``covariates`` (``[n_i, K]`` per history) and ``future`` ``[N, H, K]`` (those of
    the forecast steps: `SeriesSet.last_covariates` after `SeriesSet.split_last`, or `future_covariates`),
    in data units, and the run's ``covariate_scaler`` when it scaled exogenous or static covariates
    (``data.covariate_scaler = "standard"``, `ForecastRun.covariate_scaler`).

    ``samples = S`` (a recursive model with a gaussian, student_t or quantile head; needs ``key``): sample
    ``S`` paths (`sample_paths`, DeepAR's ancestral sampling) instead of feeding the point forecast back;
    ``mean`` is then the mean of the paths, ``quantiles`` their empirical quantiles at ``levels`` (multi-step
    intervals with the accumulated error) and ``Forecast.samples`` the paths ``[S, N, H]`` (an ensemble of
    ``M``: ``S`` per member, pooled, ``[M S, N, H]``). Histories are forecast ``chunk`` at a time.
    """
    if samples is not None:
        check_sampling(model)
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        if key is None:
            raise ValueError("samples needs a key, e.g. key=jax.random.key(0)")
    inputs, lengths = last_inputs(values, cfg.data.input_size)
    extra = _predict_covariates(model, cfg, values, covariates, future)
    if extra and covariate_scaler is None and scales_covariates(cfg):
        raise ValueError("the model was trained on standardised exogenous and static covariates: pass "
                         "covariate_scaler=run.covariate_scaler")  # fmt: skip
    if samples is not None:
        windows = Windows(inputs, lengths, np.zeros((len(values), model.horizon)), np.arange(len(values)), **extra)
        data = scaled_windows(windows, cfg, scaler, covariate_scaler)
        loc, scale = data["loc"][:, None], data["scale"][:, None]
        paths = sample_in_chunks(model, data["inputs"], data["lengths"], samples, key=key) * scale + loc
        if levels is None:
            return Forecast(paths.mean(axis=0), samples=paths)
        levels = np.asarray(levels, np.float64)
        return Forecast(paths.mean(axis=0), np.moveaxis(np.quantile(paths, levels, axis=0), 0, -1), levels, paths)
    wanted = () if levels is None else check_levels(model, levels)
    options = Options(cfg.data.input_size, cfg.data.scaler, wanted)
    tables = forecast_tables(scaler, covariate_scaler, extra["past"].shape[-1] if extra else 0)
    rows = {"history": inputs, "lengths": lengths, **extra}
    if scaler is not None:
        rows["series"] = np.arange(len(values))
    parts = [
        forecast_outputs(model, tables, _device_rows({k: v[start : start + chunk] for k, v in rows.items()}), options)
        for start in range(0, len(values), chunk)
    ]
    mean = np.concatenate([np.asarray(p["mean"], np.float64) for p in parts])
    if not wanted:
        return Forecast(mean)
    quantiles = np.concatenate([np.asarray(p["quantiles"], np.float64) for p in parts])
    return Forecast(mean, quantiles, np.asarray(wanted, np.float64))


def _device_rows(rows: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    """`forecast_outputs`' inputs on the device: int32 ``lengths`` and ``series``, float32 the rest."""
    return {k: jnp.asarray(v, jnp.int32 if k in ("lengths", "series") else jnp.float32) for k, v in rows.items()}


def _predict_covariates(model: Any, cfg: ForecastConfig, values: Sequence[np.ndarray],
                        covariates: Sequence[np.ndarray] | None, future: np.ndarray | None) -> dict[str, np.ndarray]:  # fmt: skip
    """``past`` and ``future`` windows of `predict`, checked against what the model takes."""
    count = model.members.covariates if isinstance(model, ForecastEnsemble) else getattr(model, "covariates", 0)
    if count == 0:
        if covariates is not None or future is not None:
            raise ValueError("the model was trained without covariates; do not pass covariates or future")
        return {}
    names = cfg.data.covariate_names
    if covariates is None or future is None:
        raise ValueError(f"the model takes {count} covariates {names}: give covariates (of the histories) and "
                         f"future (of the {model.horizon} forecast steps, [N, H, K])")  # fmt: skip
    check_covariates(values, covariates)
    if np.shape(future) != (len(values), model.horizon, count):
        raise ValueError(f"future covariates must be [N, H, K] = {[len(values), model.horizon, count]} "
                         f"({names}), got shape {list(np.shape(future))}")  # fmt: skip
    if not np.isfinite(future).all():
        raise ValueError("future covariates hold NaN or inf")
    if covariates[0].shape[1] != count:
        raise ValueError(f"covariates must have K = {count} columns ({names}), got {covariates[0].shape[1]}")
    past = np.stack([left_aligned(c, cfg.data.input_size)[0] for c in covariates])
    return {"past": past, "future": np.asarray(future, np.float64)}


def scales_covariates(cfg: ForecastConfig) -> bool:
    """Whether the run standardises covariates: ``data.covariate_scaler`` standard, with exogenous or static ones."""
    return cfg.data.covariate_scaler == "standard" and bool(cfg.data.exogenous + cfg.data.static)
