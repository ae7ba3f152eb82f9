"""Forecast accuracy: point errors, scaled errors and scores of predictive distributions.

Every function takes ``(y_true, y_pred, ...)`` as array-likes of one shape (any rank; ``[H]`` for one series,
``[N, H]`` for many), computes in float64 NumPy and returns the mean over all entries as a Python float.
NaN in ``y_true`` is an error: fill or drop missing actuals before scoring.

References: Hyndman & Koehler (2006) for MASE; Makridakis & Hibon (2000) for the M3 sMAPE; Gneiting &
Raftery (2007) for CRPS and the quantile (pinball) loss.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y, f = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if y.shape != f.shape:
        raise ValueError(f"y_true and y_pred must have one shape, got {y.shape} and {f.shape}")
    if y.size == 0:
        raise ValueError("cannot score empty arrays")
    if np.isnan(y).any():
        raise ValueError("y_true holds NaN; fill or drop missing actuals before scoring")
    return y, f


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error ``mean |y - f|``."""
    y, f = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y - f)))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error ``sqrt(mean (y - f)^2)``."""
    y, f = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((y - f) ** 2)))


def mape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute percentage error ``100 * mean |y - f| / |y|``; a zero actual is an error."""
    y, f = _pair(y_true, y_pred)
    if np.any(y == 0):
        raise ValueError("MAPE is undefined where y_true is 0")
    return float(100 * np.mean(np.abs(y - f) / np.abs(y)))


def smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric MAPE as in M3 (Makridakis & Hibon 2000): ``mean 200 |y - f| / (|y| + |f|)``, in [0, 200].

    Where ``y = f = 0`` the term is 0.

    Example:
        >>> round(smape([100.0, 200.0], [110.0, 180.0]), 6)  # (200*10/210 + 200*20/380) / 2
        10.025063
    """
    y, f = _pair(y_true, y_pred)
    denominator = np.abs(y) + np.abs(f)
    terms = np.where(denominator == 0, 0.0, 200 * np.abs(y - f) / np.where(denominator == 0, 1.0, denominator))
    return float(np.mean(terms))


def mase(y_true: ArrayLike, y_pred: ArrayLike, insample: ArrayLike, period: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006) of one series:
    ``mean |y - f| / mean_t |x_t - x_{t-m}|`` with ``x`` the in-sample history ``[n]`` and ``m = period``
    (the seasonal naive forecast's in-sample error; ``period=1`` is the naive one)."""
    y, f = _pair(y_true, y_pred)
    x = np.asarray(insample, np.float64)
    if x.ndim != 1 or x.size <= period:
        raise ValueError(f"insample must be 1-D and longer than period={period}, got shape {x.shape}")
    scale = np.mean(np.abs(x[period:] - x[:-period]))
    if not scale > 0:
        raise ValueError("MASE is undefined: the in-sample seasonal naive error is 0")
    return float(np.mean(np.abs(y - f)) / scale)


def quantile_loss(y_true: ArrayLike, y_pred: ArrayLike, quantiles: ArrayLike) -> float:
    """Mean pinball loss ``max(q (y - f_q), (q - 1)(y - f_q))`` over entries and quantile levels.

    ``y_pred`` ``[..., Q]`` holds the forecast quantiles at the levels ``quantiles`` ``[Q]`` for ``y_true``
    ``[...]``. Twice its mean over a dense grid of levels approximates the CRPS.
    """
    f = np.asarray(y_pred, np.float64)
    q = np.asarray(quantiles, np.float64)
    if f.shape[-1:] != q.shape or q.ndim != 1:
        raise ValueError(f"y_pred [..., Q] must end in len(quantiles)={q.size}, got shape {f.shape}")
    if np.any((q <= 0) | (q >= 1)):
        raise ValueError(f"quantile levels must lie in (0, 1), got {q.tolist()}")
    y, f = _pair(np.broadcast_to(np.asarray(y_true, np.float64)[..., None], f.shape), f)
    diff = y - f
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def crps_gaussian(y_true: ArrayLike, mean: ArrayLike, std: ArrayLike) -> float:
    """Mean CRPS of Gaussian forecasts, in closed form (Gneiting & Raftery 2007):
    ``sigma * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))`` with ``z = (y - mu) / sigma``."""
    y, mu = _pair(y_true, mean)
    sigma = np.broadcast_to(np.asarray(std, np.float64), y.shape)
    if np.any(sigma <= 0):
        raise ValueError("std must be > 0")
    z = (y - mu) / sigma
    cdf = 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    pdf = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    return float(np.mean(sigma * (z * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi))))


def crps_samples(y_true: ArrayLike, samples: ArrayLike) -> float:
    """Mean CRPS of sample forecasts: ``E|X - y| - E|X - X'| / 2`` with ``samples`` ``[..., S]`` (the
    empirical distribution; the pairwise term over all sample pairs)."""
    s = np.asarray(samples, np.float64)
    y, _ = _pair(np.asarray(y_true, np.float64), s[..., 0])
    first = np.mean(np.abs(s - y[..., None]), axis=-1)
    pairs = np.mean(np.abs(s[..., :, None] - s[..., None, :]), axis=(-2, -1))
    return float(np.mean(first - 0.5 * pairs))


def coverage(y_true: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """The fraction of actuals inside their interval, ``mean[lower <= y <= upper]``."""
    y, lo = _pair(y_true, lower)
    hi = np.asarray(upper, np.float64)
    if hi.shape != y.shape:
        raise ValueError(f"upper must have the shape of y_true {y.shape}, got {hi.shape}")
    return float(np.mean((lo <= y) & (y <= hi)))
