"""The encoder-decoder forecaster: padding never read, attention and read-out equal to a NumPy computation
from the encoder and decoder states, and a seq2seq run through fit -> load -> predict."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from recurrax.tasks import forecast as fc
from recurrax.train import OptimConfig, TrainConfig


def test_padding_is_never_read(key):  # without attention (the attention's mask: the next test)
    model = fc.Seq2SeqForecaster(3, 8, attention=False, head="student_t", key=key)
    history = np.asarray(jax.random.normal(jax.random.fold_in(key, 1), (5,)), np.float32)
    padded = np.zeros((2, 9), np.float32)
    padded[0, :5], padded[1] = history, np.r_[history, 7.0, 7.0, 7.0, 7.0]
    raw = np.asarray(model(jnp.asarray(padded), jnp.array([5, 9])))
    alone = np.asarray(model(jnp.asarray(history[None]), jnp.array([5])))
    np.testing.assert_allclose(raw[0], alone[0], rtol=1e-5, atol=1e-6)
    assert raw.shape == (2, 3, 3) and not np.allclose(raw[0], raw[1])


def test_attention_and_readout_match_numpy(key):
    horizon, hidden = 4, 6
    model = fc.Seq2SeqForecaster(horizon, hidden, attention=True, head="gaussian", key=key)
    inputs = jax.random.normal(jax.random.fold_in(key, 1), (2, 7))
    lengths = jnp.array([7, 4])
    # the encoder and decoder run on their own: states to compute the rest from in NumPy
    encoded, state = model.encoder(inputs[..., None], lengths)
    steps = jnp.broadcast_to(jnp.eye(horizon), (2, horizon, horizon))
    decoded, _ = model.decoder(steps, state=state)
    e, d = np.asarray(encoded, np.float64), np.asarray(decoded, np.float64)
    w_a, w_o, b_o = (np.asarray(a, np.float64) for a in (model.attn_weight, model.out_weight, model.out_bias))
    expected_raw, expected_weights = np.zeros((2, horizon, 2)), np.zeros((2, horizon, 7))
    for b in range(2):
        n = int(lengths[b])
        for k in range(horizon):
            scores = np.array([d[b, k] @ w_a @ e[b, t] for t in range(n)])
            a = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
            expected_weights[b, k, :n] = a
            context = (a[:, None] * e[b, :n]).sum(0)
            expected_raw[b, k] = w_o @ np.r_[d[b, k], context] + b_o
    np.testing.assert_allclose(model(inputs, lengths), expected_raw, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.attention_weights(inputs, lengths), expected_weights, rtol=1e-4, atol=1e-6)


def test_seq2seq_run_learns_and_reloads(tmp_path):
    t = np.arange(48)
    series = fc.SeriesSet.from_arrays([10 + 3 * np.sin(2 * np.pi * (t + i) / 8) for i in range(4)])
    cfg = fc.ForecastConfig(
        model=fc.ModelConfig(kind="seq2seq", attention=True, hidden_size=16, head="quantile"),
        data=fc.DataConfig(input_size=16, horizon=4, batch_size=32),
        optim=OptimConfig(lr=0.02),
        train=TrainConfig(steps=150, log_every=150, eval_every=0, checkpoint_every=0),
    )
    history, actual = series.split_last(4)
    run = fc.fit_forecast(cfg, history, tmp_path / "run", progress=False)
    out = fc.predict(run.model, cfg, history.values, levels=[0.1, 0.9])
    naive = np.stack([np.repeat(v[-1], 4) for v in history.values])  # the last value, repeated
    assert np.mean(np.abs(out.mean - np.stack(actual))) < 0.5 * np.mean(np.abs(naive - np.stack(actual)))
    assert np.all(out.quantiles[..., 0] <= out.quantiles[..., 1])
    loaded = fc.load_forecast(tmp_path / "run")
    assert isinstance(loaded.model, fc.Seq2SeqForecaster) and loaded.model.attention
    np.testing.assert_array_equal(fc.predict(loaded.model, loaded.config, history.values).mean, out.mean)
