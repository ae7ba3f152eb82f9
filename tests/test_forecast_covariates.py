"""Covariates: calendar features by hand, frames to covariate matrices, future covariates required and
validated, and a model that gets a covariate which determines ``y`` learns it (direct and seq2seq)."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest

from recurrax.tasks import forecast as fc
from recurrax.train import OptimConfig, TrainConfig

HORIZON = 3


def test_calendar_features_by_hand():
    ds = pd.to_datetime(["2024-01-01 00:00", "2024-04-01 06:00", "2024-12-29 18:00"])  # Mon, Mon, Sun
    got = fc.calendar_features(ds.to_numpy(), ("month", "dayofweek", "hour"))
    month, weekday, hour = np.array([0, 3, 11]), np.array([0, 0, 6]), np.array([0, 6, 18])
    want = np.stack(
        [f(2 * np.pi * u / m) for u, m in ((month, 12), (weekday, 7), (hour, 24)) for f in (np.sin, np.cos)], -1
    )
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert fc.DataConfig(calendar=("month",), exogenous=("price",), static=("size",)).covariate_names == [
        "month_sin", "month_cos", "price", "size",
    ]  # fmt: skip
    with pytest.raises(Exception, match="unknown features"):
        fc.DataConfig(calendar=("week",))


def frame(rows: int = 40, series: int = 4, seed: int = 0) -> pd.DataFrame:
    """Monthly series whose y is exactly the exogenous column x (random signs), with a static column."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(series):
        x = rng.choice([-1.0, 1.0], rows)
        parts.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2020-01-01", periods=rows, freq="MS"),
                                   "y": 3.0 * x, "x": x, "size": float(i)}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def test_frame_covariates_follow_the_columns():
    data = frame(rows=5, series=2).drop(index=2)  # a gap in s0 at 2020-03
    series = fc.SeriesSet.from_frame(data, freq="MS", missing="ffill", calendar=("month",), exogenous=("x",),
                                     static=("size",))  # fmt: skip
    s0 = data[data["unique_id"] == "s0"]
    x = s0["x"].to_numpy()
    np.testing.assert_array_equal(series.covariates[0][:, 2], [x[0], x[1], x[1], x[2], x[3]])  # filled forward
    np.testing.assert_array_equal(series.covariates[1][:, 3], np.ones(5))
    np.testing.assert_allclose(series.covariates[0][:, 0], np.sin(2 * np.pi * np.arange(5) / 12), atol=1e-12)
    history, _ = series.split_last(2)
    np.testing.assert_array_equal(series.last_covariates(2), np.stack([c[-2:] for c in series.covariates]))
    assert history.covariates[0].shape == (3, 4)
    varying = data.assign(size=np.arange(len(data), dtype=float))
    with pytest.raises(ValueError, match="static columns \\['size'\\] change over time"):
        fc.SeriesSet.from_frame(varying, static=("size",))
    with pytest.raises(ValueError, match="lacks the exogenous columns \\['price'\\]"):
        fc.SeriesSet.from_frame(data, exogenous=("price",))


def config(kind: str, covariates: bool) -> fc.ForecastConfig:
    extra = {"exogenous": ("x",), "static": ("size",)} if covariates else {}
    return fc.ForecastConfig(
        model=fc.ModelConfig(kind=kind, hidden_size=8, attention=kind == "seq2seq"),
        data=fc.DataConfig(input_size=8, horizon=HORIZON, batch_size=32, **extra),
        optim=OptimConfig(lr=0.03),
        train=TrainConfig(steps=80, log_every=80, eval_every=0, checkpoint_every=0),
    )


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("covariates")
    runs = {}
    for kind, covariates in (("direct", True), ("seq2seq", True)):
        cfg = config(kind, covariates)
        series = fc.SeriesSet.from_frame(frame(), exogenous=cfg.data.exogenous, static=cfg.data.static)
        history, _ = series.split_last(HORIZON)
        runs[kind, covariates] = (fc.fit_forecast(cfg, history, root / f"{kind}{covariates}", progress=False), series)
    return runs


def holdout_mae(run, series) -> float:
    history, actual = series.split_last(HORIZON)
    known = {} if series.covariates is None else {"covariates": history.covariates,
                                                  "future": series.last_covariates(HORIZON)}  # fmt: skip
    mean = fc.predict(run.model, run.config, history.values, covariate_scaler=run.covariate_scaler, **known).mean
    return float(np.mean(np.abs(mean - np.stack(actual))))


def test_a_covariate_that_determines_y_is_learned(fitted):
    """y = 3 x with independent random signs x: without x, no forecast does better than an expected MAE of
    3 (1 in the windows' scaled units, which the training loss is in); with x as a known-future covariate
    the models get far below it."""
    for kind in ("direct", "seq2seq"):
        run, series = fitted[kind, True]
        assert holdout_mae(run, series) < 0.15 * 3.0
        assert run.fit.history[-1]["loss"] < 0.15 * 1.0


