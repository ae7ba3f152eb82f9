"""Detectors: anomaly scores ``[T]`` -> a `Detection` (smoothed scores, threshold, labels, sequences), NumPy
float64, every array index-aligned with the input.

- `telemanom`: the nonparametric dynamic threshold of Hundman et al. (2018, "Detecting Spacecraft Anomalies
  Using LSTMs and Nonparametric Dynamic Thresholding", KDD), after the reference implementation
  (khundman/telemanom ``telemanom/errors.py``):

  1. smooth the errors with an EWMA, ``e_s = ewma(e, span)``, ``span = int(batch * window_size *
     smoothing_perc)`` unless given (`ewma`: ``adjust=False``, so causal);
  2. slide a window of ``window_size * batch`` smoothed errors forward by ``batch``; in each window pick
     ``epsilon = mean(e_s) + z * std(e_s)`` with ``z`` in ``z_min, z_min + z_step, ... < z_max`` maximising

     ``(Δmean / mean + Δstd / std) / (#anomalous points + #sequences ** 2)``

     where ``Δ`` is the drop of the window's mean and std when the values ``>= epsilon`` are removed, the
     anomalous points are those values widened by ``buffer`` points each side, and only ``z`` with at most
     ``max_sequences`` sequences and fewer than half the window anomalous qualify (none: ``z = z_max``);
  3. label the values ``>= epsilon`` and ``buffer`` points each side of them, within the window's new part
     (the whole first window, then the ``batch`` values each later window adds);
  4. prune: sort the maxima of the window's anomalous sequences, descending, append the largest value of the
     window that is not anomalous; walking down, a sequence whose maximum is less than ``p`` (0.13) above the
     next value is dropped, unless a larger drop further down saves it;
  5. group the labelled points of all windows into sequences of consecutive indices.

  Differences from the reference, on purpose: the EWMA is causal (``adjust=False``) and the first errors
  are not replaced by their mean; the ``r < batch`` values between the second-last window and the last
  window's last ``batch`` values, which the reference never labels, are part of the last window's new part;
  the same ``buffer`` widens points in the choice of ``z`` and in the labels (the reference uses
  ``buffer - 1`` for the first); sequences of one point are kept; the checks of the errors' scale against
  the values' are not applied. With ``inverted`` (the reference's ``e_s_inv``) each window is also searched
  for unusually *low* errors: steps 2-4 on ``2 mean(e_s) - e_s`` (the window's errors mirrored about their
  mean), the labels of both joined.
- `static_threshold`: ``label = smoothed > threshold``.
- `rolling_quantile`: the threshold at ``t`` is the ``q`` quantile of the (finite) smoothed scores at
  ``t - history .. t - 1`` (past values only, no look-ahead); NaN until ``min_history`` past values exist.

Scores that are NaN (a scorer's warm-up) are skipped: they stay NaN in ``smoothed`` and ``threshold``, are
never labelled, and the EWMA carries over them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ._config import DetectorConfig


@dataclass
class Detection:
    """A detector's output, index-aligned with its input scores ``[T]``.

    ``smoothed`` ``[T]`` the (EWMA-smoothed) scores, ``threshold`` ``[T]`` the threshold each value was
    compared with, ``labels`` ``[T]`` bool, ``sequences`` the anomalous ranges as inclusive ``(start, end)``
    input indices, in order. NaN scores give NaN ``smoothed`` and ``threshold`` and ``False`` labels.
    """

    smoothed: np.ndarray
    threshold: np.ndarray
    labels: np.ndarray
    sequences: list[tuple[int, int]] = field(default_factory=list)


def _scores(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one-dimensional [T], got shape {scores.shape}")
    if np.isinf(scores).any():
        raise ValueError("scores hold infinite values")
    return scores


def sequences_of(labels: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive ``True`` in ``labels`` ``[T]`` as inclusive ``(start, end)`` index pairs.

    Example:
        >>> sequences_of(np.array([0, 1, 1, 0, 0, 1], bool))
        [(1, 2), (5, 5)]
    """
    padded = np.concatenate([[False], np.asarray(labels, bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2])]


def ewma(scores: np.ndarray, span: float) -> np.ndarray:
    """Exponentially weighted moving average ``s_t = a x_t + (1 - a) s_{t-1}``, ``a = 2 / (span + 1)``,
    ``s_0 = x_0`` (pandas' ``ewm(span=span, adjust=False).mean()``); NaN inputs stay NaN and are skipped.

    Example:
        >>> ewma(np.array([0.0, 3.0, np.nan, 3.0]), span=3).tolist()  # a = 0.5
        [0.0, 1.5, nan, 2.25]
    """
    scores = _scores(scores)
    if span < 1:
        raise ValueError(f"span must be >= 1, got {span}")
    alpha = 2.0 / (span + 1.0)
    out = np.full_like(scores, np.nan)
    level = np.nan
    for t, x in enumerate(scores):
        if np.isnan(x):
            continue
        level = x if np.isnan(level) else alpha * x + (1.0 - alpha) * level
        out[t] = level
    return out


