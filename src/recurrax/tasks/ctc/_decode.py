"""CTC decoding of per-frame log-probabilities ``[T, K]`` (label 0 the blank): best path (greedy) and prefix
beam search (Hannun et al. 2014, "First-pass large vocabulary continuous speech recognition using
bi-directional recurrent DNNs", Algorithm 1), optionally fused with a character language model.

Both work on one sequence in NumPy float64; `collapse` is CTC's many-to-one map B (merge repeats, then drop
blanks), so ``B(a a _ a b b) = a a b``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

NEG_INF = -np.inf
LanguageModel = Callable[[tuple[int, ...]], np.ndarray]
"""``lm(prefix) -> [K]`` log-probabilities of the next label after ``prefix`` (entry 0, the blank, unused)."""


def collapse(path: Sequence[int], blank: int = 0) -> tuple[int, ...]:
    """CTC's map B: merge runs of the same label, then drop the blanks."""
    out, previous = [], None
    for label in path:
        label = int(label)
        if label != previous and label != blank:
            out.append(label)
        previous = label
    return tuple(out)


def greedy_decode(log_probs: np.ndarray, length: int | None = None) -> tuple[int, ...]:
    """Best-path decoding: ``collapse(argmax_k log_probs[t, k] for t < length)`` (the labelling of the single
    most likely alignment, which is not always the most likely labelling)."""
    log_probs = _check(log_probs, length)
    return collapse(np.argmax(log_probs, axis=-1))


def prefix_beam_search(
    log_probs: np.ndarray,
    length: int | None = None,
    *,
    beam_size: int = 8,
    lm: LanguageModel | None = None,
    lm_weight: float = 0.0,
    insertion_bonus: float = 0.0,
) -> list[tuple[tuple[int, ...], float]]:
    """CTC prefix beam search: the ``beam_size`` best labellings as ``(labels, score)``, best first.

    Every prefix ``l`` keeps ``log p_b(l)`` and ``log p_nb(l)``, the probability of the frames so far over the
    alignments that collapse to ``l`` and end in a blank / in ``l``'s last label. At frame ``t`` with ``y``
    the frame's probabilities::

        p_b(l)      += (p_b(l) + p_nb(l)) y_blank
        p_nb(l)     += p_nb(l) y_{last(l)}                       (a repeat merges)
        p_nb(l + k) += (p_b(l) + p_nb(l)) y_k     for k != last(l)
        p_nb(l + k) += p_b(l) y_k                 for k == last(l) (a repeat needs a blank between)

    and the ``beam_size`` prefixes with the highest score survive. The score is ``log(p_b + p_nb)`` plus,
    with a language model (shallow fusion), ``sum over l's labels of lm_weight * log p_lm(k | prefix) +
    insertion_bonus``. Without pruning (a beam as wide as the number of prefixes) the acoustic part is the
    exact ``log p(l | x)`` summed over all alignments, so the result is the most likely labelling.
    """
    log_probs = _check(log_probs, length)
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    num_labels = log_probs.shape[1]
    # prefix -> [log p_b, log p_nb, fused language-model score]
    beams: dict[tuple[int, ...], list[float]] = {(): [0.0, NEG_INF, 0.0]}
    for frame in log_probs:
        following: dict[tuple[int, ...], list[float]] = {}

        def entry(prefix: tuple[int, ...], lm_score: float) -> list[float]:
            return following.setdefault(prefix, [NEG_INF, NEG_INF, lm_score])

        for prefix, (p_b, p_nb, lm_score) in beams.items():
            total = np.logaddexp(p_b, p_nb)
            here = entry(prefix, lm_score)
            here[0] = np.logaddexp(here[0], total + frame[0])
            last = prefix[-1] if prefix else None
            if last is not None:
                here[1] = np.logaddexp(here[1], p_nb + frame[last])
            next_lm = lm(prefix) if lm is not None else None
            for label in range(1, num_labels):
                source = (p_b if label == last else total) + frame[label]
                if source == NEG_INF:  # no alignment reaches it: never a candidate
                    continue
                fused = lm_score
                if next_lm is not None:
                    fused += lm_weight * float(next_lm[label]) + insertion_bonus
                extended = entry(prefix + (label,), fused)
                extended[1] = np.logaddexp(extended[1], source)
        ranked = sorted(following.items(), key=lambda item: -_score(item[1]))
        beams = dict(ranked[:beam_size])
    return [(prefix, _score(values)) for prefix, values in sorted(beams.items(), key=lambda item: -_score(item[1]))]


def _score(values: list[float]) -> float:
    return float(np.logaddexp(values[0], values[1]) + values[2])


def _check(log_probs: np.ndarray, length: int | None) -> np.ndarray:
    log_probs = np.asarray(log_probs, np.float64)
    if log_probs.ndim != 2 or log_probs.shape[1] < 2:
        raise ValueError(f"expected log_probs [T, K] with K >= 2 (the blank and a label), got {log_probs.shape}")
    if length is not None:
        if not 0 <= length <= log_probs.shape[0]:
            raise ValueError(f"length must be in [0, T={log_probs.shape[0]}], got {length}")
        log_probs = log_probs[:length]
    return log_probs
