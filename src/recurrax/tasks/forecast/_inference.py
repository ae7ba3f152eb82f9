"""`forecast_outputs`: a trained forecaster's inference from raw histories, which the library's `predict` runs
and the task's export (`recurrax.tasks.forecast.forecast_inference`, the function ``forecast``) wraps.

For each row, the last ``n = min(lengths, L)`` history values (``L = data.input_size``, `last_values`) are
scaled by ``loc``, ``scale`` (the window's own statistics, `window_stats`, or the series scaler's entry
selected by ``series``), covariates by the run's covariate scaler ``(c - loc_c) / scale_c``; the model's raw
head outputs ``[B, H, P]`` give the point forecast (`point_forecast`) and the quantiles at ``levels``
(`raw_quantiles`), mapped back as ``y = y' * scale + loc``. An ensemble forecasts the median over its
members of their point forecasts and of their quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ...data import last_values, window_stats
from ...models import point_forecast, raw_quantiles
from ._covariate_scaling import CovariateScaler
from ._ensemble import ForecastEnsemble


@dataclass(frozen=True)
class Options:
    """The static part of `forecast_outputs`: ``input_size`` ``L``, the window ``method`` (`window_stats`;
    unused with a series scaler) and the quantile ``levels`` (empty: the mean only)."""

    input_size: int
    method: str
    levels: tuple[float, ...] = ()


@eqx.filter_jit
def forecast_outputs(
    model: Any, tables: dict[str, jax.Array], inputs: dict[str, jax.Array], options: Options
) -> dict[str, jax.Array]:
    """``{"mean": [B, H], "quantiles": [B, H, K]}`` (quantiles when ``options.levels``) in data units.

    ``inputs``: ``history`` ``[B, T]`` (each row's first ``lengths[b]`` values, oldest first), ``lengths``
    ``[B]``, and ``series`` ``[B]`` with a series scaler, ``past`` ``[B, T, K]`` and ``future`` ``[B, H, K]``
    with covariates. ``tables``: ``scaler.loc``/``scaler.scale`` ``[S]`` (a series scaler) and
    ``covariates.loc``/``covariates.scale`` ``[K]`` (covariates), as the exported weights name them.
    """
    size = options.input_size
    values, count = last_values(inputs["history"], inputs["lengths"], size)
    if "scaler.loc" in tables:
        loc, scale = tables["scaler.loc"][inputs["series"]], tables["scaler.scale"][inputs["series"]]
    else:
        loc, scale = window_stats(values, count, options.method)
    valid = jnp.arange(size).reshape(1, -1) < count.reshape(-1, 1)
    scaled = jnp.where(valid, (values - loc[:, None]) / scale[:, None], 0.0)
    covariates = {}
    if "covariates.loc" in tables:
        c_loc, c_scale = tables["covariates.loc"].reshape(1, 1, -1), tables["covariates.scale"].reshape(1, 1, -1)
        past = (last_values(inputs["past"], inputs["lengths"], size)[0] - c_loc) / c_scale
        covariates = {"past": jnp.where(valid[..., None], past, 0.0), "future": (inputs["future"] - c_loc) / c_scale}
    raw = model(scaled, count, **covariates)  # an ensemble's: [M, B, H, P]
    members = isinstance(model, ForecastEnsemble)
    point = point_forecast(model.head, raw, model.quantiles)
    out = {"mean": (jnp.median(point, axis=0) if members else point) * scale[:, None] + loc[:, None]}
    if options.levels:
        q = raw_quantiles(model.head, raw, options.levels, model.quantiles)
        out["quantiles"] = (jnp.median(q, axis=0) if members else q) * scale[:, None, None] + loc[:, None, None]
    return out


def forecast_tables(scaler: Any, covariate_scaler: CovariateScaler | None, channels: int) -> dict[str, np.ndarray]:
    """`forecast_outputs`' ``tables`` of a run: its series ``scaler`` (None: window scaling) and, for
    ``channels`` covariates, its ``covariate_scaler`` (None: identity), float32."""
    tables = {}
    if scaler is not None:
        tables["scaler.loc"], tables["scaler.scale"] = scaler.loc.astype(np.float32), scaler.scale.astype(np.float32)
    if channels:
        covariate_scaler = covariate_scaler or CovariateScaler.identity(channels)
        tables["covariates.loc"] = covariate_scaler.loc.astype(np.float32)
        tables["covariates.scale"] = covariate_scaler.scale.astype(np.float32)
    return tables


def check_levels(model: Any, levels: Any) -> tuple[float, ...]:
    """``levels`` as floats in (0, 1) (None: the model's own quantiles for a probabilistic head, else none)."""
    probabilistic = model.head != "point"
    if levels is None:
        return tuple(float(q) for q in model.quantiles) if probabilistic else ()
    if not probabilistic:
        raise ValueError("a point head gives no quantiles; ask for no levels")
    levels = tuple(float(q) for q in levels)
    if any(not 0 < q < 1 for q in levels):
        raise ValueError(f"levels must lie in (0, 1), got {levels}")
    return levels
