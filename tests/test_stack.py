"""Stacks: layers and directions composed as documented, state carried across calls, regularisation
semantics, initialisation, and clear errors for bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_close, randomize, run_each_alone, to_numpy
from numpy_reference import reference_step

import recurrax as rx
from recurrax.scan._regularisation import dropout, recurrent_dropout_mask

D, H, B, T = 3, 4, 3, 6


def _numpy_stack(model, xs, lengths):
    """Oracle for a (bi)directional stack: each layer and direction run sequence by sequence in NumPy."""
    outputs, finals = np.asarray(xs, np.float64), []
    for layer in model.layers:
        directions = [(layer.forward, False), (layer.backward, True)] if model.bidirectional else [(layer, False)]
        results = []
        for rnn, reverse in directions:
            cell = rnn.cell
            ys, carries = run_each_alone(
                lambda c, x, cell=cell: reference_step(cell, c, x), lambda cell=cell: to_numpy(cell.init_carry(1)),
                outputs, lengths, reverse,
            )
            results.append(ys)
            finals.append(jax.tree.map(lambda *rows: np.concatenate(rows), *carries))
        outputs = np.concatenate(results, axis=-1)
    return outputs, jax.tree.map(lambda *leaves: np.stack(leaves), *finals)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", ["lstm", "vanilla"])
def test_stack_matches_numpy_layer_by_layer(cell, bidirectional, key):
    k_model, k_rand, k_x = jax.random.split(key, 3)
    model = randomize(rx.RNNStack(D, H, num_layers=2, bidirectional=bidirectional, cell=cell, key=k_model), k_rand)
    xs = jax.random.normal(k_x, (B, T, D), jnp.float32)
    lengths = jnp.array([T, 0, 4])
    ys, state = model(xs, lengths)
    expected_ys, expected_state = _numpy_stack(model, xs, lengths)
    assert_trees_close(ys, expected_ys, what="outputs")
    assert_trees_close(state, expected_state, what="final state")


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "vanilla"])
def test_outputs_run_unmasked_and_equal_the_masked_outputs(cell, bidirectional, key):
    k_model, k_rand, k_x, k_drop = jax.random.split(key, 4)
    model = randomize(rx.RNNStack(D, H, num_layers=2, bidirectional=bidirectional, cell=cell, dropout=0.3,
                                  key=k_model), k_rand)  # fmt: skip
    xs = jax.random.normal(k_x, (B, T, D), jnp.float32)  # non-zero padding: never read
    lengths = jnp.array([T, 0, 4])
    expected_ys, _ = _numpy_stack(model, xs, lengths)
    assert_trees_close(model.outputs(xs, lengths), expected_ys, what="outputs")
    masked = jax.grad(lambda m: jnp.sum(jnp.sin(m(xs, lengths, key=k_drop)[0])))(model)
    unmasked = jax.grad(lambda m: jnp.sum(jnp.sin(m.outputs(xs, lengths, key=k_drop))))(model)
    assert_trees_close(unmasked, masked, what="gradients")


def test_state_carries_across_calls(key):
    """Two calls with the state passed on == one call over the whole sequence (stateful use)."""
    k_model, k_x = jax.random.split(key)
    model = rx.LSTM(D, H, num_layers=2, key=k_model)
    xs = jax.random.normal(k_x, (B, T, D), jnp.float32)
    ys, state = model(xs)
    ys_a, state_a = model(xs[:, :2])
    ys_b, state_b = model(xs[:, 2:], state=state_a)
    assert_trees_close(jnp.concatenate([ys_a, ys_b], axis=1), ys, rtol=1e-6, atol=1e-6, what="outputs")
    assert_trees_close(state_b, state, rtol=1e-6, atol=1e-6, what="state")


def test_initialisation_follows_the_documented_defaults(key):
    cell = rx.LSTMCell(D, H, key=key)
    bias = np.asarray(cell.bias_ih).reshape(4, H)
    np.testing.assert_array_equal(bias, np.array([0.0, 1.0, 0.0, 0.0])[:, None] * np.ones((1, H)))
    np.testing.assert_array_equal(np.asarray(cell.bias_hh), 0.0)
    for block in np.split(np.asarray(cell.weight_hh), 4):  # one orthogonal block per gate
        np.testing.assert_allclose(block @ block.T, np.eye(H), atol=1e-5)
    limit = np.sqrt(6.0 / (D + 4 * H))  # glorot uniform on the fused [4H, D] kernel
    assert np.abs(np.asarray(cell.weight_ih)).max() <= limit
    assert rx.LSTMCell(D, H, key=key, forget_bias=0.0).bias_ih.sum() == 0.0


def test_dropout_is_inverted_and_off_without_key(key):
    x = jnp.ones((200, 50), jnp.float32)
    assert dropout(x, 0.3, None) is x
    out = np.asarray(dropout(x, 0.3, key))
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.7], rtol=1e-6)
    assert abs((out == 0).mean() - 0.3) < 0.02


def test_between_layer_dropout_only_in_training(key):
    k_model, k_x, k_drop = jax.random.split(key, 3)
    xs = jax.random.normal(k_x, (B, T, D), jnp.float32)
    model = rx.LSTM(D, H, num_layers=2, dropout=0.5, key=k_model)
    plain = rx.LSTM(D, H, num_layers=2, dropout=0.0, key=k_model)  # same key: same weights
    assert_trees_close(model(xs)[0], plain(xs)[0], rtol=0, atol=0, what="evaluation mode")
    assert not np.allclose(model(xs, key=k_drop)[0], plain(xs)[0])
    single = rx.LSTM(D, H, num_layers=1, dropout=0.5, key=k_model)  # torch: no dropout after the last layer
    assert_trees_close(single(xs, key=k_drop)[0], single(xs)[0], rtol=0, atol=0, what="one layer")


def test_recurrent_dropout_uses_one_mask_for_all_steps(key):
    """Against a plain loop that multiplies h_{t-1} by the same mask at every step (Gal & Ghahramani)."""
    k_cell, k_x, k_run = jax.random.split(key, 3)
    cell = rx.LSTMCell(D, H, key=k_cell)
    xs = jax.random.normal(k_x, (B, T, D), jnp.float32)
    ys, _ = rx.RNN(cell, recurrent_dropout=0.4)(xs, key=k_run)
    mask = recurrent_dropout_mask(0.4, jax.random.split(k_run)[0], (B, H), jnp.float32)
    carry, outputs = cell.init_carry(B), []
    for t in range(T):
        carry, y = cell.step(carry, cell.project_input(xs[:, t]), mask)
        outputs.append(y)
    assert_trees_close(ys, jnp.stack(outputs, axis=1), rtol=1e-6, atol=1e-6, what="outputs")
    assert_trees_close(rx.RNN(cell, recurrent_dropout=0.4)(xs)[0], rx.RNN(cell)(xs)[0], rtol=0, atol=0)


def test_zoneout_keeps_units_or_takes_expectation(key):
    k_cell, k_x, k_run = jax.random.split(key, 3)
    cell = rx.LSTMCell(D, H, key=k_cell)
    xs = jax.random.normal(k_x, (B, T, D), jnp.float32)
    rate = 0.3
    # evaluation: carry = rate * old + (1 - rate) * new, step by step
    ys, carry = rx.RNN(cell, zoneout=rate)(xs)
    state, outputs = cell.init_carry(B), []
    for t in range(T):
        new, y = cell(state, xs[:, t])
        state = jax.tree.map(lambda o, n: rate * o + (1 - rate) * n, state, new)
        outputs.append(y)
    assert_trees_close(ys, jnp.stack(outputs, axis=1), rtol=1e-6, atol=1e-6, what="outputs")
    assert_trees_close(carry, state, rtol=1e-6, atol=1e-6, what="carry")
    # training: the first step from a zero carry either keeps 0 or takes the fresh value, unit by unit
    _, (h1, c1) = rx.RNN(cell, zoneout=0.5)(xs[:, :1], key=k_run)
    (h_new, c_new), _ = cell(cell.init_carry(B), xs[:, 0])
    for zoned, fresh in [(h1, h_new), (c1, c_new)]:
        zoned, fresh = np.asarray(zoned), np.asarray(fresh)
        assert np.all((zoned == 0) | (zoned == fresh)) and (zoned == 0).any() and (zoned == fresh).any()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m(jnp.ones((2, 5))), r"\[B, T, D\]"),
        (lambda m: m(jnp.ones((2, 5, 7))), "7"),
        (lambda m: m(jnp.ones((2, 5, D)), lengths=jnp.array([1, 2, 3])), "lengths"),
        (lambda m: m(jnp.ones((2, 5, D)), lengths=jnp.array([1.0, 2.0])), "integers"),
        (lambda m: m(jnp.ones((2, 5, D)), state=(jnp.zeros((3, 2, H)), jnp.zeros((3, 2, H)))), "num_layers"),
    ],
    ids=["rank", "features", "lengths-shape", "lengths-dtype", "state"],
)
def test_bad_input_is_a_clear_error(call, message, key):
    with pytest.raises((ValueError, TypeError), match=message):
        call(rx.LSTM(D, H, num_layers=2, key=key))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda k: rx.RNNStack(D, H, cell="lstn", key=k), "unknown cell 'lstn'"),
        (lambda k: rx.LSTM(D, H, dropout=1.5, key=k), "dropout"),
        (lambda k: rx.LSTM(D, H, num_layers=0, key=k), "num_layers"),
        (lambda k: rx.LSTMCell(D, H, peepholes=("g",), key=k), "peepholes"),
        (lambda k: rx.LSTMCell(D, H, peepholes=("i",), input_gate=False, key=k), "removed"),
        (lambda k: rx.LSTMCell(D, H, coupled=True, forget_gate=False, key=k), "forget gate"),
    ],
    ids=["cell-name", "dropout", "layers", "peephole-name", "peephole-removed-gate", "cifg-needs-f"],
)
def test_bad_configuration_is_a_clear_error(build, message, key):
    with pytest.raises(ValueError, match=message):
        build(key)
