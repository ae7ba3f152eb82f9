"""Point-wise, event-wise (Telemanom) and point-adjusted precision/recall/F1 against hand counts and plain
loops."""

from __future__ import annotations

import numpy as np
import pytest

from recurrax import metrics


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def test_point_prf_hand_counts():
    # tp at 1; fp at 4; fn at 2, 3
    y = [0, 1, 1, 1, 0, 0]
    p = [0, 1, 0, 0, 1, 0]
    assert metrics.point_prf(y, p) == pytest.approx((0.5, 1 / 3, 0.4))


def test_event_prf_hand_counts():
    # events [1, 3], [6, 7], [10]; predicted runs [3, 4] (hits event 1), [8] and [12, 13] (false alarms)
    y = [0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0]
    p = [0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1]
    assert metrics.event_prf(y, p) == pytest.approx((1 / 3, 1 / 3, 1 / 3))  # tp 1, fp 2, fn 2


def test_event_counts_each_event_once():
    # two predicted runs inside one event: one TP, no FP
    assert metrics.event_prf([1, 1, 1, 1], [1, 0, 1, 0]) == (1.0, 1.0, 1.0)
    # one predicted run covering two events: both TPs
    assert metrics.event_prf([1, 0, 1], [1, 1, 1]) == (1.0, 1.0, 1.0)


def test_point_adjusted_is_inflated():
    # event [1, 4] hit once at 3 -> all 4 points count; event [6, 7] missed; false alarm at 5
    y = [0, 1, 1, 1, 1, 0, 1, 1]
    p = [0, 0, 0, 1, 0, 1, 0, 0]
    assert metrics.point_adjusted_prf(y, p) == pytest.approx(_prf(tp=4, fp=1, fn=2))
    assert metrics.point_prf(y, p) == pytest.approx(_prf(tp=1, fp=1, fn=5))
    assert metrics.point_adjusted_prf(y, p)[2] > metrics.point_prf(y, p)[2]


@pytest.mark.parametrize("fn", [metrics.point_prf, metrics.event_prf, metrics.point_adjusted_prf])
def test_edge_cases(fn):
    nothing = np.zeros(5, bool)
    some = np.array([0, 1, 1, 0, 0], bool)
    assert fn(nothing, nothing) == (0.0, 0.0, 0.0)  # no anomalies, no detections
    assert fn(some, nothing) == (0.0, 0.0, 0.0)  # anomalies, no detections: recall 0
    assert fn(nothing, some)[0] == 0.0  # detections, no anomalies: precision 0
    assert fn(some, some) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    "y, p, match",
    [
        ([0, 1], [0, 1, 0], "one length"),
        ([[0, 1]], [[0, 1]], "one-dimensional"),
        ([0, 2], [0, 1], "0/1"),
        ([0.0, np.nan], [0, 1], "NaN"),
        (["a", "b"], [0, 1], "boolean"),
    ],
)
def test_bad_input(y, p, match):
    with pytest.raises(ValueError, match=match):
        metrics.point_prf(y, p)


def test_anomaly_runs():
    assert metrics.anomaly_runs([False] * 3).shape == (0, 2)
    assert metrics.anomaly_runs([True] * 3).tolist() == [[0, 2]]
    assert metrics.anomaly_runs([1, 0, 1, 1, 0, 1]).tolist() == [[0, 0], [2, 3], [5, 5]]


def _runs_loop(mask):
    runs, start = [], None
    for i, flag in enumerate(list(mask) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def test_against_plain_loops(seed):
    rng = np.random.default_rng(seed)
    for _ in range(50):
        y, p = rng.random(40) < 0.3, rng.random(40) < 0.2
        events, alarms = _runs_loop(y), _runs_loop(p)
        hit = [any(p[a : b + 1]) for a, b in events]
        false = [not any(y[a : b + 1]) for a, b in alarms]
        assert metrics.event_prf(y, p) == pytest.approx(_prf(sum(hit), sum(false), len(events) - sum(hit)))
        adjusted = p.copy()
        for (a, b), h in zip(events, hit):
            adjusted[a : b + 1] |= h
        counts = [sum(y & adjusted), sum(~y & adjusted), sum(y & ~adjusted)]
        assert metrics.point_adjusted_prf(y, p) == pytest.approx(_prf(*counts))