def _widen(hits: np.ndarray, buffer: int, size: int) -> np.ndarray:
    """The indices ``hits`` and ``buffer`` indices each side, within ``0 .. size - 1``, sorted, unique."""
    offsets = np.arange(-buffer, buffer + 1)
    return np.unique(np.clip((hits[:, None] + offsets[None, :]).ravel(), 0, size - 1))


def _choose_z(e_s: np.ndarray, buffer: int, zs: np.ndarray, max_sequences: int, z_max: float) -> float:
    """Telemanom's choice of ``z`` for one window of smoothed errors (module docstring, step 2)."""
    mean, std = e_s.mean(), e_s.std()
    best, chosen = -np.inf, z_max
    for z in zs:
        epsilon = mean + z * std
        below = e_s[e_s < epsilon]
        hits = np.flatnonzero(e_s >= epsilon)
        if len(hits) == 0 or len(below) == 0:
            continue
        points = _widen(hits, buffer, len(e_s))
        runs = len(sequences_of(np.isin(np.arange(len(e_s)), points)))
        score = ((mean - below.mean()) / mean + (std - below.std()) / std) / (runs**2 + len(points))
        if score >= best and runs <= max_sequences and len(points) < 0.5 * len(e_s):
            best, chosen = score, float(z)
    return chosen


def prune_sequences(maxima: np.ndarray, normal_max: float, p: float = 0.13) -> np.ndarray:
    """Which sequences Telemanom's pruning keeps, ``[K]`` bool, from their maxima ``[K]`` and the largest
    non-anomalous value ``normal_max`` (module docstring, step 4).

    Example (0.8 is within 13% of 0.75, so the second sequence goes; 1.0 is 20% above 0.8 and stays):
        >>> prune_sequences(np.array([1.0, 0.8]), 0.75).tolist()
        [True, False]
    """
    maxima = np.asarray(maxima, np.float64)
    order = np.argsort(-maxima, kind="stable")
    ladder = np.append(maxima[order], normal_max)
    keep = np.ones(len(maxima), bool)
    cut = 0  # sequences order[:cut] are saved by a large enough drop below them
    for i in range(len(maxima)):
        if ladder[i] > 0 and (ladder[i] - ladder[i + 1]) / ladder[i] >= p:
            cut = i + 1
    keep[order[cut:]] = False
    return keep


def _window_labels(
    e_s: np.ndarray, new_from: int, known: np.ndarray, cfg: DetectorConfig, zs: np.ndarray
) -> tuple[float, np.ndarray]:
    """Epsilon and the pruned anomalous indices (within the window) of one window, labelling only indices
    ``>= new_from``; ``known`` marks the window's indices already labelled by earlier windows."""
    mean, std = e_s.mean(), e_s.std()
    if std == 0 or mean == 0:
        return float(mean), np.zeros(0, np.int64)
    epsilon = mean + _choose_z(e_s, cfg.buffer, zs, cfg.max_sequences, cfg.z_max) * std
    hits = np.flatnonzero(e_s >= epsilon)
    if len(hits) == 0:
        return float(epsilon), np.zeros(0, np.int64)
    points = _widen(hits, cfg.buffer, len(e_s))
    points = points[points >= new_from]
    if len(points) == 0:
        return float(epsilon), points
    mask = np.zeros(len(e_s), bool)
    mask[points] = True
    normal = ~(mask | known)
    normal_max = float(e_s[normal].max()) if normal.any() else 0.0
    runs = sequences_of(mask)
    maxima = np.array([e_s[s : e + 1].max() for s, e in runs])
    keep = prune_sequences(maxima, normal_max, cfg.p)
    kept = [np.arange(s, e + 1) for (s, e), k in zip(runs, keep) if k]
    return float(epsilon), np.concatenate(kept) if kept else np.zeros(0, np.int64)


