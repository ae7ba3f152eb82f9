"""Drift monitoring: PSI against hand computations, KS against a plain ECDF loop and scipy, monitors that
alert on a shifted series and stay quiet on a fresh sample of the same distribution (fixed seeds, margins)."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest
from scipy import stats

from recurrax.serve import DriftMonitor, ErrorDriftMonitor, ReferenceProfile, ks_test, psi


def ar1(n: int, seed: int, phi: float = 0.5) -> np.ndarray:
    """An AR(1) series ``x_t = phi x_{t-1} + e_t`` with unit-variance stationary distribution."""
    noise = np.random.default_rng(seed).normal(scale=math.sqrt(1 - phi**2), size=n + 100)
    x = np.zeros_like(noise)
    for t in range(1, noise.size):
        x[t] = phi * x[t - 1] + noise[t]
    return x[100:]


def test_psi_matches_a_hand_computation():
    reference = np.arange(1.0, 11.0)  # median edge 5.5: fractions (0.5, 0.5)
    assert psi(reference, [1, 2, 3, 9], bins=2) == pytest.approx(0.25 * math.log(1.5) + 0.25 * math.log(2))
    # an empty bin counts as eps: current fractions (1, eps)
    expected = 0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert psi(reference, [1.0, 2.0], bins=2) == pytest.approx(expected)
    # 4 bins: edges at the 0.25/0.5/0.75 quantiles 3.25, 5.5, 7.75 -> reference (0.3, 0.2, 0.2, 0.3)
    r, c = np.array([0.3, 0.2, 0.2, 0.3]), np.array([0.1, 0.1, 0.4, 0.4])
    current = [1.0, 4.0, 6.0, 6.5, 7.0, 7.5, 8.0, 9.0, 10.0, 10.0]
    assert psi(reference, current, bins=4) == pytest.approx(float(np.sum((c - r) * np.log(c / r))))
    assert psi(reference, reference, bins=4) == 0.0


def test_psi_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        psi([1.0, np.nan], [1.0])
    with pytest.raises(ValueError, match="current is empty"):
        psi([1.0, 2.0], [])
    with pytest.raises(ValueError, match="bins"):
        psi([1.0, 2.0], [1.0], bins=1)


def test_ks_matches_an_ecdf_loop_and_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=200), rng.normal(0.3, size=150)
    gap = max(abs(np.mean(a <= v) - np.mean(b <= v)) for v in np.concatenate([a, b]))
    result = ks_test(a, b)
    assert result.statistic == pytest.approx(gap)
    assert result.pvalue == pytest.approx(stats.ks_2samp(a, b).pvalue)


def test_reference_profile_round_trips_through_json():
    values = np.random.default_rng(0).gamma(2.0, size=(3000, 2))
    profile = ReferenceProfile.from_values(values, bins=5, sample_size=500, names=["a", "b"])
    np.testing.assert_allclose(profile.edges[1], np.quantile(values[:, 1], [0.2, 0.4, 0.6, 0.8]))
    np.testing.assert_allclose(profile.fractions[0], np.full(5, 0.2), atol=1e-3)
    assert profile.sample.shape == (500, 2) and profile.count == 3000
    back = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert back.names == ("a", "b") and back.count == 3000
    np.testing.assert_array_equal(back.sample, profile.sample)
    for e, f, e2, f2 in zip(profile.edges, profile.fractions, back.edges, back.fractions, strict=True):
        np.testing.assert_array_equal(e, e2)
        np.testing.assert_array_equal(f, f2)
    with pytest.raises(ValueError, match="format"):
        ReferenceProfile.from_dict({"format": 99})
    with pytest.raises(ValueError, match="malformed"):
        ReferenceProfile.from_dict({**profile.to_dict(), "fractions": [[0.5], [0.5]]})


def test_drift_detected_on_a_shifted_series_not_on_a_fresh_one():
    series = ar1(7000, seed=11)
    windows = np.lib.stride_tricks.sliding_window_view(series, 4)  # [N, 4]: 4 lagged features
    profile = ReferenceProfile.from_values(windows[:5000])

    fresh = DriftMonitor(profile, window=1000)
    fresh.observe(windows[5000:6000].reshape(10, 100, 4))  # [B, T, D] batches read as rows
    report = fresh.report()
    assert report["count"] == 1000 and not report["alert"]
    assert max(f["psi"] for f in report["features"]) < 0.1  # threshold 0.25

    shifted = DriftMonitor(profile, window=1000)
    shifted.observe(windows[6000:] + 1.0)  # a level shift of one standard deviation
    report = shifted.report()
    assert report["alert"] and all(f["psi_alert"] and f["ks_alert"] for f in report["features"])
    assert min(f["psi"] for f in report["features"]) > 0.5
    json.dumps(report)


def test_fresh_independent_sample_passes_ks():
    rng = np.random.default_rng(2)
    monitor = DriftMonitor(ReferenceProfile.from_values(rng.normal(size=(5000, 3))), window=1000)
    monitor.observe(rng.normal(size=(1000, 3)))
    features = monitor.report()["features"]
    assert min(f["ks_pvalue"] for f in features) > 0.05 and max(f["psi"] for f in features) < 0.1


def test_alert_needs_a_large_and_a_significant_shift():
    rng = np.random.default_rng(4)
    profile = ReferenceProfile.from_values(rng.normal(size=5000))
    small = DriftMonitor(profile)  # a significant but small shift: KS rejects, PSI stays below 0.25
    small.observe(rng.normal(0.2, size=1000))
    feature = small.report()["features"][0]
    assert feature["ks_alert"] and 0.02 < feature["psi"] < 0.25 and not feature["alert"]
    psi_only = DriftMonitor(profile, ks_alpha=None, psi_threshold=0.02)
    psi_only.observe(rng.normal(0.2, size=1000))
    assert psi_only.report()["alert"]


def test_alert_logged_once_per_onset(caplog):
    rng = np.random.default_rng(5)
    monitor = DriftMonitor(ReferenceProfile.from_values(rng.normal(size=4000)), window=500, min_count=200)
    with caplog.at_level(logging.WARNING, logger="recurrax.serve._drift"):
        monitor.observe(rng.normal(2.0, size=100))
        assert not monitor.report()["alert"] and not caplog.records  # fewer than min_count rows
        for _ in range(4):
            monitor.observe(rng.normal(2.0, size=100))
        assert monitor.report()["alert"] and len(caplog.records) == 1
        monitor.observe(rng.normal(size=500))  # the window now holds only in-distribution rows
        assert not monitor.report()["alert"]
        monitor.observe(rng.normal(2.0, size=500))
        assert len(caplog.records) == 2 and "input drift alert on x0" in caplog.records[-1].getMessage()


def test_drift_monitor_rejects_bad_input():
    monitor = DriftMonitor(ReferenceProfile.from_values(np.zeros((10, 3)) + np.arange(10.0)[:, None]))
    with pytest.raises(ValueError, match="2 features, the reference has 3"):
        monitor.observe(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        monitor.observe(np.full((1, 3), np.nan))
    monitor.observe(np.zeros((0, 3)))  # an empty batch changes nothing
    assert monitor.report()["count"] == 0 and monitor.report()["features"][0]["psi"] is None


def test_error_drift():
    rng = np.random.default_rng(7)
    reference = rng.normal(size=3000)

    same = ErrorDriftMonitor(reference)
    same.observe(rng.normal(size=1000))
    report = same.report()
    assert not report["alert"] and report["ks_pvalue"] > 0.05 and abs(report["mean_ratio"] - 1) < 0.1

    worse = ErrorDriftMonitor(reference)
    worse.observe(rng.normal(0.5, 2.0, size=1000))  # biased and twice as spread
    report = worse.report()
    assert report["ks_alert"] and report["ratio_alert"] and report["mean_ratio"] > 1.8
    expected = np.mean(np.abs(worse._window.values())) / np.mean(np.abs(reference))
    assert report["mean_ratio"] == pytest.approx(expected)
    json.dumps(report)
    with pytest.raises(ValueError, match="all zero"):
        ErrorDriftMonitor(np.zeros(5))


def test_error_drift_needs_a_worse_ratio():
    rng = np.random.default_rng(8)
    reference = rng.normal(size=3000)
    shaped = ErrorDriftMonitor(reference)  # same mean |e|, other shape: KS rejects, the ratio stays near 1
    shaped.observe(rng.choice([-0.8, 0.8], size=1000))
    report = shaped.report()
    assert report["ks_alert"] and not report["ratio_alert"] and not report["alert"]
    ratio_only = ErrorDriftMonitor(reference, ks_alpha=None, ratio_threshold=0.9)
    ratio_only.observe(rng.choice([-0.8, 0.8], size=1000))
    assert ratio_only.report()["alert"]


def test_reference_profile_saves_and_loads_a_file(tmp_path):
    values = np.random.default_rng(1).normal(size=(300, 3))
    profile = ReferenceProfile.from_values(values, names=["a", "b", "c"])
    back = ReferenceProfile.load(profile.save(tmp_path / "profile.json"))
    assert back.to_dict() == profile.to_dict()
    np.testing.assert_array_equal(back.edges[2], np.quantile(values[:, 2], np.arange(1, 10) / 10))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        ReferenceProfile.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"format": 1}')
    with pytest.raises(ValueError, match="other.json: malformed reference profile"):
        ReferenceProfile.load(tmp_path / "other.json")
