"""The optimiser chain (clipping first, each update rule against optax by hand) and the schedules against
their closed forms."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from recurrax.train import OptimConfig, Plateau, last_learning_rate, make_optimizer, make_schedule, scale_learning_rate


def _grads(key, scale: float = 1.0):
    k1, k2 = jax.random.split(key)
    return {"w": scale * jax.random.normal(k1, (3, 4)), "b": scale * jax.random.normal(k2, (4,))}


def _params(key):
    return jax.tree.map(lambda g: g * 0.5, _grads(jax.random.fold_in(key, 1)))


def _apply(optimizer, grads_seq, params):
    """The updates of successive steps (parameters moved by each), under standard dtype promotion as optax's
    Adam needs (the recurrax chain sets it itself)."""
    with jax.numpy_dtype_promotion("standard"):
        state = optimizer.init(params)
        out = []
        for grads in grads_seq:
            updates, state = optimizer.update(grads, state, params)
            params = optax.apply_updates(params, updates)
            out.append(updates)
    return out, state


def _assert_trees_equal(a, b, rtol=0.0):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if rtol:
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=1e-9)
        else:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_clipping_comes_first(key):
    grads = _grads(key)
    norm = float(optax.tree.norm(grads))
    grads = jax.tree.map(lambda g: g * (100.0 / norm), grads)  # global norm 100
    params = _params(key)
    ours, _ = _apply(make_optimizer(OptimConfig(name="adam", lr=0.01, clip_norm=1.0), 10), [grads] * 3, params)

    clipped, _ = optax.clip_by_global_norm(1.0).update(grads, optax.EmptyState())
    np.testing.assert_allclose(float(optax.tree.norm(clipped)), 1.0, rtol=1e-6)
    by_hand, _ = _apply(optax.adam(0.01), [clipped] * 3, params)
    _assert_trees_equal(ours, by_hand)

    # plain SGD shows it in closed form: -lr * g / ||g||
    sgd_cfg = OptimConfig(name="sgd", lr=0.1, momentum=0.0, clip_norm=1.0)
    (sgd,), _ = _apply(make_optimizer(sgd_cfg, 10), [grads], params)
    _assert_trees_equal(sgd, jax.tree.map(lambda g: -0.1 * g / 100.0, grads), rtol=1e-6)


def test_clip_none_turns_clipping_off(key):
    grads = jax.tree.map(lambda g: 100.0 * g, _grads(key))
    cfg = OptimConfig(name="sgd", lr=0.1, momentum=0.0, clip_norm=None)
    (updates,), _ = _apply(make_optimizer(cfg, 10), [grads], _params(key))
    _assert_trees_equal(updates, jax.tree.map(lambda g: jnp.float32(-0.1) * g, grads))


@pytest.mark.parametrize(
    "cfg, reference",
    [
        (OptimConfig(name="adam", lr=0.01, clip_norm=None), optax.adam(0.01)),
        (OptimConfig(name="adam", lr=0.01, weight_decay=0.1, clip_norm=None),
         optax.chain(optax.add_decayed_weights(0.1), optax.adam(0.01))),
        (OptimConfig(name="adamw", lr=0.01, weight_decay=0.1, clip_norm=None), optax.adamw(0.01, weight_decay=0.1)),
        (OptimConfig(name="sgd", lr=0.1, momentum=0.9, clip_norm=None), optax.sgd(0.1, momentum=0.9)),
        (OptimConfig(name="sgd", lr=0.1, momentum=0.9, weight_decay=0.01, clip_norm=None),
         optax.chain(optax.add_decayed_weights(0.01), optax.sgd(0.1, momentum=0.9))),
        (OptimConfig(name="rmsprop", lr=0.01, momentum=0.0, clip_norm=None), optax.rmsprop(0.01)),
        (OptimConfig(name="rmsprop", lr=0.01, momentum=0.5, clip_norm=None), optax.rmsprop(0.01, momentum=0.5)),
        (OptimConfig(name="adam", lr=0.01, clip_norm=0.5),
         optax.chain(optax.clip_by_global_norm(0.5), optax.adam(0.01))),
    ],
)  # fmt: skip
def test_update_rules_match_optax(cfg, reference, key):
    grads_seq = [_grads(jax.random.fold_in(key, i)) for i in range(4)]
    ours, _ = _apply(make_optimizer(cfg, 10), grads_seq, _params(key))
    expected, _ = _apply(reference, grads_seq, _params(key))
    _assert_trees_equal(ours, expected, rtol=1e-5)


def _cosine(s, lr, warmup, total, ratio):
    if s < warmup:
        return lr * s / warmup
    decay = max(total - warmup, 1)
    u = min(s - warmup, decay)
    return lr * (ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * u / decay)))


def _step_decay(s, lr, warmup, every, factor):
    if s < warmup:
        return lr * s / warmup
    return lr * factor ** ((s - warmup) // every)


@pytest.mark.parametrize(
    "cfg, closed_form",
    [
        (OptimConfig(lr=0.1, schedule="constant"), lambda s: 0.1),
        (OptimConfig(lr=0.1, schedule="constant", warmup_steps=4), lambda s: 0.1 * min(s / 4, 1.0)),
        (OptimConfig(lr=0.1, schedule="plateau", warmup_steps=4), lambda s: 0.1 * min(s / 4, 1.0)),
        (OptimConfig(lr=0.1, schedule="warmup_cosine", warmup_steps=10, min_lr_ratio=0.1),
         lambda s: _cosine(s, 0.1, 10, 100, 0.1)),
        (OptimConfig(lr=0.1, schedule="warmup_cosine"), lambda s: _cosine(s, 0.1, 0, 100, 0.0)),
        (OptimConfig(lr=1.0, schedule="step", decay_every=7, decay_factor=0.5),
         lambda s: _step_decay(s, 1.0, 0, 7, 0.5)),
        (OptimConfig(lr=1.0, schedule="step", decay_every=7, decay_factor=0.3, warmup_steps=3),
         lambda s: _step_decay(s, 1.0, 3, 7, 0.3)),
    ],
)  # fmt: skip
def test_schedules_follow_their_closed_forms(cfg, closed_form):
    schedule = make_schedule(cfg, total_steps=100)
    for s in [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 14, 20, 21, 50, 99, 100, 120]:
        np.testing.assert_allclose(float(schedule(s)), closed_form(s), rtol=1e-5, atol=1e-8, err_msg=f"step {s}")


def test_the_optimizer_applies_the_schedule():
    """sgd without momentum on a unit gradient moves by exactly -lr(s) at update s; the state records lr(s)."""
    cfg = OptimConfig(name="sgd", lr=1.0, momentum=0.0, clip_norm=None, schedule="step", decay_every=2,
                      decay_factor=0.5, warmup_steps=2)  # fmt: skip
    optimizer = make_optimizer(cfg, 10)
    params = {"w": jnp.zeros(())}
    state = optimizer.init(params)
    for s in range(8):
        updates, state = optimizer.update({"w": jnp.ones(())}, state, params)
        expected = _step_decay(s, 1.0, 2, 2, 0.5)
        assert float(updates["w"]) == pytest.approx(-expected, rel=1e-6)
        assert float(last_learning_rate(state)) == pytest.approx(expected, rel=1e-6)


def test_plateau_reduces_after_patience_evaluations():
    plateau = Plateau(patience=2, factor=0.5)
    losses = [3.0, 2.0, 2.5, 2.1, 1.9, 2.0, 2.0, 2.0, 2.0, float("nan"), 2.0]
    reduce = [plateau.observe(loss) for loss in losses]
    assert reduce == [False, False, False, True, False, False, True, False, True, False, True]
    assert plateau.best == 1.9


def test_scale_learning_rate_changes_data_not_structure():
    cfg = OptimConfig(name="sgd", lr=0.2, momentum=0.0, clip_norm=None, schedule="plateau")
    optimizer = make_optimizer(cfg, 10)
    params = {"w": jnp.zeros(())}
    state = optimizer.init(params)
    lowered = scale_learning_rate(scale_learning_rate(state, 0.5), 0.5)
    assert jax.tree.structure(lowered) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(lowered), jax.tree.leaves(state)):
        assert (a.shape, a.dtype, a.weak_type) == (b.shape, b.dtype, b.weak_type)
    updates, lowered = optimizer.update({"w": jnp.ones(())}, lowered, params)
    assert float(updates["w"]) == pytest.approx(-0.05, rel=1e-6)
    assert float(last_learning_rate(lowered)) == pytest.approx(0.05, rel=1e-6)
