"""Edit distance and the error rates of sequence recognition: character error rate (CER) and word error rate
(WER), each the total Levenshtein distance over the total reference length (as jiwer and Kaldi's
``compute-wer`` report them: a corpus rate, not a mean of per-line rates)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def edit_distance(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> int:
    """Levenshtein distance: the fewest substitutions, insertions and deletions (each cost 1) that turn
    ``reference`` into ``hypothesis``; two rows of the dynamic programme.

        >>> edit_distance("kitten", "sitting")
        3
    """
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp))
        previous = current
    return previous[-1]


def cer(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """``sum_i edit_distance(y_true_i, y_pred_i) / sum_i len(y_true_i)`` over the characters of each line
    (spaces count). 0 when every reference is empty and so is every hypothesis; inf for empty references
    with a non-empty hypothesis.

        >>> cer(["hello world", "ab"], ["helo world", "abc"])
        0.15384615384615385
    """
    return _rate([list(t) for t in _lines(y_true, y_pred)[0]], [list(p) for p in y_pred])


def wer(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """``sum_i edit_distance(words(y_true_i), words(y_pred_i)) / sum_i len(words(y_true_i))``, the words being
    the whitespace-separated tokens.

        >>> wer(["the cat sat"], ["the bat sat down"])
        0.6666666666666666
    """
    return _rate([t.split() for t in _lines(y_true, y_pred)[0]], [p.split() for p in y_pred])


def _lines(y_true: Sequence[str], y_pred: Sequence[str]) -> tuple[Sequence[str], Sequence[str]]:
    if isinstance(y_true, str) or isinstance(y_pred, str):
        raise ValueError("expected sequences of lines (lists of strings), got a single string")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred must have the same number of lines, got {len(y_true)} and {len(y_pred)}")
    return y_true, y_pred


def _rate(references: list[list[str]], hypotheses: list[list[str]]) -> float:
    errors = sum(edit_distance(r, h) for r, h in zip(references, hypotheses))
    total = sum(len(r) for r in references)
    if total == 0:
        return 0.0 if errors == 0 else float("inf")
    return errors / total
