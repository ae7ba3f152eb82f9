"""Raw scores of any scale -> anomaly scores in [0, 1] comparable across series, online (score ``t`` uses
raw scores ``<= t`` only). Two transforms:

**Error novelty** (`novelty_score`): ``score_t = e_t / (e_t + M_t)`` with ``M_t`` the largest raw score of
the ``long`` points before ``t``. It passes 1/2 exactly when ``e_t`` is a new maximum, and a threshold
``τ`` flags ``e_t > M_t τ / (1 - τ)``: an error larger by a set factor than any recent one, the criterion of
Telemanom's pruning step (Hundman et al. 2018, section 3.2: keep an anomaly only if its error exceeds the
largest remaining one by a minimum percentage). Errors that recur (a forecaster's error at every sharp but
regular edge) stop scoring high after their first occurrence.

**Anomaly likelihood** (`anomaly_likelihood`, Ahmad et al. 2017; Numenta's ``AnomalyLikelihood`` as in
NAB's HTM detector), per point ``t``:

1. ``a_t`` = mean of the last ``short`` raw scores (a short moving average).
2. ``μ_t, σ_t`` = mean and standard deviation of the moving averages ``a`` over the ``long`` points before
   ``t`` (``σ`` floored at ``min_std + rel_std * |μ|``, so a perfectly predicted series does not turn noise
   into alarms).
3. ``L_t = Φ((a_t - μ_t) / σ_t)``, one minus the Gaussian tail probability: near 1 when the recent errors are
   far above what was usual.
4. ``score_t = log(1.0000000001 - L_t) / log(1e-10)`` (Numenta's ``computeLogLikelihood``), which spreads the
   likelihoods near 1 over [0, 1].

Points before ``learning`` finite raw scores were seen (and NaN raw scores) score 0.5 before step 4, as the
HTM detector's learning period does.

References: S. Ahmad, A. Lavin, S. Purdy, Z. Agha, "Unsupervised real-time anomaly detection for streaming
data", Neurocomputing 262, 2017 (the anomaly likelihood). K. Hundman et al., "Detecting spacecraft anomalies
using LSTMs and nonparametric dynamic thresholding", KDD 2018 (pruning).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import ndtr

LOG_FLOOR = math.log(1e-10)


def anomaly_likelihood(
    scores: np.ndarray,
    *,
    short: int = 10,
    long: int = 8640,
    learning: int = 100,
    min_std: float = 1e-6,
    rel_std: float = 0.0,
) -> np.ndarray:
    """The likelihood ``L`` ``[T]`` in [0, 1] of raw ``scores`` ``[T]`` (NaN: not scored yet), online.

    Example:
        >>> errors = np.r_[np.full(200, 0.1) + 0.01 * np.sin(np.arange(200)), 1.0]
        >>> likelihood = anomaly_likelihood(errors, short=1, long=100, learning=50)
        >>> round(float(likelihood[0]), 2), round(float(likelihood[-1]), 6)
        (0.5, 1.0)
    """
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 1:
        raise ValueError(f"expected raw scores [T], got shape {scores.shape}")
    for name, value in (("short", short), ("long", long), ("learning", learning)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    finite = np.isfinite(scores)
    seen = np.cumsum(finite)
    filled = np.where(finite, scores, 0.0)
    moving = _trailing_mean(filled, finite.astype(np.float64), short)
    valid = finite & np.isfinite(moving)
    averages = np.where(valid, moving, 0.0)
    weights = valid.astype(np.float64)
    mean = _trailing_mean(averages, weights, long, exclude_current=True)
    square = _trailing_mean(averages**2, weights, long, exclude_current=True)
    std = np.sqrt(np.maximum(square - mean**2, 0.0))
    std = np.maximum(std, min_std + rel_std * np.abs(mean))
    likelihood = ndtr((moving - mean) / std)
    ready = valid & (seen > learning) & np.isfinite(likelihood)
    return np.where(ready, likelihood, 0.5)


def novelty_score(
    scores: np.ndarray, *, long: int = 8640, quantile: float = 1.0, reference: np.ndarray | None = None
) -> np.ndarray:
    """``e_t / (e_t + M_t)`` ``[T]`` in [0, 1] (``M_t``: the largest finite raw score among the ``long``
    points before ``t``, or with ``quantile`` < 1 their ``quantile`` quantile, pandas' linear one: a
    reference that one earlier outlier does not raise); 0 where ``e_t`` is NaN or where it and ``M_t`` are
    0, 1 for the first positive score. ``reference`` ``[T]``: the raw scores that ``M_t`` is read from in
    place of ``scores`` (e.g. in-sample errors scaled up).

    Example:
        >>> novelty_score(np.array([np.nan, 1.0, 1.0, 3.0, 1.0]), long=10).tolist()
        [0.0, 1.0, 0.5, 0.75, 0.25]
    """
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 1:
        raise ValueError(f"expected raw scores [T], got shape {scores.shape}")
    reference = scores if reference is None else np.asarray(reference, np.float64)
    if reference.shape != scores.shape:
        raise ValueError(f"reference must have the scores' shape {scores.shape}, got {reference.shape}")
    if long < 1:
        raise ValueError(f"long must be >= 1, got {long}")
    if np.any(scores < 0):
        raise ValueError("novelty_score needs raw scores >= 0 (errors); use anomaly_likelihood for signed scores")
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    rolling = pd.Series(reference).shift(1).rolling(long, min_periods=1)
    past = (rolling.max() if quantile == 1 else rolling.quantile(quantile)).fillna(0.0).to_numpy()
    total = scores + past
    with np.errstate(invalid="ignore", divide="ignore"):
        novelty = np.where(total > 0, scores / np.where(total > 0, total, 1.0), 0.0)
    return np.where(np.isfinite(scores), novelty, 0.0)


def rest_period(scores: np.ndarray, rest: int) -> np.ndarray:
    """Scores ``[T]`` with every point that does not exceed all of the ``rest`` scores before it set to 0, online.

    ``out_t = s_t`` if ``s_t > max(s_{t-rest} .. s_{t-1})``, else 0: one event (a run of high scores while the
    forecaster recovers from an anomaly) raises at most its rising edge above a threshold, the rest period
    of NAB's detectors in score space (any threshold sees the same suppression). ``rest = 0`` returns the
    scores unchanged.

    Example:
        >>> rest_period(np.array([0.1, 0.9, 0.8, 0.95, 0.2, 0.3]), rest=2).tolist()
        [0.1, 0.9, 0.0, 0.95, 0.0, 0.0]
    """
    scores = np.asarray(scores, np.float64)
    if rest < 0:
        raise ValueError(f"rest must be >= 0, got {rest}")
    if rest == 0:
        return scores
    past = pd.Series(scores).shift(1).rolling(rest, min_periods=1).max().fillna(-np.inf).to_numpy()
    return np.where(scores > past, scores, 0.0)


def log_likelihood_score(likelihood: np.ndarray) -> np.ndarray:
    """Numenta's ``computeLogLikelihood``: ``log(1.0000000001 - L) / log(1e-10)``, in [0, 1]."""
    return np.clip(np.log(1.0000000001 - np.asarray(likelihood, np.float64)) / LOG_FLOOR, 0.0, 1.0)


def _trailing_mean(values: np.ndarray, weights: np.ndarray, size: int, exclude_current: bool = False) -> np.ndarray:
    """``sum(values) / sum(weights)`` over the last ``size`` points up to ``t`` (or before ``t``); NaN where
    the weights sum to 0."""
    total = np.concatenate([[0.0], np.cumsum(values)])
    count = np.concatenate([[0.0], np.cumsum(weights)])
    end = np.arange(len(values)) + (0 if exclude_current else 1)
    start = np.maximum(end - size, 0)
    weight = count[end] - count[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, (total[end] - total[start]) / np.where(weight > 0, weight, 1.0), np.nan)
