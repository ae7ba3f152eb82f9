"""The Numenta Anomaly Benchmark (NAB) score, as NAB's own scorer computes it (Lavin & Ahmad 2015).

A detector gives every point of a file an anomaly score in [0, 1]; a point is a *detection* when its score is
``>= threshold``. Each file has labelled anomaly windows (runs of True in ``in_window``). With ``maxTP =
S(-1)`` and the scaled sigmoid ``S(x) = 2 / (1 + exp(5x)) - 1`` (``-1`` for ``x > 3``), NAB's sweeper
(``nab/sweeper.py``) gives each point ``i`` a weight:

- inside a window ``[l, r]`` of width ``w = r - l + 1``: ``A_tp * S(-(r - i + 1) / w) / maxTP`` (1.0 at the
  window's first point, falling towards its end);
- outside any window, after the window ``[l', r']`` that precedes it: ``A_fp * S((i - r') / (w' - 1))``
  (near 0 just after the window, ``-A_fp`` from three window widths after it on); before any window ``-A_fp``.

A file's raw score sums, over its windows, the weight of the *earliest* detection in the window (``-A_fn``
when none), plus the weights of all detections outside windows. Points in the probationary period, the first
``min(floor(0.15 T), 0.15 * 5000)`` points (NAB's ``getProbationPeriod``), are not scored at all.

The corpus score sums the raw file scores at one threshold, chosen per profile over the whole corpus as NAB's
optimiser does (every distinct score is a candidate; the highest threshold wins ties), and normalises it:
``100 * (raw - null) / (perfect - null)``, where ``null`` is the raw score of NAB's null detector (a constant
0.5, at its own best threshold; on NAB's corpus: no detection, ``-A_fn`` per window) and ``perfect = A_tp *
number of windows``.

The profiles are NAB's ``config/profiles.json`` (`NAB_PROFILES`). Windows of one point are rejected: NAB's
false-positive weight divides by ``w - 1``.

Reference: Lavin & Ahmad 2015, "Evaluating real-time anomaly detection algorithms -- the Numenta Anomaly
Benchmark", ICMLA; github.com/numenta/NAB (``nab/sweeper.py``, ``nab/optimizer.py``, ``nab/runner.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from ..data import probation_period
from ._anomaly import anomaly_runs

NO_DETECTION_THRESHOLD = 1.1
"""The threshold above every score (NAB's sweeper starts at 1.1): nothing is detected."""


@dataclass(frozen=True)
class NabProfile:
    """An application profile: the weights ``A_tp``, ``A_fp``, ``A_fn`` (``A_tn`` is unused by the score)."""

    name: str
    tp: float
    fp: float
    fn: float
    tn: float = 1.0


NAB_PROFILES: dict[str, NabProfile] = {
    "standard": NabProfile("standard", tp=1.0, fp=0.11, fn=1.0),
    "reward_low_fp": NabProfile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0),
    "reward_low_fn": NabProfile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0),
}


class NabLabelled(Protocol):
    """What the scorer needs of a file: its ``name``, ``in_window`` (bool ``[T]``) and ``probation`` length."""

    @property
    def name(self) -> str: ...

    @property
    def in_window(self) -> np.ndarray: ...

    @property
    def probation(self) -> int: ...


@dataclass(frozen=True)
class NabLabels:
    """The labels of one file: ``in_window`` bool ``[T]`` (runs of True are the windows) and the number of
    probationary points (default: NAB's `recurrax.data.probation_period`)."""

    name: str
    in_window: np.ndarray
    probation: int

    @classmethod
    def from_windows(
        cls, name: str, length: int, windows: Sequence[tuple[int, int]], probation: int | None = None
    ) -> NabLabels:
        """Labels from ``(start, end)`` index windows (``end`` inclusive).

        Example:
            >>> NabLabels.from_windows("f", 6, [(2, 3)], probation=1).in_window.astype(int).tolist()
            [0, 0, 1, 1, 0, 0]
        """
        mask = np.zeros(length, bool)
        for start, end in windows:
            if not 0 <= start <= end < length:
                raise ValueError(f"window ({start}, {end}) of {name!r} is outside [0, {length})")
            mask[start : end + 1] = True
        return cls(name, mask, probation_period(length) if probation is None else probation)


@dataclass(frozen=True)
class NabFileScore:
    """One file at one threshold: the raw score and NAB's point counts (probationary points excluded)."""

    name: str
    score: float
    tp: int
    fp: int
    fn: int
    tn: int


@dataclass(frozen=True)
class NabResult:
    """A corpus score: ``score`` normalised (null detector 0, perfect 100), ``raw`` its un-normalised sum,
    ``null`` and ``perfect`` the normalisation's ends, the ``threshold`` used and the per-file scores."""

    score: float
    raw: float
    null: float
    perfect: float
    threshold: float
    profile: NabProfile
    per_file: dict[str, NabFileScore]


