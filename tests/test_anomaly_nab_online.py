"""The online NAB detector (`online_forecasts`, `nab_scores`) and NAB's own results layout.

- Online: changing points after ``t`` never changes a forecast, error or score at or before ``t`` (exactly,
  same shapes), and cutting the series after ``t`` gives the same values up to float noise, for every input
  option, continual learning and an ensemble.
- The layout (`write_nab_results`, ``recurrax anomaly detect --nab``) on the two NAB series shipped in
  ``fixtures/nab``: ``<detector>/<category>/<detector>_<file>.csv`` with NAB's columns, the source file's
  time stamps and values row for row, scores in [0, 1], the labels of NAB's windows.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

from recurrax.cli import main
from recurrax.data import NabSeries, load_nab
from recurrax.tasks import anomaly

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHIPPED = ("realAdExchange/exchange-3_cpc_results.csv", "realTraffic/speed_7578.csv")
SMALL = {"hidden_size": 8, "window": 16, "steps": 10, "batch_size": 8}


def _series(length: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    stamps = np.datetime64("2024-01-01") + np.arange(length) * np.timedelta64(30, "m")
    rng = np.random.default_rng(seed)
    values = np.sin(np.arange(length) * 2 * np.pi / 48) + 0.1 * rng.normal(size=length)
    return stamps, values


@pytest.mark.parametrize(
    "options",
    [{}, {"learn_every": 16, "ensemble": 2, "time_features": True, "seasonal_lags": True, "learn_lr": 1e-3}],
)
def test_forecasts_never_use_future_points(options, key):
    stamps, values = _series()
    cfg = anomaly.OnlineConfig(**SMALL, **options)
    probation, cut = 200, 900
    base = anomaly.online_forecasts(values, stamps, probation, cfg, key=key)
    changed = values.copy()
    changed[cut + 1 :] = 50.0 + np.random.default_rng(1).normal(size=len(values) - cut - 1)
    other = anomaly.online_forecasts(changed, stamps, probation, cfg, key=key)
    np.testing.assert_array_equal(other.forecasts[:, : cut + 1], base.forecasts[:, : cut + 1])
    np.testing.assert_array_equal(other.errors[: cut + 1], base.errors[: cut + 1])
    assert not np.allclose(other.errors[cut + 1 :], base.errors[cut + 1 :])
    short = anomaly.online_forecasts(values[: cut + 1], stamps[: cut + 1], probation, cfg, key=key)
    np.testing.assert_allclose(short.errors, base.errors[: cut + 1], rtol=1e-4, atol=1e-5)


ALL_CHANNELS = {"seasonal": 12, "level": 8, "level_before": 50, "spatial": 0.02, "persist": 2, "rest": 5,
                "probation_scale": 2.0}


@pytest.mark.parametrize("channels", [{}, ALL_CHANNELS])
def test_nab_scores_never_use_future_points(channels):
    stamps, values = _series(1200)
    in_window = np.zeros(1200, bool)
    config = {**SMALL, "program": "joint", "learn_every": 32, "time_features": True, "smooth": 2, **channels}
    base = anomaly.nab_scores(NabSeries("a/b.csv", stamps, values, (), in_window, 180), config)
    changed = values.copy()
    changed[701:] += 5.0
    other = anomaly.nab_scores(NabSeries("a/b.csv", stamps, changed, (), in_window, 180), config)
    np.testing.assert_array_equal(other[:701], base[:701])
    assert other[701] > base[701]
    assert (base[:180] == 0).all() and ((base >= 0) & (base <= 1)).all()


def test_time_features_know_the_day_and_the_week():
    stamps = np.array(["2024-01-01T00:00", "2024-01-01T12:00", "2024-01-08T00:00"], "datetime64[s]")  # Mondays
    features = anomaly.time_features(stamps)
    np.testing.assert_allclose(features[0], features[2], atol=1e-6)
    np.testing.assert_allclose(features[1, :2], [0.0, -1.0], atol=1e-6)


def test_online_config_refuses_bad_settings():
    with pytest.raises(ValueError, match="ensemble"):
        anomaly.OnlineConfig(ensemble=0)
    stamps, values = _series(100)
    with pytest.raises(ValueError, match="probation"):
        anomaly.online_forecasts(values, stamps, 10, anomaly.OnlineConfig(window=16), key=jax.random.key(0))


def _check_layout(folder: Path, detector: str) -> None:
    for series in load_nab(FIXTURES, files=SHIPPED):
        category, file = series.name.split("/")
        path = folder / detector / category / f"{detector}_{file}"
        assert path.is_file(), path
        written = pd.read_csv(path)
        source = pd.read_csv(FIXTURES / "nab" / "data" / series.name)
        assert list(written.columns) == ["timestamp", "value", "anomaly_score", "label"]
        assert written["timestamp"].tolist() == source["timestamp"].tolist()
        np.testing.assert_array_equal(written["value"].to_numpy(), source["value"].to_numpy(np.float64))
        np.testing.assert_array_equal(written["label"].to_numpy(), series.in_window.astype(int))
        assert written["label"].sum() > 0
        scores = written["anomaly_score"].to_numpy()
        assert np.isfinite(scores).all() and scores.min() >= 0 and scores.max() <= 1
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.csv")) == sorted(
        f"{detector}/{name.split('/')[0]}/{detector}_{name.split('/')[1]}" for name in SHIPPED
    )


def test_write_nab_results_layout(tmp_path):
    for series in load_nab(FIXTURES, files=SHIPPED):
        scores = anomaly.nab_scores(series, {**SMALL, "program": "joint"})
        anomaly.write_nab_results(tmp_path, "mine", series, scores)
    _check_layout(tmp_path, "mine")


def test_write_nab_results_refuses_bad_scores(tmp_path):
    series = load_nab(FIXTURES, files=SHIPPED[:1])[0]
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        anomaly.write_nab_results(tmp_path, "mine", series, np.full(len(series), 1.5))
    with pytest.raises(ValueError, match="expected"):
        anomaly.write_nab_results(tmp_path, "mine", series, np.zeros(3))
    with pytest.raises(ValueError, match="detector name"):
        anomaly.write_nab_results(tmp_path, "a/b", series, np.zeros(len(series)))


def test_cli_detect_nab_writes_the_layout(tmp_path):
    sets = [part for key, value in SMALL.items() for part in ("--set", f"{key}={value}")]
    files = [part for name in SHIPPED for part in ("--file", name)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["anomaly", "detect", "--nab", "--data-dir", str(FIXTURES), "--out", str(tmp_path / "results"),
                     "--detector-name", "rx", *files, *sets])  # fmt: skip
    assert code == 0, printed.getvalue()
    assert "2 NAB files scored" in printed.getvalue()
    _check_layout(tmp_path / "results", "rx")


def test_cli_detect_nab_errors_are_one_line(tmp_path, capsys):
    assert main(["anomaly", "detect", "--nab", "--data-dir", str(FIXTURES), "--set", "bogus=1"]) != 0
    assert main(["anomaly", "detect", "--out", str(tmp_path / "x.csv")]) != 0
