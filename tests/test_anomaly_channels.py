"""The NAB detector's context channels and rest period, against plain loops.

- `seasonal_residual` and `level_shift` equal a loop over the points that reads only points ``<= t``; changing
  later points changes nothing before them.
- `range_break` equals a loop over the values before ``t`` (Numenta's spatial anomaly).
- ``persist = k``: the error channel is the novelty of the smallest of the last ``k`` errors (a loop), so one
  large error in range scores nothing and two in a row score.
- ``probation_scale = s``: the error channel's reference reads the probationary period's errors ``s`` times
  larger (a loop), so the first points after it score lower.
- `rest_period` equals a loop that keeps a score only above every one of the ``rest`` scores before it.
- Through `anomaly_scores`: the seasonal channel puts the highest score of a daily square wave on the day
  whose peak is missing, the level channel on the point after a level change, the range channel a score of 1
  on the first value beyond the past range, where the error channel (all
  zeros here) sees nothing; bad settings are refused by name.
"""

from __future__ import annotations

import numpy as np
import pytest

from recurrax.data import NabSeries
from recurrax.tasks.anomaly._channels import level_shift, range_break, seasonal_residual
from recurrax.tasks.anomaly._likelihood import rest_period
from recurrax.tasks.anomaly._nab_protocol import _settings, anomaly_scores

HALF_HOUR = np.timedelta64(30, "m")


def _stamps(length: int) -> np.ndarray:
    return np.datetime64("2024-01-01") + np.arange(length) * HALF_HOUR


def test_seasonal_residual_equals_a_loop_over_past_points():
    rng = np.random.default_rng(0)
    values, span, lag = rng.normal(size=300), 5, 48  # one day of half-hour points
    out = seasonal_residual(values, _stamps(300), 100, span)
    for t in range(300):
        if t < lag + span - 1:
            assert np.isnan(out[t])
        else:
            expected = np.mean([abs(values[s] - values[s - lag]) for s in range(t - span + 1, t + 1)])
            assert out[t] == pytest.approx(expected, rel=1e-12)
    changed = values.copy()
    changed[200:] += 3.0
    np.testing.assert_array_equal(seasonal_residual(changed, _stamps(300), 100, span)[:200], out[:200])


def test_level_shift_equals_a_loop_over_past_points():
    rng = np.random.default_rng(1)
    values, span, before = rng.normal(size=200), 4, 30
    out = level_shift(values, span, before)
    for t in range(200):
        past = values[max(t - span - before + 1, 0) : max(t - span + 1, 0)]
        if t < span - 1 or len(past) < span:
            assert np.isnan(out[t])
        else:
            expected = abs(values[t - span + 1 : t + 1].mean() - np.median(past)) / (past.std(ddof=1) + 1e-9)
            assert out[t] == pytest.approx(expected, rel=1e-9)
    changed = values.copy()
    changed[120:] -= 4.0
    np.testing.assert_array_equal(level_shift(changed, span, before)[:120], out[:120])


@pytest.mark.parametrize("tolerance", [0.0, 0.05, 0.5])
def test_range_break_equals_a_loop_over_past_points(tolerance):
    values = np.r_[np.full(3, 2.0), np.random.default_rng(4).standard_t(2, size=300)]
    out = range_break(values, tolerance)
    for t in range(len(values)):
        high, low = values[:t].max(initial=-np.inf), values[:t].min(initial=np.inf)
        width = high - low if t else 0.0
        beyond = values[t] > high + tolerance * width or values[t] < low - tolerance * width
        assert out[t] == float(t > 0 and width > 0 and beyond)
    assert out[:3].sum() == 0 and 0 < out.sum() < 40


@pytest.mark.parametrize("rest", [0, 1, 3, 20])
def test_rest_period_equals_a_loop(rest):
    scores = np.random.default_rng(rest).integers(0, 6, size=200) / 5.0  # ties on purpose
    expected = scores.copy()
    for t in range(len(scores)):
        if rest and t > 0 and scores[t] <= scores[max(t - rest, 0) : t].max():
            expected[t] = 0.0
    np.testing.assert_array_equal(rest_period(scores, rest), expected)