def scaled_sigmoid(x: ArrayLike) -> np.ndarray:
    """NAB's ``S(x) = 2 / (1 + exp(5x)) - 1``, and ``-1`` for ``x > 3``: ``S(-1) = 0.98661``, ``S(0) = 0``.

    Example:
        >>> np.round(scaled_sigmoid([-1.0, -0.5, 0.0, 1.0, 3.5]), 5).tolist()
        [0.98661, 0.84828, 0.0, -0.98661, -1.0]
    """
    x = np.asarray(x, np.float64)
    return np.where(x > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(x, 3.0))) - 1.0)


def _profile(profile: str | NabProfile) -> NabProfile:
    if isinstance(profile, NabProfile):
        return profile
    if profile not in NAB_PROFILES:
        raise ValueError(f"unknown NAB profile {profile!r}; known profiles: {', '.join(NAB_PROFILES)}")
    return NAB_PROFILES[profile]


@dataclass(frozen=True)
class _Sweep:
    """Per scorable point (after probation): score, NAB weight, window id (-1 outside windows)."""

    scores: np.ndarray
    weights: np.ndarray
    window: np.ndarray
    num_runs: int  # windows of the file
    num_windows: int  # windows with at least one scorable point


def _file_sweep(scores: ArrayLike, labels: NabLabelled, profile: NabProfile) -> _Sweep:
    s = np.asarray(scores, np.float64)
    in_window = np.asarray(labels.in_window, bool)
    if s.ndim != 1 or s.shape != in_window.shape:
        raise ValueError(f"scores of {labels.name!r} must have shape {in_window.shape}, got {s.shape}")
    if not np.isfinite(s).all() or s.min(initial=0.0) < 0.0 or s.max(initial=0.0) > 1.0:
        raise ValueError(f"scores of {labels.name!r} must be finite and in [0, 1]")
    runs = anomaly_runs(in_window)
    widths = runs[:, 1] - runs[:, 0] + 1
    if (widths < 2).any():
        raise ValueError(f"{labels.name!r} has a window of one point; NAB's weights need at least two")
    index = np.arange(len(s))
    run_of = np.full(len(s), -1)
    for k, (start, end) in enumerate(runs):
        run_of[start : end + 1] = k
    max_tp = float(scaled_sigmoid(-1.0))
    inside = run_of >= 0
    weights = np.empty(len(s))
    right, width = runs[run_of[inside], 1], widths[run_of[inside]]
    weights[inside] = scaled_sigmoid(-(right - index[inside] + 1) / width) * profile.tp / max_tp
    previous = np.searchsorted(runs[:, 1], index[~inside], side="left") - 1  # last window ending before i
    has_previous = previous >= 0
    past = np.full(len(previous), 4.0)  # no preceding window: S = -1
    k = previous[has_previous]
    past[has_previous] = (index[~inside][has_previous] - runs[k, 1]) / (widths[k] - 1)
    weights[~inside] = scaled_sigmoid(past) * profile.fp
    scored = index >= labels.probation
    window = run_of[scored]
    return _Sweep(s[scored], weights[scored], window, len(runs), len(np.unique(window[window >= 0])))


def _threshold_curve(sweeps: Sequence[_Sweep], profile: NabProfile) -> tuple[np.ndarray, np.ndarray]:
    """Raw corpus score for every candidate threshold, highest threshold first (NAB's ``calcScoreByThreshold``
    over the concatenated files): ``(thresholds [K + 1], raw [K + 1])``, ``thresholds[0]`` detects nothing."""
    offsets = np.cumsum([0] + [sweep.num_runs for sweep in sweeps])
    scores = np.concatenate([sweep.scores for sweep in sweeps])
    weights = np.concatenate([sweep.weights for sweep in sweeps])
    window = np.concatenate([np.where(sw.window >= 0, sw.window + off, -1) for sw, off in zip(sweeps, offsets)])
    base = -profile.fn * sum(sweep.num_windows for sweep in sweeps)
    order = np.argsort(-scores, kind="stable")
    scores, weights, window = scores[order], weights[order], window[order]
    delta = np.where(window < 0, weights, 0.0)
    # inside windows only the earliest detection counts: the change is the rise of the running max per window
    positions = np.flatnonzero(window >= 0)
    by_window = positions[np.argsort(window[positions], kind="stable")]
    group = window[by_window]
    values = weights[by_window]
    span = 2.0 * (np.abs(values).max(initial=0.0) + profile.fn) + 1.0
    _, rank = np.unique(group, return_inverse=True)
    running = np.maximum.accumulate(values + rank * span) - rank * span
    running = np.maximum(running, -profile.fn)
    first = np.r_[True, group[1:] != group[:-1]] if len(group) else np.zeros(0, bool)
    previous = np.where(first, -profile.fn, np.r_[-profile.fn, running[:-1]])
    delta[by_window] = running - previous
    total = base + np.cumsum(delta)
    last_of_level = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True]) if len(scores) else np.zeros(0, int)
    thresholds = np.r_[NO_DETECTION_THRESHOLD, scores[last_of_level]]
    return thresholds, np.r_[base, total[last_of_level]]


