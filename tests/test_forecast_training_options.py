"""Training options of the forecasters: point losses against `recurrax.metrics`, the history limit
against the unlimited windows, series-uniform batch draws against their expected frequencies, and the
sMAPE loss wired through a whole run (validation loss x 100 == validation sMAPE)."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from recurrax import metrics
from recurrax.models import point_loss
from recurrax.tasks import forecast as fc
from recurrax.tasks.forecast._run import _window_sampler
from recurrax.train import OptimConfig, TrainConfig


def test_point_losses_match_the_metrics():
    rng = np.random.default_rng(0)
    y, mu = rng.uniform(-1, 3, (4, 5)), rng.uniform(-1, 3, (4, 5))
    loc, scale = rng.uniform(5, 9, 4), rng.uniform(0.5, 2, 4)
    args = [jnp.asarray(a, jnp.float32) for a in (mu, y, loc, scale)]
    np.testing.assert_allclose(np.mean(point_loss("mae", *args)), metrics.mae(y, mu), rtol=1e-5)
    np.testing.assert_allclose(np.mean(point_loss("mse", *args)), metrics.rmse(y, mu) ** 2, rtol=1e-5)
    data_y, data_mu = y * scale[:, None] + loc[:, None], mu * scale[:, None] + loc[:, None]
    np.testing.assert_allclose(100 * np.mean(point_loss("smape", *args)), metrics.smape(data_y, data_mu), rtol=1e-5)
    with pytest.raises(ValueError, match="unknown point loss"):
        point_loss("mape", *args)


def test_smape_loss_is_zero_with_a_finite_gradient_where_both_are_zero():
    zero = jnp.zeros((1, 2))

    def total(mu):
        return jnp.sum(point_loss("smape", mu, zero, jnp.zeros(1), jnp.ones(1)))

    assert float(total(zero)) == 0.0
    assert np.isfinite(np.asarray(jax.grad(total)(zero))).all()


def test_max_windows_keeps_each_series_latest_windows():
    values = [np.arange(12.0), np.arange(100.0, 107.0), np.arange(50.0, 54.0)]
    every = fc.make_windows(values, 4, 2, min_input=1)
    limited = fc.make_windows(values, 4, 2, min_input=1, max_windows=3)
    expected = np.concatenate([np.flatnonzero(every.series == i)[:3] for i in range(3)])
    np.testing.assert_array_equal(limited.inputs, every.inputs[expected])
    np.testing.assert_array_equal(limited.targets, every.targets[expected])
    np.testing.assert_array_equal(limited.series, [0, 0, 0, 1, 1, 1, 2, 2])  # the last series has 2 windows only
    assert limited.targets[0].tolist() == [10.0, 11.0]  # latest first
    with pytest.raises(ValueError, match="max_windows"):
        fc.make_windows(values, 4, 2, max_windows=0)


def test_series_sampling_weighs_every_series_the_same():
    series = np.repeat([0, 1, 2], [1, 9, 30])  # windows per series: 1, 9, 30
    rng = np.random.default_rng(0)
    by_series = np.bincount(series[_window_sampler(series, "series", 30000)(rng)], minlength=3) / 30000
    by_window = np.bincount(series[_window_sampler(series, "window", 30000)(rng)], minlength=3) / 30000
    np.testing.assert_allclose(by_series, [1 / 3, 1 / 3, 1 / 3], atol=0.015)
    np.testing.assert_allclose(by_window, [1 / 40, 9 / 40, 30 / 40], atol=0.015)
    within = series[_window_sampler(series, "series", 30000)(rng)] == 1  # windows of series 1 drawn evenly
    picks = _window_sampler(series, "series", 30000)(np.random.default_rng(1))
    counts = np.bincount(picks[series[picks] == 1] - 1, minlength=9)
    assert within.any() and counts.min() > 0.8 * counts.mean()


def test_config_refuses_unknown_options():
    with pytest.raises(ValueError, match="point_loss"):
        fc.ModelConfig(point_loss="huber")
    with pytest.raises(ValueError, match="sampling"):
        fc.DataConfig(sampling="recent")
    with pytest.raises(ValueError, match="max_windows"):
        fc.DataConfig(max_windows=0)


def test_smape_loss_run_validates_on_smape(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(30)
    values = [5 + 0.2 * i * t + np.sin(t + i) + rng.normal(0, 0.1, t.size) for i in range(4)]
    cfg = fc.ForecastConfig(
        model=fc.ModelConfig(hidden_size=8, point_loss="smape"),
        data=fc.DataConfig(input_size=8, horizon=3, validate=True, sampling="series", max_windows=10, batch_size=16),
        optim=OptimConfig(lr=1e-2),
        train=TrainConfig(steps=20, eval_every=10, log_every=10, checkpoint_every=0, seed=0),
    )
    fc.fit_forecast(cfg, fc.SeriesSet.from_arrays(values), tmp_path, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if r.get("split") == "valid"]
    assert len(evals) == 2
    for row in evals:  # one validation window per series: the loss is the same sMAPE, as a fraction
        assert 100 * row["loss"] == pytest.approx(row["smape"], rel=1e-4)


def test_ensemble_members_with_the_smape_loss_follow_their_single_runs(tmp_path):
    """The sMAPE loss and series sampling through the vmapped ensemble: member m == a single run, seed m."""
    import jax

    rng = np.random.default_rng(1)
    values = [5 + np.sin(np.arange(24) / 2 + i) + rng.normal(0, 0.1, 24) for i in range(3)]
    series = fc.SeriesSet.from_arrays(values)

    def config(members: int, seed: int) -> fc.ForecastConfig:
        return fc.ForecastConfig(
            model=fc.ModelConfig(hidden_size=4, point_loss="smape", ensemble=members),
            data=fc.DataConfig(input_size=6, horizon=2, batch_size=8, sampling="series"),
            optim=OptimConfig(lr=0.05),
            train=TrainConfig(steps=3, log_every=3, eval_every=0, checkpoint_every=0, seed=seed),
        )

    ensemble = fc.fit_forecast(config(2, 0), series, tmp_path / "ensemble", progress=False).model
    for m in range(2):
        single = fc.fit_forecast(config(1, m), series, tmp_path / f"single{m}", progress=False).model
        for a, b in zip(jax.tree.leaves(ensemble.member(m)), jax.tree.leaves(single)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
