"""`backtest_refit`: the model of each origin is the one `fit_forecast` trains by hand on the histories cut at
that origin (same config and seed: bit-identical forecasts, identical scores), and it never sees a value at or
after its origin."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recurrax.metrics import ReferenceProfile
from recurrax.tasks import forecast as fc
from recurrax.tasks.forecast._run import fingerprint
from recurrax.train import OptimConfig, TrainConfig, find_checkpoint, read_meta

HORIZON, PERIOD, ORIGINS, STEP, LENGTH = 4, 6, 2, 3, 30
CFG = fc.ForecastConfig(
    model=fc.ModelConfig(kind="direct", hidden_size=4),
    data=fc.DataConfig(input_size=8, horizon=HORIZON, period=PERIOD, batch_size=8),
    optim=OptimConfig(lr=0.02),
    train=TrainConfig(steps=20, log_every=20, eval_every=0, checkpoint_every=0, seed=3),
)


def _values(seed: int) -> list[np.ndarray]:
    """Three seasonal series of 30 values at different levels."""
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH)
    return [10.0 * (i + 1) + 3 * np.sin(2 * np.pi * t / PERIOD) + rng.normal(0, 0.5, LENGTH) for i in range(3)]


@pytest.fixture(scope="module")
def refit(tmp_path_factory):
    """`backtest_refit` of three series at two origins 3 steps apart: the series, the rows and the folder."""
    series = fc.SeriesSet.from_arrays(_values(0), ["a", "b", "c"])
    root = tmp_path_factory.mktemp("refit")
    return series, fc.backtest_refit(CFG, series, root, origins=ORIGINS, step=STEP), root


@pytest.mark.parametrize("cut", [HORIZON + STEP, HORIZON])
def test_each_origin_scores_the_model_trained_by_hand_on_its_past(refit, cut, tmp_path):
    series, rows, _ = refit
    history = fc.SeriesSet(series.ids, [y[:-cut] for y in series.values])
    run = fc.fit_forecast(CFG, history, tmp_path / "by_hand", progress=False)
    forecast = fc.predict(run.model, CFG, history.values, scaler=run.scaler).mean
    actual = np.stack([y[LENGTH - cut : LENGTH - cut + HORIZON] for y in series.values])
    expected = {"origin": cut, **fc.point_scores(actual, forecast, history.values, PERIOD)}
    assert [row["origin"] for row in rows] == [HORIZON + STEP, HORIZON]  # oldest first, as `backtest`
    assert next(row for row in rows if row["origin"] == cut) == expected  # bit-identical forecasts


def test_each_origin_trains_only_on_values_before_it(refit):
    series, _, root = refit
    for cut in (HORIZON + STEP, HORIZON):
        run_dir = root / f"origin_{cut}"
        seen = fc.SeriesSet(series.ids, [y[:-cut] for y in series.values])
        assert read_meta(find_checkpoint(run_dir))["data_fingerprint"] == fingerprint(seen)
        profile = ReferenceProfile.load(run_dir / "reference_profile.json")
        assert profile.to_dict() == ReferenceProfile.from_values(np.concatenate(seen.values), names=["y"]).to_dict()
        assert fc.load_forecast(run_dir).config == CFG


def test_future_covariates_come_from_after_the_cut(tmp_path):
    """With month covariates the forecast steps take the series' own months after the origin: the oracle is
    `split_last` at the origin, a hand-trained model and `predict` with the held-out steps' covariates."""
    stamps = pd.date_range("2020-01-01", periods=LENGTH, freq="MS")
    frame = pd.concat([pd.DataFrame({"unique_id": name, "ds": stamps[i:], "y": y[i:]})
                       for i, (name, y) in enumerate(zip("ab", _values(1)))])  # fmt: skip
    cfg = dataclasses.replace(CFG, data=dataclasses.replace(CFG.data, freq="MS", calendar=("month",)))
    series = fc.SeriesSet.from_frame(frame, freq="MS", calendar=("month",))
    [row] = fc.backtest_refit(cfg, series, tmp_path / "refit", origins=1)
    past, _ = series.split_last(HORIZON)
    run = fc.fit_forecast(cfg, past, tmp_path / "by_hand", progress=False)
    future = series.last_covariates(HORIZON)
    forecast = fc.predict(run.model, cfg, past.values, scaler=run.scaler, covariates=past.covariates, future=future)
    actual = np.stack([y[-HORIZON:] for y in series.values])
    assert row == {"origin": HORIZON, **fc.point_scores(actual, forecast.mean, past.values, PERIOD)}


def test_too_many_origins_is_refused_before_training(tmp_path):
    series = fc.SeriesSet.from_arrays(_values(0))
    with pytest.raises(ValueError, match="too short for 20 origins"):
        fc.backtest_refit(CFG, series, tmp_path / "refit", origins=20)
    assert not (tmp_path / "refit").exists()