def telemanom(scores: np.ndarray, cfg: DetectorConfig) -> Detection:
    """Telemanom's nonparametric dynamic threshold over ``scores`` ``[T]`` (errors, >= 0, else ValueError;
    NaN skipped).

    ``cfg``: a `DetectorConfig` (``span`` or ``smoothing_perc``, ``window_size``, ``batch``, ``buffer``,
    ``p``, ``z_min``, ``z_max``, ``z_step``, ``max_sequences``). The threshold at each index is the epsilon
    of the window that labelled it (its first window). Series shorter than ``window_size * batch`` are one
    window.
    """
    scores = _scores(scores)
    if np.nanmin(scores, initial=0.0) < 0:
        raise ValueError("telemanom needs non-negative errors; for scores that can be negative (nll) use "
                         "detector.kind static or quantile")  # fmt: skip
    span = cfg.span if cfg.span is not None else max(1, int(cfg.batch * cfg.window_size * cfg.smoothing_perc))
    smoothed = ewma(scores, span)
    finite = np.flatnonzero(~np.isnan(smoothed))
    e_s = smoothed[finite]
    size, history = len(e_s), cfg.window_size * cfg.batch
    threshold = np.full_like(smoothed, np.nan)
    labels = np.zeros(len(smoothed), bool)
    if size == 0:
        return Detection(smoothed, threshold, labels, [])
    zs = np.arange(cfg.z_min, cfg.z_max, cfg.z_step)
    found = np.zeros(size, bool)
    eps = np.full(size, np.nan)
    windows = max(0, (size - history) // cfg.batch)
    for i in range(windows + 1):
        start = i * cfg.batch
        stop = size if i == windows else start + history
        new_from = 0 if i == 0 else (history + (i - 1) * cfg.batch) - start
        window = e_s[start:stop]
        epsilon, points = _window_labels(window, new_from, found[start:stop], cfg, zs)
        if cfg.inverted:  # unusually low errors: the window's errors mirrored about their mean
            _, low = _window_labels(2.0 * window.mean() - window, new_from, found[start:stop], cfg, zs)
            points = np.union1d(points, low)
        eps[start + new_from : stop] = epsilon
        found[start + points] = True
    threshold[finite] = eps
    labels[finite] = found
    return Detection(smoothed, threshold, labels, _index_sequences(found, finite))


def _index_sequences(found: np.ndarray, finite: np.ndarray) -> list[tuple[int, int]]:
    """Sequences of the compressed (finite) labels mapped back to input indices."""
    return [(int(finite[s]), int(finite[e])) for s, e in sequences_of(found)]


def static_threshold(scores: np.ndarray, threshold: float, span: float | None = None) -> Detection:
    """``label = smoothed > threshold`` with ``smoothed = ewma(scores, span)`` (the scores when ``span`` is
    None)."""
    scores = _scores(scores)
    smoothed = scores.copy() if span is None else ewma(scores, span)
    level = np.where(np.isnan(smoothed), np.nan, float(threshold))
    labels = np.nan_to_num(smoothed, nan=-np.inf) > threshold
    return Detection(smoothed, level, labels, sequences_of(labels))


def rolling_quantile(scores: np.ndarray, q: float, history: int, min_history: int = 1) -> np.ndarray:
    """``[T]``: the ``q`` quantile (`numpy.quantile`, linear) of the finite values among ``scores[t -
    history : t]``, the past only; NaN where fewer than ``min_history`` of them exist.

    Example:
        >>> rolling_quantile(np.array([1.0, 3.0, 2.0, 5.0]), 0.5, history=2).tolist()
        [nan, 1.0, 2.0, 2.5]
    """
    scores = _scores(scores)
    if not 0 <= q <= 1:
        raise ValueError(f"q must be in [0, 1], got {q}")
    if history < 1 or not 1 <= min_history <= history:
        raise ValueError(f"need history >= 1 and 1 <= min_history <= history, got {history}, {min_history}")
    out = np.full_like(scores, np.nan)
    if len(scores) < 2:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([np.full(history, np.nan), scores]), history)
    past = windows[: len(scores)]  # row t holds scores[t - history : t]
    counts = np.sum(~np.isnan(past), axis=1)
    ready = counts >= min_history
    if ready.any():
        out[ready] = np.nanquantile(past[ready], q, axis=1)
    return out


def quantile_threshold(
    scores: np.ndarray, q: float, history: int, min_history: int = 1, span: float | None = None
) -> Detection:
    """``label = smoothed > rolling_quantile(smoothed, q, history, min_history)`` (no look-ahead)."""
    scores = _scores(scores)
    smoothed = scores.copy() if span is None else ewma(scores, span)
    level = rolling_quantile(smoothed, q, history, min_history)
    level[np.isnan(smoothed)] = np.nan
    labels = np.nan_to_num(smoothed, nan=-np.inf) > np.nan_to_num(level, nan=np.inf)
    return Detection(smoothed, level, labels, sequences_of(labels))


def detect(scores: np.ndarray, cfg: DetectorConfig, reference: np.ndarray | None = None) -> Detection:
    """The detector ``cfg.kind`` over ``scores`` ``[T]``.

    ``static`` uses ``cfg.threshold``, or when that is None the ``cfg.quantile`` quantile of the (smoothed)
    ``reference`` scores (e.g. the training part's errors); ``quantile`` is `quantile_threshold` with
    ``cfg.quantile``, ``cfg.history``, ``cfg.min_history``; both smooth with ``cfg.span`` (None: raw).
    """
    if cfg.kind == "telemanom":
        return telemanom(scores, cfg)
    if cfg.kind == "quantile":
        return quantile_threshold(scores, cfg.quantile, cfg.history, cfg.min_history, cfg.span)
    if cfg.kind != "static":
        raise ValueError(f"unknown detector kind {cfg.kind!r}; known: telemanom, static, quantile")
    level = cfg.threshold
    if level is None:
        if reference is None:
            raise ValueError("a static detector needs detector.threshold or reference scores")
        ref = _scores(reference)
        ref = ref if cfg.span is None else ewma(ref, cfg.span)
        ref = ref[~np.isnan(ref)]
        if len(ref) == 0:
            raise ValueError("the reference scores are all NaN")
        level = float(np.quantile(ref, cfg.quantile))
    return static_threshold(scores, level, cfg.span)
