"""Anomaly scorers: index alignment (a spike at k scores highest at k), plain-loop and formula oracles for
every kind, the scaler, save/load, configs and bad input."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy_reference import reference_step
from scipy import stats

from recurrax.config import ConfigError, from_dict, to_dict
from recurrax.tasks.anomaly import ScorerConfig, fit_scorer, load_scorer, save_scorer, score_series
from recurrax.train import OptimConfig, TrainConfig

WINDOW = 16
TRAIN = TrainConfig(steps=120, log_every=10, eval_every=0, checkpoint_every=0)
OPTIM = OptimConfig(lr=1e-2)


def sine(length: int, features: int = 1, seed: int = 0) -> np.ndarray:
    """A noisy two-period sine per feature, ``[T, D]``, with its own level and amplitude per feature."""
    t = np.arange(length)[:, None]
    d = np.arange(features)[None, :]
    noise = 0.02 * np.random.default_rng(seed).normal(size=(length, features))
    return 10.0 * d + (1.0 + d) * (np.sin(2 * np.pi * t / 20) + 0.3 * np.sin(2 * np.pi * t / 7)) + noise


@pytest.fixture(scope="module")
def scorers(tmp_path_factory):
    """One trained scorer per kind on a two-feature sine (shared: training compiles once per kind)."""
    values = sine(400, features=2)
    out = {}
    for index, kind in enumerate(("prediction", "nll", "reconstruction")):
        cfg = ScorerConfig(kind=kind, hidden_size=12, window=WINDOW, batch_size=32)
        run_dir = tmp_path_factory.mktemp(kind)
        out[kind] = fit_scorer(values, cfg, optim=OPTIM, train=TRAIN, key=jax.random.key(index), run_dir=run_dir)
    return out


def with_reduce(scorer, reduce: str):
    cfg = from_dict(ScorerConfig, {**to_dict(scorer.config), "reduce": reduce})
    return type(scorer)(scorer.model, scorer.loc, scorer.scale, cfg)


def scaled(scorer, values):
    return (values - scorer.loc) / scorer.scale


def f64(array) -> np.ndarray:
    return np.asarray(array, np.float64)


def numpy_run(rnn, state, x: np.ndarray):
    """One step of a stack by the NumPy reference cells: ``x`` ``[B, D]`` -> (top output, new state)."""
    new = []
    for layer, carry in zip(rnn.layers, state):
        carry, x = reference_step(layer.cell, carry, x)
        new.append(carry)
    return x, new


def zero_state(rnn, batch: int):
    return [tuple(np.zeros((batch, layer.cell.hidden_size)) for _ in range(2)) for layer in rnn.layers]


def forecast_oracle(scorer, values) -> np.ndarray:
    """Forecast kinds by a plain float64 NumPy loop over time (reference LSTM cells), scored by formula
    (the Gaussian NLL by scipy, the log-variance clipped as the model clips it)."""
    model, z = scorer.model, scaled(scorer, values)
    d, state, out = z.shape[1], zero_state(model.rnn, 1), np.full(len(z), np.nan)
    pred = None
    for t in range(len(z)):
        if t >= WINDOW:
            if scorer.config.kind == "prediction":
                out[t] = np.mean(np.abs(z[t] - pred))
            else:
                sd = np.exp(0.5 * np.clip(pred[d:], -10.0, 10.0))
                out[t] = -np.mean(stats.norm.logpdf(z[t], loc=pred[:d], scale=sd))
        h, state = numpy_run(model.rnn, state, z[t][None])
        pred = (h @ f64(model.out_weight).T + f64(model.out_bias))[0]
    return out


def window_oracle(scorer, z: np.ndarray) -> np.ndarray:
    """Per-point errors ``[N, W]`` of every window by a NumPy encoder-decoder loop (decoder reads zeros,
    emits the window reversed)."""
    model = scorer.model
    windows = np.stack([z[s : s + WINDOW] for s in range(len(z) - WINDOW + 1)])
    state = zero_state(model.encoder, len(windows))
    for t in range(WINDOW):
        _, state = numpy_run(model.encoder, state, windows[:, t])
    recon = []
    for _ in range(WINDOW):
        h, state = numpy_run(model.decoder, state, np.zeros((len(windows), 1)))
        recon.append(h @ f64(model.out_weight).T + f64(model.out_bias))
    recon = np.stack(recon[::-1], axis=1)
    return np.mean(np.abs(windows - recon), axis=-1)


@pytest.mark.parametrize("kind", ["prediction", "nll"])
def test_forecast_scores_match_numpy_loop(scorers, kind):
    values = sine(60, features=2, seed=1)
    expected = forecast_oracle(scorers[kind], values)
    got = score_series(scorers[kind], values)
    np.testing.assert_array_equal(np.isnan(got), np.arange(60) < WINDOW)
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-5)


def test_reconstruction_scores_match_window_loop(scorers):
    scorer = scorers["reconstruction"]
    values = sine(50, features=2, seed=2)
    errors = window_oracle(scorer, scaled(scorer, values))
    last = np.full(50, np.nan)
    last[WINDOW - 1 :] = errors[:, -1]
    np.testing.assert_allclose(score_series(scorer, values), last, rtol=2e-4, atol=2e-5)
    mean = [np.mean([errors[s, t - s] for s in range(len(errors)) if s <= t < s + WINDOW]) for t in range(50)]
    np.testing.assert_allclose(score_series(with_reduce(scorer, "mean"), values), mean, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("kind,reduce", [("prediction", "last"), ("nll", "last"), ("reconstruction", "last"),
                                         ("reconstruction", "mean")])  # fmt: skip
def test_spike_scores_highest_at_its_own_index(scorers, kind, reduce):
    scorer = with_reduce(scorers[kind], reduce)
    values = sine(300, features=2, seed=3)
    for k in (WINDOW + 40, 150, 299):
        spiked = values.copy()
        spiked[k, 0] += 8.0 * scorer.scale[0]
        scores = score_series(scorer, spiked)
        assert np.nanargmax(scores) == k, (k, np.nanargmax(scores))


def test_training_lowers_the_loss_and_normal_data_scores_low(scorers):
    for kind, scorer in scorers.items():
        losses = [row["loss"] for row in scorer.fit.history if row["split"] == "train"]
        assert losses[-1] < 0.5 * losses[0], (kind, losses)
    normal = score_series(scorers["prediction"], sine(200, features=2, seed=4))
    assert np.nanmean(normal) < 0.3  # scaled units: far below the unit variance of the scaled data


def test_scaler_is_fitted_on_training_data_per_feature(key):
    values = np.column_stack([np.linspace(0, 6, 40), np.full(40, 3.0)])
    scorer = fit_scorer(values, ScorerConfig(hidden_size=2, window=4), optim=OPTIM,
                        train=TrainConfig(steps=0), key=key)  # fmt: skip
    np.testing.assert_allclose(scorer.loc, [3.0, 3.0])
    np.testing.assert_allclose(scorer.scale, [np.std(values[:, 0]), 1.0])  # a constant feature keeps scale 1
    np.testing.assert_allclose(scorer.transform(values)[:, 1], 0.0)


def test_save_load_and_run_dir_give_the_same_scores(scorers, tmp_path):
    scorer = scorers["nll"]
    values = sine(80, features=2, seed=5)
    expected = score_series(scorer, values)
    path = save_scorer(scorer, scorer.config, tmp_path / "scorer", meta={"detector": "static"})
    loaded = load_scorer(path)
    assert loaded.config == scorer.config
    np.testing.assert_array_equal(score_series(loaded, values), expected)
    from_run = load_scorer(scorer.fit.run_dir)  # fit_scorer's own final checkpoint
    np.testing.assert_array_equal(score_series(from_run, values), expected)
    meta = json.loads((path / "meta.json").read_text())
    assert meta["task"] == "anomaly"  # one name in checkpoints, exports and serving
    (path / "meta.json").write_text(json.dumps({**meta, "task": "anomaly_scorer"}))  # as written before 2026-12-05
    np.testing.assert_array_equal(score_series(load_scorer(path), values), expected)


def test_load_refuses_other_checkpoints(tmp_path):
    from recurrax.train import save_checkpoint

    save_checkpoint(tmp_path / "other", {"w": jnp.zeros(2)}, {"task": "forecast"})
    with pytest.raises(ValueError, match="not an anomaly scorer checkpoint"):
        load_scorer(tmp_path / "other")


def test_config_round_trips_and_validates():
    cfg = ScorerConfig(kind="reconstruction", cell="gru", hidden_size=4, window=8, reduce="mean")
    assert from_dict(ScorerConfig, to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="window"):
        ScorerConfig(window=0)
    with pytest.raises(ConfigError, match="kind"):
        from_dict(ScorerConfig, {"kind": "isolation"})


def test_bad_input_is_a_clear_error(scorers, key):
    scorer = scorers["prediction"]
    values = sine(40, features=2)
    values[7, 1] = math.nan
    with pytest.raises(ValueError, match=r"finite.*index \(7, 1\)"):
        score_series(scorer, values)
    with pytest.raises(ValueError, match="expected 2 features"):
        score_series(scorer, np.zeros((40, 3)))
    with pytest.raises(ValueError, match=r"shape \[T, D\]"):
        score_series(scorer, np.zeros((2, 40, 2)))
    with pytest.raises(ValueError, match="at least 17 points"):
        fit_scorer(np.zeros((16, 1)), ScorerConfig(window=16), optim=OPTIM, train=TRAIN, key=key)


def test_short_series_are_all_nan(scorers):
    assert np.isnan(score_series(scorers["prediction"], sine(WINDOW, features=2))).all()
    assert np.isnan(score_series(scorers["reconstruction"], sine(WINDOW - 1, features=2))).all()