def _scores(values: np.ndarray, probation: int, **settings) -> np.ndarray:
    series = NabSeries("a/b.csv", _stamps(len(values)), values, (), np.zeros(len(values), bool), probation)
    return anomaly_scores(np.zeros(len(values)), _settings(settings), series)


def test_the_seasonal_channel_finds_the_day_without_its_peak():
    day = np.r_[np.zeros(24), np.ones(24)]
    values = np.tile(day, 10) + 0.01 * np.random.default_rng(2).normal(size=480)
    values[7 * 48 + 24 : 8 * 48] = 0.0  # day 7 misses its peak
    assert _scores(values, 150).max() == 0.0  # the error channel alone sees nothing
    scores = _scores(values, 150, seasonal=12, rest=10)
    assert 7 * 48 + 24 <= int(np.argmax(scores)) < 8 * 48
    assert (scores[:150] == 0).all() and ((scores >= 0) & (scores <= 1)).all()


def test_the_level_channel_finds_the_shift():
    values = np.random.default_rng(3).normal(size=600)
    values[400:] += 6.0
    scores = _scores(values, 100, level=8, level_before=100, rest=50)
    peak = int(np.argmax(scores))
    assert 400 <= peak < 408
    assert (scores[peak + 1 : peak + 50] == 0).all()  # the rest period keeps one alarm for the shift


def test_the_range_channel_scores_one_beyond_the_past_range():
    values = np.sin(np.arange(600) / 7.0)
    values[450] = 1.2  # 10% of the range above every earlier value
    assert _scores(values, 100).max() == 0.0
    scores = _scores(values, 100, spatial=0.05)
    assert np.flatnonzero(scores).tolist() == [450] and scores[450] == 1.0
    assert _scores(values, 100, spatial=0.2).max() == 0.0  # within the margin


def test_persist_scores_the_smallest_of_the_last_errors():
    values = np.sin(np.arange(400) / 5.0)
    errors = np.abs(np.random.default_rng(5).normal(size=400)) * 0.1
    errors[300], errors[350:352] = 9.0, 9.0  # one large error alone, then two in a row
    series = NabSeries("a/b.csv", _stamps(400), values, (), np.zeros(400, bool), 100)
    scores = anomaly_scores(errors, _settings({"transform": "novelty", "persist": 2}), series)
    smallest = np.array([errors[max(t - 1, 0) : t + 1].min() for t in range(400)])
    expected = anomaly_scores(smallest, _settings({"transform": "novelty"}), series)
    np.testing.assert_array_equal(scores, expected)
    assert scores[300] < 0.5 < scores[351]


def test_probation_scale_raises_the_in_sample_errors_in_the_reference():
    errors = np.abs(np.random.default_rng(6).normal(size=300)) + 0.1
    series = NabSeries("a/b.csv", _stamps(300), np.zeros(300), (), np.zeros(300, bool), 100)
    settings = {"transform": "novelty", "quantile": 0.9, "long": 50}
    scaled = anomaly_scores(errors, _settings({**settings, "probation_scale": 2.0}), series)
    reference = np.where(np.arange(300) < 100, 2.0 * errors, errors)
    for t in range(100, 300):
        past = reference[max(t - 50, 0) : t]
        assert scaled[t] == pytest.approx(errors[t] / (errors[t] + np.quantile(past, 0.9)), rel=1e-9)
    plain = anomaly_scores(errors, _settings(settings), series)
    assert (scaled[100:150] <= plain[100:150]).all() and (scaled[100:130] < plain[100:130]).all()  # in-sample
    np.testing.assert_array_equal(scaled[150:], plain[150:])  # and no longer does


BAD_SETTINGS = [{"rest": -1}, {"seasonal": 1.5}, {"level": True}, {"level_before": 0}, {"spatial": -0.1},
                {"spatial": "5%"}, {"persist": 0}, {"probation_scale": 0.0}, {"probation_scale": True}]


@pytest.mark.parametrize("bad", BAD_SETTINGS)
def test_bad_channel_settings_are_refused_by_name(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        _settings(bad)
