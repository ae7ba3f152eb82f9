"""Statistical baselines with one API: ``forecast_baseline(name, values, horizon, period) -> [N, H]``.

- ``naive``: the last value; ``seasonal_naive``: the value one season ``m`` back (naive when ``n < m``);
- ``naive2``: the naive forecast of the seasonally adjusted series, re-seasonalised (the M3 benchmark,
  Makridakis & Hibon 2000): seasonality is tested by `is_seasonal` and removed by classical multiplicative
  decomposition (`seasonal_indices`);
- ``theta``: the Theta method (Assimakopoulos & Nikolopoulos 2000) by statsmodels' ``ThetaModel`` on the
  same seasonal adjustment (theta = 2: simple exponential smoothing plus half the linear-trend slope);
- ``ets``: statsmodels' ``ETSModel``, additive errors with a damped additive trend, multiplicative
  seasonality when `is_seasonal` (Hyndman et al. 2008), fitted by maximum likelihood.

``theta`` and ``ets`` need the ``[forecast]`` extra (statsmodels).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..._extras import require

BASELINES = ("naive", "seasonal_naive", "naive2", "theta", "ets")


def is_seasonal(y: np.ndarray, period: int) -> bool:
    """The M3 seasonality test: the lag-``m`` autocorrelation ``r_m`` is significant at 90%,
    ``|r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n)``; never for ``m <= 1`` or ``n < 3m``."""
    n = y.size
    if period <= 1 or n < 3 * period:
        return False
    centred = y - y.mean()
    denominator = np.sum(centred**2)
    if denominator == 0:
        return False
    acf = np.array([np.sum(centred[k:] * centred[: n - k]) / denominator for k in range(1, period + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(acf[:-1] ** 2)) / n)
    return bool(abs(acf[-1]) > limit)


def seasonal_indices(y: np.ndarray, period: int) -> np.ndarray:
    """Classical multiplicative decomposition: indices ``[m]`` (mean 1) for the positions ``t mod m``.

    The trend is the centred moving average of order ``m`` (``2 x m`` for even ``m``); each index is the
    mean of ``y_t / trend_t`` over the positions with a trend value, normalised to average 1.
    """
    m = period
    if m % 2 == 0:
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        weights = np.ones(m) / m
    trend = np.convolve(y, weights, mode="valid")
    offset = (weights.size - 1) // 2
    ratios = y[offset : offset + trend.size] / trend
    positions = np.arange(offset, offset + trend.size) % m
    indices = np.array([ratios[positions == p].mean() for p in range(m)])
    return indices / indices.mean()


def _adjustment(y: np.ndarray, period: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal factors for the history ``[n]`` and the next ``horizon`` steps (ones when not seasonal)."""
    n = y.size
    if not is_seasonal(y, period):
        return np.ones(n), np.ones(horizon)
    indices = seasonal_indices(y, period)
    return indices[np.arange(n) % period], indices[np.arange(n, n + horizon) % period]


def deseasonalize(values: Sequence[np.ndarray], period: int, horizon: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The M3 seasonal adjustment of each history (as Naive2 and Theta use it, `is_seasonal` then
    `seasonal_indices`): the adjusted histories ``y_t / s_t`` and the factors ``[N, horizon]`` that
    re-seasonalise a forecast of them (ones for a series without seasonality)."""
    adjusted, future = [], []
    for y in values:
        past, ahead = _adjustment(np.asarray(y, np.float64), period, horizon)
        adjusted.append(y / past)
        future.append(ahead)
    return adjusted, np.stack(future)


def naive(y: np.ndarray, horizon: int, period: int = 1) -> np.ndarray:
    return np.full(horizon, y[-1])


def seasonal_naive(y: np.ndarray, horizon: int, period: int = 1) -> np.ndarray:
    if period <= 1 or y.size < period:
        return naive(y, horizon)
    season = y[-period:]
    return season[np.arange(horizon) % period]


def naive2(y: np.ndarray, horizon: int, period: int = 1) -> np.ndarray:
    past, future = _adjustment(y, period, horizon)
    return (y[-1] / past[-1]) * future


def theta(y: np.ndarray, horizon: int, period: int = 1) -> np.ndarray:
    ThetaModel = require("statsmodels.tsa.forecasting.theta", "the theta baseline").ThetaModel  # noqa: N806

    past, future = _adjustment(y, period, horizon)
    model = ThetaModel(y / past, period=1, deseasonalize=False)
    return np.asarray(model.fit().forecast(horizon, theta=2)) * future


def ets(y: np.ndarray, horizon: int, period: int = 1) -> np.ndarray:
    ETSModel = require("statsmodels.tsa.exponential_smoothing.ets", "the ets baseline").ETSModel  # noqa: N806

    seasonal = is_seasonal(y, period) and bool(np.all(y > 0))
    trend = y.size >= 5
    model = ETSModel(
        y,
        error="add",
        trend="add" if trend else None,
        damped_trend=trend,
        seasonal="mul" if seasonal else None,
        seasonal_periods=period if seasonal else None,
    )
    return np.asarray(model.fit(disp=False).forecast(horizon))


_METHODS: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "naive2": naive2,
    "theta": theta,
    "ets": ets,
}


def forecast_baseline(name: str, values: Sequence[np.ndarray], horizon: int, period: int = 1) -> np.ndarray:
    """Forecasts ``[N, horizon]`` of the baseline ``name`` for each history ``values[i]`` ``[n_i]``.

    Example:
        >>> import numpy as np
        >>> forecast_baseline("naive", [np.array([1.0, 2.0, 3.0])], 2)
        array([[3., 3.]])
    """
    if name not in _METHODS:
        raise ValueError(f"unknown baseline {name!r}; expected one of {', '.join(BASELINES)}")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    method = _METHODS[name]
    return np.stack([method(np.asarray(y, np.float64), horizon, period) for y in values])
