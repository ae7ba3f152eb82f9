"""Seed ensembles trained as one program: each member ends exactly where a single run with its seed ends
(per-member clipping and optimiser state), the forecast is the members' median, and the run reloads."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from recurrax.tasks import forecast as fc
from recurrax.train import OptimConfig, TrainConfig, clip_member

MEMBERS = 2


def config(ensemble: int, seed: int = 0) -> fc.ForecastConfig:
    return fc.ForecastConfig(
        model=fc.ModelConfig(hidden_size=4, head="gaussian", ensemble=ensemble),
        data=fc.DataConfig(input_size=8, horizon=2, batch_size=8),
        optim=OptimConfig(lr=0.05, clip_norm=0.05),  # a small norm: clipping is active at every step
        train=TrainConfig(steps=2, log_every=2, eval_every=0, checkpoint_every=0, seed=seed),
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    rng = np.random.default_rng(0)
    series = fc.SeriesSet.from_arrays([5 + np.sin(np.arange(30) / 2 + i) + rng.normal(0, 0.1, 30) for i in range(5)])
    root = tmp_path_factory.mktemp("ensemble")
    ensemble = fc.fit_forecast(config(MEMBERS, seed=4), series, root / "ensemble", progress=False)
    singles = [fc.fit_forecast(config(1, seed=4 + m), series, root / f"single{m}", progress=False)
               for m in range(MEMBERS)]  # fmt: skip
    return series, root, ensemble, singles


def test_members_train_as_separate_runs(runs):
    _, _, ensemble, singles = runs
    assert isinstance(ensemble.fit.model, fc.ForecastEnsemble)
    for m, single in enumerate(singles):
        got, want = jax.tree.leaves(ensemble.fit.model.member(m)), jax.tree.leaves(single.fit.model)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    first = jax.tree.leaves(ensemble.fit.model.member(0))[0]
    assert not np.allclose(first, jax.tree.leaves(ensemble.fit.model.member(1))[0])  # members differ


def test_forecast_is_member_median_and_reloads(runs):
    series, root, ensemble, _ = runs
    cfg, levels = ensemble.config, [0.1, 0.5, 0.9]
    out = fc.predict(ensemble.model, cfg, series.values, levels=levels)
    members = [fc.predict(ensemble.model.member(m), cfg, series.values, levels=levels) for m in range(MEMBERS)]
    np.testing.assert_allclose(out.mean, np.median([f.mean for f in members], axis=0), rtol=1e-6)
    np.testing.assert_allclose(out.quantiles, np.median([f.quantiles for f in members], axis=0), rtol=1e-6)
    loaded = fc.load_forecast(root / "ensemble")
    assert isinstance(loaded.model, fc.ForecastEnsemble) and loaded.model.size == MEMBERS
    np.testing.assert_array_equal(fc.predict(loaded.model, loaded.config, series.values).mean, out.mean)


def test_clip_member_clips_each_member_by_its_own_norm():
    grads = {"a": jnp.array([[3.0, 4.0], [0.3, 0.4]]), "b": jnp.array([[0.0], [0.0]])}  # norms 5 and 0.5
    params = jax.tree.map(jnp.zeros_like, grads)

    def loss(p, g):
        clipped = clip_member(p, 1.0, scale=2.0)
        return sum(jnp.sum(c * x) for c, x in zip(jax.tree.leaves(clipped), jax.tree.leaves(g)))

    got = jax.vmap(jax.grad(loss))(params, grads)
    clip = optax.clip_by_global_norm(1.0)
    for m in range(2):
        member = jax.tree.map(lambda g, m=m: 2.0 * g[m], grads)
        want, _ = clip.update(member, clip.init(member))
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_allclose(a[m], b, rtol=1e-6)


def test_ensemble_needs_two_members(key):
    with pytest.raises(ValueError, match="at least 2 members"):
        fc.ForecastEnsemble.create(1, lambda k: fc.Forecaster(2, 4, key=k), key=key)
    with pytest.raises(Exception, match="ensemble: must be >= 1"):
        fc.ModelConfig(ensemble=0)
