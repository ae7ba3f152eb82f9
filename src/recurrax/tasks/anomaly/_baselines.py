"""NAB's reference detectors, reimplemented exactly: windowed Gaussian, null (constant) and random.

All are online: the score of point ``t`` uses only points ``< t`` (no look-ahead), and each score is in
[0, 1] (higher = more anomalous). Scores are float64 ``[T]``.

- `WindowedGaussian` / `windowed_gaussian_scores`: NAB's ``windowedGaussian`` detector
  (``nab/detectors/gaussian/windowedGaussian_detector.py``): the score of ``x_t`` is ``1 - Q(|x_t - m| / s)``
  with ``Q`` the Gaussian tail (``Q(z) = erfc(z / sqrt 2) / 2``) and ``m``, ``s`` the mean and population
  standard deviation of a window of past values (``s = 1e-6`` when it is 0). The window grows to
  ``window_size`` = 6400 values, updated after every point; once full it slides by ``step_size`` = 100 values
  at a time (the statistics are refreshed every 100 points). The first point scores 0.
- `null_scores`: NAB's null detector, a constant 0.5 (the normalisation's zero).
- `random_scores`: NAB's random detector, ``random.uniform(0, 1)`` from Python's generator seeded with 42 at the
  start of every file (the same stream as NAB's, whose detector reseeds per file).
"""

from __future__ import annotations

import math
import random

import numpy as np
from numpy.typing import ArrayLike


def _values(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, np.float64)
    if array.ndim != 1:
        raise ValueError(f"values must be one-dimensional [T], got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("values hold NaN or infinity")
    return array


class WindowedGaussian:
    """NAB's windowed-Gaussian detector, one value at a time: ``score = detector.update(value)``.

    Example:
        >>> detector = WindowedGaussian(window_size=3, step_size=1)
        >>> [round(detector.update(v), 4) for v in (1.0, 3.0, 1.0, 3.0, 20.0)]
        [0.0, 1.0, 0.8413, 0.9214, 1.0]
    """

    def __init__(self, window_size: int = 6400, step_size: int = 100):
        if window_size < 1 or not 1 <= step_size <= window_size:
            raise ValueError(f"need window_size >= 1 and 1 <= step_size <= window_size, got {window_size}, {step_size}")
        self.window_size, self.step_size = window_size, step_size
        self._window = np.empty(0)
        self._pending: list[float] = []
        self._mean, self._std = 0.0, 1.0

    def update(self, value: float) -> float:
        """The anomaly score of ``value`` under the current window, then ``value`` joins the window."""
        score = 0.0 if len(self._window) == 0 else 1.0 - _tail_probability(value, self._mean, self._std)
        if len(self._window) < self.window_size:
            self._window = np.append(self._window, value)
            self._refresh()
        else:
            self._pending.append(value)
            if len(self._pending) == self.step_size:
                self._window = np.concatenate((self._window[self.step_size :], self._pending))
                self._pending = []
                self._refresh()
        return score

    def _refresh(self) -> None:
        self._mean = float(np.mean(self._window))
        self._std = float(np.std(self._window)) or 0.000001


def _tail_probability(x: float, mean: float, std: float) -> float:
    """NAB's ``normalProbability``: ``Q(|x - mean| / std)``, reflecting values below the mean (same rounding)."""
    if x < mean:
        x = 2 * mean - x
    return 0.5 * math.erfc((x - mean) / std / math.sqrt(2))


def windowed_gaussian_scores(values: ArrayLike, window_size: int = 6400, step_size: int = 100) -> np.ndarray:
    """NAB's windowed-Gaussian scores of a series ``[T]`` (see `WindowedGaussian`), float64 ``[T]``."""
    detector = WindowedGaussian(window_size, step_size)
    return np.array([detector.update(float(v)) for v in _values(values)], np.float64)


def null_scores(values: ArrayLike) -> np.ndarray:
    """NAB's null detector: 0.5 for every point, float64 ``[T]``."""
    return np.full(len(_values(values)), 0.5)


def random_scores(values: ArrayLike, seed: int = 42) -> np.ndarray:
    """NAB's random detector: ``random.uniform(0, 1)`` per point from ``random.Random(seed)``, float64 ``[T]``."""
    generator = random.Random(seed)
    return np.array([generator.uniform(0, 1) for _ in range(len(_values(values)))], np.float64)
