"""Context channels of the online NAB detector: raw scores ``[T]`` that see what a one-step forecaster's error
misses, each online (the value at ``t`` uses points ``<= t`` only) and NaN until it exists.

- `seasonal_residual`: a change of the daily pattern (a missing daily peak, a holiday), which a one-step
  forecaster follows point by point: the mean distance of the last points from the same time one day before.
- `level_shift`: a change of level that the forecaster adapts to within a few points: the distance of the
  mean of the last points from the median before them, in standard deviations of the points before them.
- `range_break`: a value outside every value seen before, by more than a margin of their range (Numenta's
  "spatial anomaly" in its NAB detector), which a forecaster's error, relative to its own recent errors, can
  rank below the noise of a long file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._online import DAY, points_per


def seasonal_residual(values: np.ndarray, timestamps: np.ndarray, probation: int, span: int) -> np.ndarray:
    """``r_t = mean_{s = t-span+1 .. t} |v_s - v_{s-P}|`` ``[T]`` float64 with ``P`` one day in points: how far
    the last ``span`` points are from the same time one day earlier (NaN until ``P + span - 1`` points exist).

    A change of the daily pattern (a missing daily peak, a holiday) that a one-step forecaster follows point by
    point shows as a sustained residual; ``r_t`` uses points ``<= t`` only.

    Example:
        >>> stamps = np.datetime64("2024-01-01") + np.arange(72) * np.timedelta64(1, "h")
        >>> values = np.tile(np.r_[np.zeros(12), np.ones(12)], 3)
        >>> values[60:] = 0.0  # the third day's peak is missing from hour 12 on
        >>> r = seasonal_residual(values, stamps, 48, span=4)
        >>> bool(np.isnan(r[:27]).all()), float(r[59]), float(r[63])
        (True, 0.0, 1.0)
    """
    if span < 1:
        raise ValueError(f"span must be >= 1, got {span}")
    values = np.asarray(values, np.float64).reshape(-1)
    lag = points_per(DAY, timestamps, probation)
    residual = np.full(len(values), np.nan)
    if lag < len(values):
        residual[lag:] = np.abs(values[lag:] - values[: len(values) - lag])
    return pd.Series(residual).rolling(span, min_periods=span).mean().to_numpy()


def level_shift(values: np.ndarray, span: int, before: int = 288) -> np.ndarray:
    """``|mean(v_{t-span+1} .. v_t) - median(B_t)| / std(B_t)`` ``[T]`` float64, with ``B_t`` the ``before``
    points that precede those ``span`` (at least ``span`` of them; NaN until then).

    Example:
        >>> values = np.r_[np.tile([0.0, 1.0], 50), np.full(20, 5.0)]
        >>> shift = level_shift(values, span=4, before=40)
        >>> bool(np.isnan(shift[:7]).all()), round(float(shift[99]), 2), round(float(shift[103]), 2)
        (True, 0.0, 8.89)
    """
    if span < 1 or before < 1:
        raise ValueError(f"span and before must be >= 1, got {span} and {before}")
    values = pd.Series(np.asarray(values, np.float64).reshape(-1))
    recent = values.rolling(span, min_periods=span).mean()
    past = values.shift(span).rolling(before, min_periods=min(span, before))
    return ((recent - past.median()).abs() / (past.std() + 1e-9)).to_numpy()


def range_break(values: np.ndarray, tolerance: float) -> np.ndarray:
    """``1`` where ``v_t > max_{s<t} v_s + tolerance * R_t`` or ``v_t < min_{s<t} v_s - tolerance * R_t``, with
    ``R_t = max_{s<t} v_s - min_{s<t} v_s > 0``; ``0`` elsewhere ``[T]`` float64 (0 while ``R_t = 0``).

    Numenta's NAB detector raises a score of 1 on such a "spatial anomaly" with ``tolerance = 0.05``.

    Example:
        >>> range_break(np.array([0.0, 1.0, 0.5, 1.04, 1.2, -0.3]), 0.05).tolist()
        [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    """
    if not tolerance >= 0.0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    values = pd.Series(np.asarray(values, np.float64).reshape(-1))
    high, low = values.cummax().shift(1), values.cummin().shift(1)
    margin = tolerance * (high - low)
    broken = (high > low) & ((values > high + margin) | (values < low - margin))
    return broken.to_numpy(np.float64)
