"""Anomaly-detection precision, recall and F1: point-wise, event-wise and point-adjusted.

Every function takes ``(y_true, y_pred)``, two boolean (or 0/1) arrays of one length ``[T]`` (True = anomalous
point), and returns ``(precision, recall, f1)`` as Python floats. A ratio whose denominator is 0 is 0.0 (as
scikit-learn's ``zero_division=0``): no detections give precision 0, no anomalies give recall 0, and F1 is 0
when precision + recall is 0.

- `point_prf`: every time step is one sample.
- `event_prf`: a contiguous run of True in ``y_true`` is one anomaly event (Hundman et al. 2018, "Telemanom"):
  an event is a true positive when any predicted point overlaps it, else a false negative; each contiguous run
  of predicted points that overlaps no event is one false positive.
- `point_adjusted_prf`: the point-adjust protocol (Xu et al. 2018): if any point of an event is detected, all
  its points count as detected, then point-wise scores. Kim et al. (2022) show that it inflates scores (a
  random detector can reach a high F1), so report it beside, never instead of, the other two.

References: Hundman et al. 2018, "Detecting spacecraft anomalies using LSTMs and nonparametric dynamic
thresholding", KDD; Xu et al. 2018, "Unsupervised anomaly detection via variational auto-encoder for seasonal
KPIs in web applications", WWW; Kim et al. 2022, "Towards a rigorous evaluation of time-series anomaly
detection", AAAI.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _mask(values: ArrayLike, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional [T], got shape {array.shape}")
    if array.dtype == np.bool_:
        return array
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"{what} must be boolean or 0/1, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating) and np.isnan(array).any():
        raise ValueError(f"{what} holds NaN")
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"{what} must be boolean or 0/1, got other values")
    return array.astype(bool)


def _masks(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    truth, pred = _mask(y_true, "y_true"), _mask(y_pred, "y_pred")
    if truth.shape != pred.shape:
        raise ValueError(f"y_true and y_pred must have one length, got {truth.shape[0]} and {pred.shape[0]}")
    return truth, pred


def anomaly_runs(mask: ArrayLike) -> np.ndarray:
    """The contiguous runs of True in a boolean ``[T]`` array, as ``[K, 2]`` int64 ``(start, end)`` pairs with
    ``end`` inclusive, in order.

    Example:
        >>> anomaly_runs([False, True, True, False, True]).tolist()
        [[1, 2], [4, 4]]
    """
    flags = _mask(mask, "mask").astype(np.int8)
    edges = np.diff(np.concatenate(([0], flags, [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return np.stack([starts, ends], axis=1).astype(np.int64)


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f1)


def point_prf(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[float, float, float]:
    """Point-wise ``(precision, recall, f1)``: ``tp = sum(y & p)``, ``fp = sum(~y & p)``, ``fn = sum(y & ~p)``.

    Example:
        >>> point_prf([0, 1, 1, 0], [0, 1, 0, 1])
        (0.5, 0.5, 0.5)
    """
    truth, pred = _masks(y_true, y_pred)
    tp = int(np.sum(truth & pred))
    return _prf(tp, int(np.sum(~truth & pred)), int(np.sum(truth & ~pred)))


def _overlaps(runs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``[K]`` bool: whether each ``(start, end)`` run holds a True of ``mask``."""
    counts = np.concatenate(([0], np.cumsum(mask)))
    return counts[runs[:, 1] + 1] - counts[runs[:, 0]] > 0


def event_prf(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[float, float, float]:
    """Event-wise ``(precision, recall, f1)`` as in Telemanom (Hundman et al. 2018).

    Each run of True in ``y_true`` is one event: TP if any predicted point falls in it, FN otherwise. Each run
    of True in ``y_pred`` that overlaps no event is one FP (predicted runs that overlap an event add nothing).

    Example:
        >>> # events [1, 2] (hit) and [6, 7] (missed); predicted runs [2, 3] (overlaps) and [9, 9] (false)
        >>> [round(v, 4) for v in event_prf([0, 1, 1, 0, 0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 0, 0, 0, 0, 0, 1])]
        [0.5, 0.5, 0.5]
    """
    truth, pred = _masks(y_true, y_pred)
    true_runs, pred_runs = anomaly_runs(truth), anomaly_runs(pred)
    hit = _overlaps(true_runs, pred)
    tp = int(hit.sum())
    fp = int(np.sum(~_overlaps(pred_runs, truth)))
    return _prf(tp, fp, len(true_runs) - tp)


def point_adjusted_prf(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[float, float, float]:
    """Point-adjusted ``(precision, recall, f1)`` (Xu et al. 2018). **Inflated**: see Kim et al. (2022).

    Every event (run of True in ``y_true``) with at least one detected point counts as fully detected, then the
    scores are point-wise. One lucky detection in a long event thus earns the whole event's recall.

    Example:
        >>> point_adjusted_prf([0, 1, 1, 1, 0], [0, 0, 1, 0, 1])  # 3 adjusted TPs, 1 FP
        (0.75, 1.0, 0.8571428571428571)
    """
    truth, pred = _masks(y_true, y_pred)
    adjusted = pred.copy()
    runs = anomaly_runs(truth)
    for start, end in runs[_overlaps(runs, pred)]:
        adjusted[start : end + 1] = True
    return point_prf(truth, adjusted)
