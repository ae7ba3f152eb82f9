"""Ancestral sampling of recursive forecasters (`sample_paths`): the scan against a plain loop that re-runs
the whole history, one-step samples against scipy's quantiles, i.i.d. steps of a head that ignores its input,
ensembles against their members, `predict(samples=...)` against the sampler, and refusals."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from recurrax.tasks import forecast as fc
from recurrax.train import OptimConfig, TrainConfig

QUANTILES = (0.1, 0.5, 0.9)
sample_paths = eqx.filter_jit(fc.sample_paths)  # one compilation per model structure and shape
step_outputs = eqx.filter_jit(lambda model, seq, lengths: model.step_outputs(seq, lengths)[0])


def softplus(x):
    return np.logaddexp(0.0, x)


def histories(key, rows=2, width=6):
    """Left-aligned histories ``[rows, width]`` (padding 0) with lengths ``width, width - 2, ...``."""
    values = np.array(jax.random.normal(key, (rows, width)), np.float32)
    lengths = np.array([width - 2 * (i % 2) for i in range(rows)], np.int32)
    values[np.arange(width)[None] >= lengths[:, None]] = 0.0
    return values, lengths


@pytest.mark.parametrize("head", ["gaussian", "student_t", "quantile"])
def test_scan_matches_plain_loop_feeding_samples_back(head, key):
    """Loop: at every step re-run the model on history + samples so far (padded, with lengths), draw from the
    last output's distribution with that step's key (scipy/numpy formulas) and append the draw."""
    horizon, samples = 4, 3
    model = fc.Forecaster(horizon, 6, kind="recursive", head=head, key=key)
    inputs, lengths = histories(jax.random.fold_in(key, 1))
    sample_key = jax.random.fold_in(key, 2)
    paths = np.asarray(sample_paths(model, jnp.asarray(inputs), jnp.asarray(lengths), samples, key=sample_key))

    rows = samples * len(inputs)
    seq = np.zeros((rows, inputs.shape[1] + horizon), np.float32)
    seq[:, : inputs.shape[1]] = np.tile(inputs, (samples, 1))
    n = np.tile(lengths, samples)
    expected = np.zeros((horizon, samples, len(inputs)))
    for t, step_key in enumerate(jax.random.split(sample_key, horizon)):
        steps = step_outputs(model, jnp.asarray(seq), jnp.asarray(n + t))
        raw = np.asarray(steps)[np.arange(rows), n + t - 1].reshape(samples, len(inputs), -1).astype(np.float64)
        if head == "quantile":
            u = np.asarray(jax.random.uniform(step_key, (samples, len(inputs))), np.float64)
            y = np.array([[np.interp(u[s, b], QUANTILES, np.sort(raw[s, b])) for b in range(len(inputs))]
                          for s in range(samples)])  # fmt: skip
        else:
            mu, sigma = raw[..., 0], softplus(raw[..., 1]) + 1e-3
            if head == "gaussian":
                z = np.asarray(jax.random.normal(step_key, (samples, len(inputs))), np.float64)
            else:
                nu = jnp.asarray(2.0 + softplus(raw[..., 2]), jnp.float32)
                z = np.asarray(jax.random.t(step_key, nu, (samples, len(inputs))), np.float64)
            y = mu + sigma * z
        expected[t] = y
        seq[np.arange(rows), n + t] = y.reshape(-1)
    np.testing.assert_allclose(paths, np.moveaxis(expected, 0, -1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("head", ["gaussian", "student_t", "quantile"])
def test_one_step_samples_have_the_heads_quantiles(head, key):
    """H = 1: the empirical quantiles of S draws equal the head's quantiles (scipy's ppf, or the linear
    interpolation of a quantile head) within 4 Monte-Carlo standard errors ``sqrt(p (1 - p) / S) / f(q_p)``."""
    samples = 20000
    model = fc.Forecaster(1, 6, kind="recursive", head=head, key=key)
    inputs, lengths = histories(jax.random.fold_in(key, 1))
    paths = np.asarray(sample_paths(model, jnp.asarray(inputs), jnp.asarray(lengths), samples,
                                       key=jax.random.fold_in(key, 2)), np.float64)[..., 0]  # fmt: skip
    raw = np.asarray(model(jnp.asarray(inputs), jnp.asarray(lengths)), np.float64)[:, 0]
    levels = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    if head == "quantile":  # inside the outermost levels (and off the knot at 0.5, where the density jumps)
        levels = np.array([0.2, 0.3, 0.7, 0.8])
        values = np.sort(raw, axis=-1)
        expected = np.stack([np.interp(levels, QUANTILES, row) for row in values])
        segment = np.searchsorted(QUANTILES, levels) - 1
        density = np.diff(QUANTILES)[segment] / np.diff(values, axis=-1)[:, segment]
        atom = np.mean(paths <= values[None, :, 0] + 1e-6, axis=0)  # the clamped lower tail
        np.testing.assert_allclose(atom, QUANTILES[0], atol=4 * np.sqrt(0.09 / samples))
    else:
        mu, sigma = raw[:, :1], softplus(raw[:, 1:2]) + 1e-3
        dist = stats.norm(mu, sigma) if head == "gaussian" else stats.t(2 + softplus(raw[:, 2:3]), mu, sigma)
        expected = dist.ppf(levels[None])
        density = dist.pdf(expected)
    tolerance = 4 * np.sqrt(levels * (1 - levels) / samples) / density
    np.testing.assert_array_less(np.abs(np.quantile(paths, levels, axis=0).T - expected), tolerance)


def test_head_that_ignores_its_input_gives_iid_steps(key):
    """Read-out weights 0, bias (m, b): every step is N(m, s^2), s = softplus(b) + 1e-3, independent of the
    fed-back samples: per-step mean and variance, and zero correlation between steps."""
    model = fc.Forecaster(3, 4, kind="recursive", head="gaussian", key=key)
    model = eqx.tree_at(lambda m: (m.out_weight, m.out_bias), model,
                        (jnp.zeros_like(model.out_weight), jnp.array([1.5, 0.3])))  # fmt: skip
    inputs, lengths = histories(jax.random.fold_in(key, 1))
    samples = 20000
    paths = np.asarray(sample_paths(model, jnp.asarray(inputs), jnp.asarray(lengths), samples,
                                       key=jax.random.fold_in(key, 2)), np.float64)  # fmt: skip
    s = softplus(0.3) + 1e-3
    np.testing.assert_allclose(paths.mean(axis=0), 1.5, atol=4 * s / np.sqrt(samples))
    np.testing.assert_allclose(paths.var(axis=0), s**2, atol=4 * s**2 * np.sqrt(2 / samples))
    for b in range(len(inputs)):
        corr = np.corrcoef(paths[:, b].T)[np.triu_indices(3, 1)]
        np.testing.assert_array_less(np.abs(corr), 4 / np.sqrt(samples))


def test_ensemble_pools_its_members_paths(key):
    """Member ``m``'s paths (with ``split(key, M)[m]``) in rows ``m S .. (m + 1) S - 1``."""
    members = [fc.Forecaster(2, 4, kind="recursive", head="gaussian", key=k) for k in jax.random.split(key, 3)]
    arrays = [eqx.filter(m, eqx.is_array) for m in members]
    stacked = eqx.combine(jax.tree.map(lambda *leaves: jnp.stack(leaves), *arrays), members[0])
    ens = fc.ForecastEnsemble(stacked, 3)  # as ForecastEnsemble.create stacks them, without compiling a vmap
    inputs, lengths = (jnp.asarray(a) for a in histories(jax.random.fold_in(key, 1)))
    sample_key = jax.random.fold_in(key, 2)
    pooled = sample_paths(ens, inputs, lengths, 4, key=sample_key)
    keys = jax.random.split(sample_key, 3)
    each = [sample_paths(members[m], inputs, lengths, 4, key=keys[m]) for m in range(3)]
    np.testing.assert_allclose(pooled, np.concatenate(each), rtol=1e-5, atol=1e-6)