def test_future_covariates_are_required_and_checked(fitted, tmp_path):
    run, series = fitted["direct", True]
    history, _ = series.split_last(HORIZON)
    with pytest.raises(ValueError, match=r"takes 2 covariates \['x', 'size'\]: give covariates"):
        fc.predict(run.model, run.config, history.values)
    with pytest.raises(ValueError, match="pass covariate_scaler=run.covariate_scaler"):
        fc.predict(run.model, run.config, history.values, covariates=history.covariates,
                   future=series.last_covariates(HORIZON))  # fmt: skip
    with pytest.raises(ValueError, match=r"future covariates must be \[N, H, K\] = \[4, 3, 2\]"):
        fc.predict(run.model, run.config, history.values, covariates=history.covariates,
                   future=np.zeros((4, 2, 2)))  # fmt: skip
    nan = series.last_covariates(HORIZON).copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fc.predict(run.model, run.config, history.values, covariates=history.covariates, future=nan)
    plain = config("direct", False)
    without = fc.build_model(plain.model, HORIZON, key=jax.random.key(0))
    with pytest.raises(ValueError, match="trained without covariates"):
        fc.predict(
            without, plain, history.values, covariates=history.covariates, future=series.last_covariates(HORIZON)
        )
    # after the end of the data: the exogenous values of the forecast steps come from a future frame
    d = run.config.data
    with pytest.raises(ValueError, match=r"known-future columns \['x'\]"):
        fc.future_covariates(series, HORIZON, exogenous=d.exogenous, static=d.static)
    stamps = pd.date_range("2023-05-01", periods=HORIZON, freq="MS")
    future = pd.DataFrame([{"unique_id": f"s{i}", "ds": t, "x": 1.0} for i in range(4) for t in stamps])
    got = fc.future_covariates(series, HORIZON, exogenous=d.exogenous, static=d.static, future=future)
    np.testing.assert_array_equal(got[2], [[1.0, 2.0]] * HORIZON)  # x, then the static size of s2
    with pytest.raises(ValueError, match=r"series 's1' lacks rows for \['2023-07-01'\]"):
        fc.future_covariates(series, HORIZON, exogenous=d.exogenous, static=d.static, future=future.drop(index=5))
    loaded = fc.load_forecast(run.run_dir)
    np.testing.assert_array_equal(loaded.covariate_scaler.loc, run.covariate_scaler.loc)
    known = {"covariates": series.covariates, "future": got}
    np.testing.assert_array_equal(
        fc.predict(loaded.model, loaded.config, series.values, covariate_scaler=loaded.covariate_scaler, **known).mean,
        fc.predict(run.model, run.config, series.values, covariate_scaler=run.covariate_scaler, **known).mean,
    )


def test_covariate_scaler_standardises_exogenous_and_static_columns_only():
    rng = np.random.default_rng(1)
    covariates = [rng.normal([0.5, 0.0, 300.0, 7.0], [0.3, 0.3, 50.0, 0.0], (n, 4)) for n in (5, 9)]
    scaler = fc.CovariateScaler.fit(covariates, calendar_channels=2)
    rows = np.concatenate(covariates)
    np.testing.assert_allclose(scaler.loc, [0.0, 0.0, rows[:, 2].mean(), 7.0])
    np.testing.assert_allclose(scaler.scale, [1.0, 1.0, rows[:, 2].std(), 1.0])  # a constant column keeps scale 1
    np.testing.assert_allclose(scaler(covariates[0])[:, :2], covariates[0][:, :2])
    back = fc.CovariateScaler.from_json(scaler.to_json())
    np.testing.assert_array_equal(back(covariates[1]), scaler(covariates[1]))


def test_a_covariate_in_the_thousands_is_learned_once_standardised(tmp_path):
    """y = 3 x as above, but the model gets 5000 + 1000 x: standardised (the default) it learns y from it as
    well as from x itself; the run's scaler is the column's mean and standard deviation."""
    data = frame().assign(x=lambda f: 5000.0 + 1000.0 * f["x"])
    cfg = config("direct", True)
    series = fc.SeriesSet.from_frame(data, exogenous=cfg.data.exogenous, static=cfg.data.static)
    history, _ = series.split_last(HORIZON)
    run = fc.fit_forecast(cfg, history, tmp_path, progress=False)
    rows = np.concatenate(history.covariates)
    np.testing.assert_allclose(run.covariate_scaler.loc, rows.mean(axis=0))
    np.testing.assert_allclose(run.covariate_scaler.scale, rows.std(axis=0))
    assert holdout_mae(run, series) < 0.15 * 3.0
