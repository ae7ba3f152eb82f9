"""`StreamingDetector`: a fitted anomaly run applied one point at a time (``recurrax anomaly detect --stream``).

Each ``update(x_t)`` returns the raw score of ``x_t`` (`StreamingScorer`, the run's scorer, no learning:
the same numbers as `score_series`) and, for the detectors that are online, the label:

- ``static``: ``smoothed_t > threshold`` (``detector.threshold``, or the ``detector.quantile`` quantile of the
  run's reference scores, smoothed by ``detector.span`` as `detect` does);
- ``quantile``: ``smoothed_t >`` the ``detector.quantile`` quantile of the last ``detector.history``
  smoothed scores (once ``detector.min_history`` exist), as `quantile_threshold`;
- ``telemanom`` looks at whole windows of errors: no streaming label (``threshold`` and ``is_anomaly`` None).

``smoothed`` is the causal EWMA of `ewma` (span ``detector.span``; the raw score when it is None), carried
over NaN scores. The labels equal `detect`'s on the same series (tested).

Example:
    >>> import numpy as np, jax
    >>> from recurrax.train import OptimConfig, TrainConfig
    >>> from recurrax.tasks.anomaly import DetectorConfig, ScorerConfig, fit_scorer
    >>> values = np.sin(np.arange(200) / 5.0)[:, None]
    >>> scorer = fit_scorer(values, ScorerConfig(hidden_size=8, window=16), optim=OptimConfig(),
    ...                     train=TrainConfig(steps=0), key=jax.random.key(0))
    >>> stream = StreamingDetector(scorer, DetectorConfig(kind="static", threshold=0.5))
    >>> point = stream.update([0.1])
    >>> point.score, point.is_anomaly   # the warm-up: no score yet
    (None, False)
"""

from __future__ import annotations

import collections
import math
from typing import Any, NamedTuple

import numpy as np

from ._config import DetectorConfig
from ._detectors import ewma
from ._scorers import Scorer
from ._streaming import StreamingScorer


class StreamPoint(NamedTuple):
    """One streamed point: ``score`` (None in the warm-up), ``smoothed``, ``threshold`` (None where the
    detector has none yet) and ``is_anomaly``."""

    score: float | None
    smoothed: float | None
    threshold: float | None
    is_anomaly: bool | None


class StreamingDetector:
    """``update(x [D]) -> StreamPoint``: the run's scorer and an online detector over a stream (module
    docstring). ``reference``: the run's reference scores (a ``static`` detector without a threshold)."""

    def __init__(self, scorer: Scorer, detector: DetectorConfig, reference: np.ndarray | None = None):
        self.stream, self.detector = StreamingScorer(scorer), detector
        self._level: float | None = None
        if detector.kind == "static":
            if detector.threshold is not None:
                self._level = float(detector.threshold)
            else:
                if reference is None:
                    raise ValueError("a static detector needs detector.threshold or reference scores")
                ref = np.asarray(reference, np.float64)
                ref = ref if detector.span is None else ewma(ref, detector.span)
                ref = ref[~np.isnan(ref)]
                if len(ref) == 0:
                    raise ValueError("the reference scores are all NaN")
                self._level = float(np.quantile(ref, detector.quantile))
        self._alpha = None if detector.span is None else 2.0 / (detector.span + 1.0)
        self._smoothed = math.nan
        self._history: collections.deque[float] = collections.deque(maxlen=detector.history)

    def update(self, x: Any) -> StreamPoint:
        """Score the next point ``x`` ``[D]`` and label it."""
        score = self.stream.update(np.atleast_1d(np.asarray(x, np.float64)))
        online = self.detector.kind in ("static", "quantile")
        if math.isnan(score):
            return StreamPoint(None, None, None, False if online else None)
        if self._alpha is None or math.isnan(self._smoothed):
            self._smoothed = score
        else:
            self._smoothed = self._alpha * score + (1.0 - self._alpha) * self._smoothed
        smoothed = self._smoothed
        if self.detector.kind == "static":
            return StreamPoint(score, smoothed, self._level, bool(smoothed > self._level))
        if self.detector.kind == "quantile":
            level = None
            if len(self._history) >= self.detector.min_history:
                level = float(np.quantile(np.fromiter(self._history, np.float64), self.detector.quantile))
            self._history.append(smoothed)
            return StreamPoint(score, smoothed, level, level is not None and bool(smoothed > level))
        return StreamPoint(score, smoothed, None, None)