def test_predict_with_samples_maps_paths_to_data_units(key):
    """`predict(samples=S)`: ``samples`` = the sampler's paths on the scaled histories, ``* scale + loc``;
    ``mean`` their mean and ``quantiles`` their empirical quantiles; without samples, the old forecast."""
    cfg = fc.ForecastConfig(
        model=fc.ModelConfig(kind="recursive", head="gaussian", hidden_size=4),
        data=fc.DataConfig(input_size=6, horizon=3, scale_scope="series", scaler="standard"),
    )
    model = fc.build_model(cfg.model, 3, key=key)
    values = [np.array([3.0, 5.0, 4.0, 6.0, 8.0, 7.0, 9.0]), np.array([100.0, 90.0, 95.0, 85.0])]
    scaler = fc.Scaler.fit(values, "standard")
    sample_key, levels = jax.random.fold_in(key, 1), [0.1, 0.5, 0.9]
    out = fc.predict(model, cfg, values, scaler=scaler, levels=levels, samples=50, key=sample_key)

    inputs = np.zeros((2, 6), np.float32)
    inputs[0] = (values[0][-6:] - scaler.loc[0]) / scaler.scale[0]
    inputs[1, :4] = (values[1] - scaler.loc[1]) / scaler.scale[1]
    scaled = sample_paths(model, jnp.asarray(inputs), jnp.array([6, 4]), 50, key=jax.random.fold_in(sample_key, 0))
    expected = np.asarray(scaled, np.float64) * scaler.scale[:, None] + scaler.loc[:, None]
    np.testing.assert_allclose(out.samples, expected, rtol=1e-5)
    np.testing.assert_allclose(out.mean, expected.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(out.quantiles, np.moveaxis(np.quantile(expected, levels, axis=0), 0, -1), rtol=1e-5)
    plain = fc.predict(model, cfg, values, scaler=scaler, levels=levels)
    assert plain.samples is None and not np.allclose(plain.mean, out.mean)
    with pytest.raises(ValueError, match="key"):
        fc.predict(model, cfg, values, scaler=scaler, samples=10)


def test_refusals(key):
    inputs, lengths = (jnp.asarray(a) for a in histories(key))
    point = fc.Forecaster(2, 4, kind="recursive", head="point", key=key)
    with pytest.raises(ValueError, match="gaussian, student_t or quantile head"):
        fc.sample_paths(point, inputs, lengths, 5, key=key)
    for model in (fc.Forecaster(2, 4, head="gaussian", key=key), fc.Seq2SeqForecaster(2, 4, head="gaussian", key=key)):
        with pytest.raises(ValueError, match="already its multi-step marginals"):
            fc.sample_paths(model, inputs, lengths, 5, key=key)
    recursive = fc.Forecaster(2, 4, kind="recursive", head="gaussian", key=key)
    with pytest.raises(ValueError, match="num_samples must be >= 1"):
        fc.sample_paths(recursive, inputs, lengths, 0, key=key)
    with pytest.raises(ValueError, match=r"expected inputs \[B, L\]"):
        fc.sample_paths(recursive, inputs[0], lengths, 5, key=key)


@pytest.mark.slow
def test_sampled_intervals_of_random_walks_grow_as_sqrt_h(tmp_path):
    """Random walks ``y_t = y_{t-1} + N(0, 1)``: the true h-step 80% interval is ``+-1.2816 sqrt(h)``. A trained
    recursive gaussian model's sampled intervals grow about as ``sqrt(h)`` and cover about 80%; the fed-back
    one-step intervals stay flat and cover far less (measured: 0.76 against 0.46)."""
    horizon, rng = 8, np.random.default_rng(0)
    series = fc.SeriesSet.from_arrays([50 + np.cumsum(rng.normal(0, 1, 88)) for _ in range(200)])
    history, actual = series.split_last(horizon)
    cfg = fc.ForecastConfig(
        model=fc.ModelConfig(kind="recursive", head="gaussian", hidden_size=16),
        data=fc.DataConfig(input_size=24, horizon=horizon, batch_size=64, scaler="standard"),
        optim=OptimConfig(lr=0.01),
        train=TrainConfig(steps=800, log_every=400, eval_every=0, checkpoint_every=0),
    )
    run = fc.fit_forecast(cfg, history, tmp_path / "run", progress=False)
    coverage, width = {}, {}
    for name, samples in (("plain", None), ("sampled", 1000)):
        out = fc.predict(run.model, cfg, history.values, levels=[0.1, 0.9], samples=samples, key=jax.random.key(0))
        lo, hi = out.interval(0.8)
        coverage[name] = np.mean((np.stack(actual) >= lo) & (np.stack(actual) <= hi))
        width[name] = np.mean(hi - lo, axis=0)
    assert coverage["sampled"] > 0.7 and coverage["plain"] < 0.55
    assert width["sampled"][-1] / width["sampled"][0] == pytest.approx(np.sqrt(horizon), rel=0.15)
    assert width["plain"][-1] / width["plain"][0] < 1.1
