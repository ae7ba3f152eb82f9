"""What the generic cell tests cannot see: the depth-gated LSTM wired through a stack, the clockwork schedule
and block structure, layer normalisation's invariances, and the errors these cells raise."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_close, random_lengths, randomize
from numpy_reference._common import f64, sigmoid

import recurrax as rx

B, T, D, H = 3, 9, 3, 4


def _stacked_depth_gated(model, xs, lengths):
    """The stacked equations of Yao et al. 2015 in NumPy, one sequence at a time: layer l's depth gate reads
    layer l-1's cell state of the same step. Returns ``(ys [B, T, H], h_n [L, B, H], c_n [L, B, H])``."""
    cells = [layer.cell for layer in model.layers]
    L = len(cells)
    ys, h_n, c_n = np.zeros((B, T, H)), np.zeros((L, B, H)), np.zeros((L, B, H))
    for b in range(B):
        h, c = np.zeros((L, H)), np.zeros((L, H))
        for t in range(int(lengths[b])):
            below_h, below_c = xs[b, t], None
            for l, cell in enumerate(cells):
                w_ih, w_hh, bias = f64(cell.weight_ih), f64(cell.weight_hh), f64(cell.bias)
                z = w_ih[: 4 * H] @ below_h + w_hh @ h[l] + bias[: 4 * H]
                i, f, g, o = sigmoid(z[:H]), sigmoid(z[H : 2 * H]), np.tanh(z[2 * H : 3 * H]), sigmoid(z[3 * H :])
                c_new = f * c[l] + i * g
                if l > 0:
                    d = sigmoid(
                        w_ih[4 * H :] @ below_h
                        + f64(cell.weight_depth_cell) * c[l]
                        + f64(cell.weight_depth_lower) * below_c
                        + bias[4 * H :]
                    )
                    c_new = c_new + d * below_c
                h[l], c[l] = o * np.tanh(c_new), c_new
                below_h, below_c = h[l], c[l]
            ys[b, t] = h[L - 1]
        h_n[:, b], c_n[:, b] = h, c
    return ys, h_n, c_n


def test_depth_gated_stack_matches_stacked_equations(key):
    k_model, k_rand, k_x, k_len = jax.random.split(key, 4)
    model = randomize(rx.RNNStack(D, H, num_layers=3, cell="depth_gated", key=k_model), k_rand)
    assert [layer.cell.lower_memory for layer in model.layers] == [False, True, True]
    assert [layer.output_size for layer in model.layers] == [2 * H, 2 * H, H]
    xs = jax.random.normal(k_x, (B, T, D), jnp.float32)
    lengths = random_lengths(k_len, B, T)
    ys, (h_n, c_n) = jax.jit(lambda m, x, n: m(x, n))(model, xs, lengths)
    expected_ys, expected_h, expected_c = _stacked_depth_gated(model, np.asarray(xs, np.float64), lengths)
    assert_trees_close((ys, h_n, c_n), (expected_ys, expected_h, expected_c), what="depth-gated stack")


def test_bidirectional_depth_gated_stack_is_an_error(key):
    with pytest.raises(ValueError, match="DepthGatedLSTMCell cannot be used in a bidirectional stack"):
        rx.RNNStack(D, H, num_layers=2, bidirectional=True, cell="depth_gated", key=key)


def test_depth_gated_lower_memory_needs_twice_the_hidden_size(key):
    with pytest.raises(ValueError, match="input_size must be 2 \\* hidden_size = 8, got 5"):
        rx.DepthGatedLSTMCell(5, H, key=key, lower_memory=True)


@pytest.mark.parametrize("which", ["depth_gated_emit", "clockwork"])
def test_recurrent_mask_multiplies_h_only_in_the_matmul(key, which):
    """``step(carry, xp, mask) == step(carry with h * mask, xp)`` when ``h_{t-1}`` has no other path to the
    step's output: always for the LSTM, at t = 0 (every module awake) for the clockwork RNN. The mask is
    shaped like ``h`` (``[B, H]``, also for a cell that emits ``[B, 2H]``)."""
    k_cell, k_rand, k_h, k_x, k_mask = jax.random.split(key, 5)
    if which == "clockwork":
        cell = randomize(rx.ClockworkRNNCell(D, H, key=k_cell, periods=(1, 2)), k_rand)
    else:
        cell = randomize(rx.DepthGatedLSTMCell(D, H, key=k_cell, emit_memory=True), k_rand)
    carry = jax.tree.map(
        lambda leaf: jax.random.normal(k_h, leaf.shape, leaf.dtype) if leaf.dtype == jnp.float32 else leaf,
        cell.init_carry(B),
    )
    xp = cell.project_input(jax.random.normal(k_x, (B, D), jnp.float32))
    mask = jax.random.bernoulli(k_mask, 0.5, carry[0].shape).astype(jnp.float32) * 2.0
    _, y_masked = cell.step(carry, xp, mask)
    _, y_premasked = cell.step((carry[0] * mask,) + tuple(carry[1:]), xp)
    np.testing.assert_allclose(y_masked, y_premasked, rtol=1e-6, atol=1e-6)


def test_depth_gated_stack_runs_with_recurrent_dropout(key):
    """The engine shapes the mask like ``h`` (``[B, H]``), not like the ``[B, 2H]`` output of emitting layers."""
    k_model, k_x, k_drop = jax.random.split(key, 3)
    model = rx.RNNStack(D, H, num_layers=2, cell="depth_gated", recurrent_dropout=0.5, key=k_model)
    xs = jax.random.normal(k_x, (B, T, D), jnp.float32)
    ys_eval, _ = model(xs)
    ys_train, _ = model(xs, key=k_drop)
    assert np.all(np.isfinite(ys_train)) and not np.allclose(ys_train, ys_eval)


