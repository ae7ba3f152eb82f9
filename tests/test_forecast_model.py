"""Forecasters: head losses against scipy, padding and recursion against plain loops, and the whole run
fit -> save -> load -> predict."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from recurrax import metrics
from recurrax.tasks import forecast as fc
from recurrax.train import OptimConfig, TrainConfig

QUANTILES = (0.1, 0.5, 0.9)


def softplus(x):
    return np.logaddexp(0.0, x)


def test_head_losses_match_scipy(key):
    raw = np.asarray(jax.random.normal(key, (5, 3)), np.float64)
    y = np.linspace(-1.0, 1.5, 5)
    sigma = softplus(raw[:, 1]) + 1e-3
    nu = 2 + softplus(raw[:, 2])
    gaussian = fc.head_loss("gaussian", jnp.asarray(raw[:, :2], jnp.float32), jnp.asarray(y, jnp.float32), QUANTILES)
    np.testing.assert_allclose(gaussian, -stats.norm.logpdf(y, raw[:, 0], sigma), rtol=1e-5)
    student = fc.head_loss("student_t", jnp.asarray(raw, jnp.float32), jnp.asarray(y, jnp.float32), QUANTILES)
    np.testing.assert_allclose(student, -stats.t.logpdf(y, nu, raw[:, 0], sigma), rtol=1e-5)
    pinball = fc.head_loss("quantile", jnp.asarray(raw, jnp.float32), jnp.asarray(y, jnp.float32), QUANTILES)
    expected = [metrics.quantile_loss([v], [np.sort(r)], QUANTILES) for v, r in zip(y, raw)]
    np.testing.assert_allclose(pinball, expected, rtol=1e-5)
    levels = np.array([0.05, 0.5, 0.95])
    np.testing.assert_allclose(
        fc.head_quantiles("student_t", raw, levels, QUANTILES),
        stats.t.ppf(levels[None], nu[:, None], raw[:, :1], sigma[:, None]),
    )


@pytest.mark.parametrize("kind", ["direct", "recursive"])
def test_padding_and_recursion_match_plain_loop(kind, key):
    model = fc.Forecaster(3, 8, kind=kind, head="gaussian", key=key)
    history = np.asarray(jax.random.normal(jax.random.fold_in(key, 1), (6,)), np.float32)
    padded = np.zeros((2, 9), np.float32)
    padded[0, :6], padded[1] = history, np.r_[history, 7.0, 7.0, 7.0]
    raw = np.asarray(model(jnp.asarray(padded), jnp.array([6, 9])))
    alone = np.asarray(model(jnp.asarray(history[None]), jnp.array([6])))
    np.testing.assert_allclose(raw[0], alone[0], rtol=1e-5, atol=1e-6)  # padding never read
    if kind == "recursive":  # plain loop: append each mean forecast and run the model again
        seq, expected = list(history), []
        for _ in range(3):
            steps, _ = model.step_outputs(jnp.asarray([seq], jnp.float32), jnp.array([len(seq)]))
            expected.append(np.asarray(steps[0, -1]))
            seq.append(float(steps[0, -1, 0]))
        np.testing.assert_allclose(alone[0], np.stack(expected), rtol=1e-5, atol=1e-6)


def test_direct_reads_the_masked_stacks_final_state(key):
    model = fc.Forecaster(4, 8, num_layers=2, head="gaussian", key=key)
    lengths = jnp.array([7, 1, 4])
    inputs = jax.random.normal(jax.random.fold_in(key, 1), (3, 7))  # non-zero after lengths: never read
    _, state = model.rnn(inputs[..., None], lengths)
    expected = model.read_out(state[0][-1]).reshape(3, 4, 2)
    np.testing.assert_allclose(np.asarray(model(inputs, lengths)), np.asarray(expected), rtol=1e-5, atol=1e-6)


def test_recursive_loss_is_teacher_forced_one_step_loss(key):
    model = fc.Forecaster(2, 4, kind="recursive", head="point", key=key)
    batch = {"inputs": jnp.array([[1.0, 2.0, 0.0], [1.0, 2.0, 3.0]]), "lengths": jnp.array([2, 3]),
             "targets": jnp.array([[4.0, 5.0], [6.0, 7.0]])}  # fmt: skip
    loss, _ = fc.forecast_loss(model, batch, None, None)
    errors = []
    for seq in ([1.0, 2.0, 4.0, 5.0], [1.0, 2.0, 3.0, 6.0, 7.0]):
        steps, _ = model.step_outputs(jnp.asarray([seq[:-1]]), jnp.array([len(seq) - 1]))
        errors += list(np.abs(np.asarray(seq[1:]) - np.asarray(steps[0, :, 0])))
    assert float(loss) == pytest.approx(np.mean(errors), rel=1e-5)


@pytest.fixture(scope="module")
def sine_series():
    rng = np.random.default_rng(0)
    t = np.arange(40)
    values = [10 + i + 3 * np.sin(2 * np.pi * (t + i) / 8) + rng.normal(0, 0.1, t.size) for i in range(6)]
    return fc.SeriesSet.from_arrays(values)


def test_fit_save_load_predict(sine_series, tmp_path):
    cfg = fc.ForecastConfig(
        model=fc.ModelConfig(head="gaussian", hidden_size=16),
        data=fc.DataConfig(
            input_size=16, horizon=4, period=8, batch_size=32, scale_scope="series", scaler="standard", validate=True
        ),
        train=TrainConfig(steps=150, log_every=50, eval_every=50, checkpoint_every=0),
    )
    history, holdout = sine_series.split_last(4)
    run = fc.fit_forecast(cfg, history, tmp_path / "run", progress=False)
    valid = [row for row in run.fit.history if row["split"] == "valid"]
    assert valid[-1]["loss"] < valid[0]["loss"]
    inputs = history.split_last(4)[0].values
    written = metrics.ReferenceProfile.load(tmp_path / "run" / "reference_profile.json")  # the training values
    assert written.to_dict() == metrics.ReferenceProfile.from_values(np.concatenate(inputs), names=["y"]).to_dict()
    out = fc.predict(run.model, cfg, inputs, scaler=run.scaler, levels=[0.1, 0.5, 0.9])
    untrained = fc.predict(fc.build_model(cfg.model, 4, key=jax.random.key(1)), cfg, inputs, scaler=run.scaler)
    actual = np.stack(history.split_last(4)[1])
    assert metrics.mae(actual, out.mean) < 0.5 * metrics.mae(actual, untrained.mean)
    lo, hi = out.interval(0.8)
    assert np.all(lo < out.mean) and np.all(out.mean < hi)
    np.testing.assert_allclose(out.quantiles[..., 1], out.mean, rtol=1e-6)  # Gaussian median is the mean

    loaded = fc.load_forecast(tmp_path / "run")
    again = fc.predict(loaded.model, loaded.config, inputs, scaler=loaded.scaler, levels=[0.1, 0.5, 0.9])
    np.testing.assert_array_equal(again.quantiles, out.quantiles)
    assert loaded.config == cfg
    path = fc.write_forecast_plot(tmp_path / "forecast.png", inputs, out.mean, actuals=actual, lower=lo, upper=hi)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert holdout[0].shape == (4,)


def test_warm_start_continues_from_init_and_checks_its_architecture(sine_series, tmp_path):
    """``init`` replaces the fresh weights: after one SGD step with a negligible learning rate the model still
    equals ``init`` (not the config's fresh model); a model of another size is refused."""
    cfg = fc.ForecastConfig(
        model=fc.ModelConfig(hidden_size=8),
        data=fc.DataConfig(input_size=8, horizon=2, batch_size=8),
        optim=OptimConfig(name="sgd", lr=1e-30, schedule="constant", clip_norm=None),
        train=TrainConfig(steps=1, log_every=1, eval_every=0, checkpoint_every=0),
    )
    init = fc.build_model(cfg.model, 2, key=jax.random.key(7))
    run = fc.fit_forecast(cfg, sine_series, tmp_path / "warm", progress=False, init=init)
    for trained, start in zip(jax.tree.leaves(run.model), jax.tree.leaves(init)):
        np.testing.assert_allclose(np.asarray(trained), np.asarray(start), rtol=1e-6, atol=1e-20)
    other = fc.build_model(fc.ModelConfig(hidden_size=4), 2, key=jax.random.key(7))
    with pytest.raises(ValueError, match="does not match the architecture"):
        fc.fit_forecast(cfg, sine_series, tmp_path / "bad", progress=False, init=other)
