"""Forecast metrics against hand-computed values and independent numerical oracles (scipy integration)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from recurrax import metrics


def test_point_metrics_hand_values():
    y, f = [1.0, 2.0, 4.0], [2.0, 2.0, 5.0]
    assert metrics.mae(y, f) == pytest.approx(2 / 3)
    assert metrics.rmse(y, f) == pytest.approx(math.sqrt(2 / 3))
    assert metrics.mape(y, f) == pytest.approx(100 * (1 + 0 + 0.25) / 3)
    # M3 sMAPE: 200 |y - f| / (|y| + |f|), mean; a 0/0 term is 0
    assert metrics.smape(y, f) == pytest.approx((200 / 3 + 0 + 200 / 9) / 3)
    assert metrics.smape([0.0, 1.0], [0.0, 3.0]) == pytest.approx((0 + 100) / 2)


def test_mase_hand_values():
    insample = [1.0, 2.0, 4.0, 8.0]
    assert metrics.mase([3.0, 5.0], [4.0, 4.0], insample) == pytest.approx(1 / (7 / 3))  # scale mean(1, 2, 4)
    assert metrics.mase([3.0, 5.0], [4.0, 4.0], insample, period=2) == pytest.approx(1 / 4.5)  # mean(3, 6)


def test_quantile_loss_and_coverage_hand_values():
    # y = 1; quantiles 0 at 0.1 and 2 at 0.9: 0.1 * 1 and 0.1 * 1
    assert metrics.quantile_loss([1.0], [[0.0, 2.0]], [0.1, 0.9]) == pytest.approx(0.1)
    assert metrics.quantile_loss([3.0], [[0.0, 2.0]], [0.1, 0.9]) == pytest.approx((0.1 * 3 + 0.9 * 1) / 2)
    assert metrics.coverage([1.0, 5.0, 2.0, 0.0], [0.0, 0.0, 2.0, 1.0], [2.0, 4.0, 3.0, 2.0]) == 0.5


def test_crps_gaussian_matches_integral():
    y, mu, sigma = 0.7, 0.2, 1.3

    def integrand(x):
        return (stats.norm.cdf(x, mu, sigma) - (x >= y)) ** 2

    expected = integrate.quad(integrand, -30, y)[0] + integrate.quad(integrand, y, 30)[0]
    assert metrics.crps_gaussian([y], [mu], [sigma]) == pytest.approx(expected, rel=1e-7)
    at_mean = 2 / math.sqrt(2 * math.pi) - 1 / math.sqrt(math.pi)  # z = 0: 2 phi(0) - 1 / sqrt(pi)
    assert metrics.crps_gaussian([0.0], [0.0], [1.0]) == pytest.approx(at_mean)


def test_crps_samples_hand_value_and_limit():
    assert metrics.crps_samples([1.0], [[0.0, 2.0]]) == pytest.approx(1 - 0.5 * 1)  # E|X-y| = 1, E|X-X'| = 1
    draws = stats.norm.ppf((np.arange(2000) + 0.5) / 2000)
    assert metrics.crps_samples([0.3], [draws]) == pytest.approx(metrics.crps_gaussian([0.3], [0.0], [1.0]), abs=2e-3)


def test_quantile_loss_over_dense_grid_approximates_crps():
    levels = (np.arange(999) + 0.5) / 999
    quantiles = stats.norm.ppf(levels)
    assert 2 * metrics.quantile_loss([0.4], [quantiles], levels) == pytest.approx(
        metrics.crps_gaussian([0.4], [0.0], [1.0]), rel=1e-3
    )


def test_errors_are_clear():
    with pytest.raises(ValueError, match="one shape"):
        metrics.mae([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        metrics.rmse([np.nan], [1.0])
    with pytest.raises(ValueError, match="y_true is 0"):
        metrics.mape([0.0], [1.0])
    with pytest.raises(ValueError, match="seasonal naive error is 0"):
        metrics.mase([1.0], [1.0], [2.0, 2.0, 2.0])