def nab_file_score(
    scores: ArrayLike, labels: NabLabelled, threshold: float, profile: str | NabProfile = "standard"
) -> NabFileScore:
    """The raw NAB score of one file: detections are ``scores >= threshold`` after the probationary period.

    ``scores``: ``[T]`` in [0, 1]; ``labels``: anything with ``name``, ``in_window`` ``[T]`` and ``probation``
    (`NabLabels`, `recurrax.data.NabSeries`).

    Example:
        >>> labels = NabLabels.from_windows("f", 20, [(10, 14)], probation=0)
        >>> scores = np.zeros(20); scores[10] = 1.0  # detection at the window's first point
        >>> nab_file_score(scores, labels, threshold=0.5).score
        1.0
    """
    weights = _profile(profile)
    sweep = _file_sweep(scores, labels, weights)
    detected = sweep.scores >= threshold
    outside = sweep.window < 0
    score = float(np.sum(sweep.weights[detected & outside]))
    for k in np.unique(sweep.window[~outside]):
        hits = detected & (sweep.window == k)
        score += float(sweep.weights[hits].max()) if hits.any() else -weights.fn
    return NabFileScore(
        name=labels.name,
        score=score,
        tp=int(np.sum(detected & ~outside)),
        fp=int(np.sum(detected & outside)),
        fn=int(np.sum(~detected & ~outside)),
        tn=int(np.sum(~detected & outside)),
    )


def nab_threshold_sweep(
    scores_by_name: Mapping[str, ArrayLike], corpus: Sequence[NabLabelled], profile: str | NabProfile = "standard"
) -> tuple[np.ndarray, np.ndarray]:
    """The raw corpus score at every distinct threshold, highest first: ``(thresholds [K], raw [K])``.

    One sort of all scores and cumulative sums (O(N log N) for N points), equal to NAB's sweeper.
    """
    weights = _profile(profile)
    sweeps = [_file_sweep(_scores_of(scores_by_name, labels.name), labels, weights) for labels in corpus]
    return _threshold_curve(sweeps, weights)


def _scores_of(scores_by_name: Mapping[str, ArrayLike], name: str) -> ArrayLike:
    if name not in scores_by_name:
        raise ValueError(f"no scores for corpus file {name!r}")
    return scores_by_name[name]


def nab_corpus_score(
    scores_by_name: Mapping[str, ArrayLike],
    corpus: Sequence[NabLabelled],
    profile: str | NabProfile = "standard",
    threshold: float | None = None,
) -> NabResult:
    """The normalised NAB score of a detector over a corpus (null detector 0, perfect detector 100).

    ``scores_by_name[file.name]`` is the ``[T]`` score of each file of ``corpus``; ``threshold=None`` chooses
    the threshold that maximises the raw corpus score, as NAB's optimiser does.

    Example:
        >>> corpus = [NabLabels.from_windows("a", 20, [(10, 14)], probation=0)]
        >>> perfect = np.zeros(20); perfect[10] = 0.9
        >>> result = nab_corpus_score({"a": perfect}, corpus)
        >>> round(result.score, 6), result.threshold
        (100.0, 0.9)
    """
    weights = _profile(profile)
    if not corpus:
        raise ValueError("the corpus is empty")
    extra = sorted(set(scores_by_name) - {labels.name for labels in corpus})
    if extra:
        raise ValueError(f"scores given for files outside the corpus: {', '.join(extra[:5])}")
    if threshold is None:
        thresholds, raws = nab_threshold_sweep(scores_by_name, corpus, weights)
        threshold = float(thresholds[int(np.argmax(raws))])
    per_file = {
        labels.name: nab_file_score(_scores_of(scores_by_name, labels.name), labels, threshold, weights)
        for labels in corpus
    }
    raw = sum(result.score for result in per_file.values())
    null_scores = {labels.name: np.full(len(labels.in_window), 0.5) for labels in corpus}
    null = float(np.max(nab_threshold_sweep(null_scores, corpus, weights)[1]))
    perfect = weights.tp * sum(len(anomaly_runs(labels.in_window)) for labels in corpus)
    if perfect == null:
        raise ValueError("the corpus has no anomaly windows: the NAB score is undefined")
    return NabResult(
        score=100.0 * (raw - null) / (perfect - null),
        raw=raw,
        null=null,
        perfect=perfect,
        threshold=threshold,
        profile=weights,
        per_file=per_file,
    )