PERIODS = (1, 2, 4, 8)
CW_H = 8  # four modules of two units


@pytest.fixture(scope="module")
def clockwork():
    """A randomised clockwork cell (lower blocks of ``weight_hh`` included), inputs and a jitted layer."""
    k_cell, k_rand, k_x = jax.random.split(jax.random.key(7), 3)
    cell = randomize(rx.ClockworkRNNCell(D, CW_H, key=k_cell, periods=PERIODS), k_rand)
    xs = jax.random.normal(k_x, (B, 10, D), jnp.float32)
    layer = jax.jit(lambda c, x, n: rx.RNN(c)(x, n))
    return cell, xs, layer


def _lower_blocks(size: int = CW_H // len(PERIODS)) -> np.ndarray:
    """``[H, H]`` true where module ``i`` (row) would read a faster module ``j < i`` (column)."""
    module = np.arange(CW_H) // size
    return module[None, :] < module[:, None]


def test_clockwork_module_updates_only_on_its_clock(clockwork):
    cell, xs, layer = clockwork
    ys, (_, t) = layer(cell, xs, None)
    ys = np.asarray(ys)
    np.testing.assert_array_equal(t, [xs.shape[1]] * B)
    for m, period in enumerate(PERIODS):
        units = slice(2 * m, 2 * m + 2)
        assert np.all(ys[:, 0, units] != 0.0), f"module {m} must update at t = 0"
        for step in range(1, xs.shape[1]):
            changed = np.any(ys[:, step, units] != ys[:, step - 1, units], axis=-1)
            assert np.all(changed == (step % period == 0)), f"module {m} (period {period}) at t = {step}"


def test_clockwork_counter_stops_at_each_length(clockwork):
    """Padded steps do not advance the clock, so the carry's counter is each sequence's length."""
    cell, xs, layer = clockwork
    lengths = jnp.array([10, 0, 5], jnp.int32)
    ys_padded, (h, t) = layer(cell, xs, lengths)
    np.testing.assert_array_equal(t, lengths)
    ys_alone, (h_alone, _) = layer(cell, xs[2:3, :5], None)
    np.testing.assert_allclose(h[2:3], h_alone, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ys_padded[2:3, :5], ys_alone, rtol=1e-6, atol=1e-6)


def test_clockwork_recurrence_is_block_upper_triangular(key, clockwork):
    fresh = rx.ClockworkRNNCell(D, CW_H, key=key, periods=PERIODS)
    assert np.all(np.asarray(fresh.weight_hh)[_lower_blocks()] == 0.0)
    assert np.all(np.asarray(fresh.weight_hh)[~_lower_blocks()] != 0.0)

    cell, xs, layer = clockwork
    assert np.any(np.asarray(cell.weight_hh)[_lower_blocks()] != 0.0), "randomize fills the lower blocks"
    # the forward pass ignores the lower blocks: changing them changes nothing ...
    scrambled = eqx.tree_at(lambda c: c.weight_hh, cell, jnp.where(_lower_blocks(), 10.0, cell.weight_hh))
    np.testing.assert_array_equal(layer(cell, xs, None)[0], layer(scrambled, xs, None)[0])
    # ... and they get exactly zero gradient, while the blocks in use do not
    grads = eqx.filter_grad(lambda c: jnp.sum(jnp.square(layer(c, xs, None)[0])))(cell)
    assert np.all(np.asarray(grads.weight_hh)[_lower_blocks()] == 0.0)
    assert np.all(np.asarray(grads.weight_hh)[~_lower_blocks()] != 0.0)


@pytest.mark.parametrize(
    "hidden_size, periods, message",
    [
        (6, PERIODS, "hidden_size 6 must split into 4 equal modules"),
        (8, (1, 4, 2, 8), "strictly increasing"),
        (8, (0, 1), "positive"),
    ],
)
def test_clockwork_rejects_bad_modules(key, hidden_size, periods, message):
    with pytest.raises(ValueError, match=message):
        rx.ClockworkRNNCell(D, hidden_size, key=key, periods=periods)


def test_layernorm_lstm_init(key):
    cell = rx.LayerNormLSTMCell(D, H, key=key)
    for gain in (cell.ln_x_gain, cell.ln_h_gain, cell.ln_c_gain):
        np.testing.assert_array_equal(gain, np.ones(gain.shape))
    for shift in (cell.ln_x_bias, cell.ln_h_bias, cell.ln_c_bias):
        np.testing.assert_array_equal(shift, np.zeros(shift.shape))
    np.testing.assert_array_equal(cell.bias, np.repeat([0.0, 1.0, 0.0, 0.0], H))


def test_layernorm_lstm_is_invariant_to_weight_scale(key):
    """Both matmuls are normalised, so rescaling ``W_ih`` or ``W_hh`` changes nothing (Ba et al. 2016,
    section 5.1; exact up to ``eps``, made negligible here)."""
    k_cell, k_rand, k_x = jax.random.split(key, 3)
    cell = randomize(rx.LayerNormLSTMCell(D, H, key=k_cell, eps=1e-10), k_rand)
    scaled = eqx.tree_at(lambda c: (c.weight_ih, c.weight_hh), cell, (cell.weight_ih * 7.0, cell.weight_hh * 3.0))
    xs = jax.random.normal(k_x, (B, T, D), jnp.float32)
    layer = jax.jit(lambda c, x: rx.RNN(c)(x))
    assert_trees_close(layer(scaled, xs), layer(cell, xs), rtol=1e-4, atol=1e-4, what="rescaled weights")
