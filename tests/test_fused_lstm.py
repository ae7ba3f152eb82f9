"""The fused LSTM kernel (`recurrax.scan._fused_lstm`): equal to the generic scan and its plain autodiff in
outputs, final carry and every gradient; finite differences; zero-length sequences; the dispatch in `RNN`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_close
from jax.test_util import check_grads

import recurrax as rx
from recurrax.scan import vendor_kernels
from recurrax.scan._fused_lstm import fused_lstm

# (B, T, D, H, bias): a few sizes, with and without bias.
SIZES = {"b3t6d4h5": (3, 6, 4, 5, True), "b4t5d2h3_nobias": (4, 5, 2, 3, False), "b1t4d6h8": (1, 4, 6, 8, True)}


def _layer_vjp(cell, xs, carry, lengths, cotangents, reverse: bool, fused: bool):
    """Outputs, final carry and the cotangents w.r.t. (cell, xs, carry) of one `RNN` call."""
    def run(cell, xs, carry):
        return rx.RNN(cell, fused=fused)(xs, lengths, carry, reverse=reverse)

    out, vjp = jax.vjp(run, cell, xs, carry)
    return out, vjp(cotangents)


@jax.jit
def _both_paths(cell, xs, carry, lengths, cotangents):
    """Fused and generic, forward and reverse, in one compilation per size and mask."""
    return {
        (reverse, fused): _layer_vjp(cell, xs, carry, lengths, cotangents, reverse, fused)
        for reverse in (False, True)
        for fused in (False, True)
    }


@pytest.fixture(scope="module", params=sorted(SIZES))
def problem(request):
    """A plain LSTM with every parameter random, inputs, an initial carry, lengths with an empty sequence
    (B >= 3) and random cotangents for ``ys``, ``h_T`` and ``c_T`` (NumPy draws: nothing to compile)."""
    batch, steps, input_size, hidden, bias = SIZES[request.param]
    rng = np.random.default_rng(sum(map(ord, request.param)))
    normal = lambda *shape: jnp.asarray(rng.standard_normal(shape), jnp.float32)
    cell = rx.LSTMCell(input_size, hidden, key=jax.random.key(0), bias=bias)
    cell = jax.tree.map(lambda leaf: 0.5 * normal(*leaf.shape), cell)
    xs = normal(batch, steps, input_size)
    carry = (normal(batch, hidden), normal(batch, hidden))
    cotangents = (normal(batch, steps, hidden), (normal(batch, hidden), normal(batch, hidden)))
    lengths = rng.integers(1, steps + 1, batch)
    lengths[0] = steps
    lengths[1:2] = 0
    return cell, xs, carry, jnp.asarray(lengths, jnp.int32), cotangents


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
def test_fused_matches_generic_autodiff(problem, with_lengths):
    """Outputs, final carry and gradients w.r.t. every weight, the inputs, h0 and c0, forward and reverse."""
    cell, xs, carry, lengths, cotangents = problem
    results = _both_paths(cell, xs, carry, lengths if with_lengths else None, cotangents)
    for reverse in (False, True):
        (ys, final), grads = results[(reverse, True)]
        (ys_ref, final_ref), grads_ref = results[(reverse, False)]
        what = "reverse" if reverse else "forward"
        assert_trees_close(ys, ys_ref, rtol=1e-5, atol=1e-6, what=f"{what} outputs")
        assert_trees_close(final, final_ref, rtol=1e-5, atol=1e-6, what=f"{what} final carry")
        assert_trees_close(grads, grads_ref, rtol=1e-5, atol=1e-5, what=f"{what} gradients")
        if with_lengths:
            padded = np.arange(xs.shape[1])[None, :] >= np.asarray(lengths)[:, None]
            assert np.all(np.asarray(ys)[padded] == 0.0)


def _kernel_args(key, dtype, steps=4, batch=3, input_size=2, hidden=3):
    keys = jax.random.split(key, 6)
    shapes = [(4 * hidden, input_size), (4 * hidden, hidden), (4 * hidden,), (steps, batch, input_size)]
    shapes += [(batch, hidden), (batch, hidden)]
    return tuple(0.5 * jax.random.normal(k, s, dtype) for k, s in zip(keys, shapes))


@pytest.mark.parametrize(
    "hoist_input, with_mask",
    [(False, False), (False, True), (True, True)],
    ids=["per_step", "per_step_mask", "hoisted_mask"],
)
def test_check_grads_float64(key, hoist_input, with_mask):
    """Reverse-mode gradients of the kernel against finite differences, with a mask (a sequence that
    stops early and an empty one) and without, for both ways of computing the input projection."""
    with jax.enable_x64(True):
        args = _kernel_args(key, jnp.float64)
        valid = jnp.array([[True, True, False], [True, False, False], [True, False, False], [True, False, False]])
        mask = valid if with_mask else None

        def loss(*args):
            ys, (h, c) = fused_lstm(*args, mask, hoist_input=hoist_input)
            return jnp.sum(jnp.sin(ys)) + jnp.sum(h * c) + jnp.sum(c**2)

        check_grads(jax.jit(loss), args, order=1, modes=["rev"], atol=1e-6, rtol=1e-6)


def test_zero_length_sequences_give_finite_gradients(key):
    """All-padded sequences: zero outputs, the initial carry returned, its cotangent passed straight back."""
    w_ih, w_hh, bias, xs, h0, c0 = _kernel_args(key, jnp.float32)
    valid = jnp.zeros(xs.shape[:2], bool).at[:, 0].set(True)  # sequence 0 has length T, the others 0

    dh, dc = jnp.ones_like(h0), 2 * jnp.ones_like(c0)

    @jax.jit
    def run_and_vjp(*args):
        out, vjp = jax.vjp(lambda *a: fused_lstm(*a, valid), *args)
        return out, vjp((jnp.ones_like(out[0]), (dh, dc)))

    (ys, (h, c)), grads = run_and_vjp(w_ih, w_hh, bias, xs, h0, c0)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)
    assert np.all(np.asarray(ys[:, 1:]) == 0.0)
    assert_trees_close((h[1:], c[1:]), (h0[1:], c0[1:]), rtol=0, atol=0, what="carry of empty sequences")
    assert_trees_close((grads[4][1:], grads[5][1:]), (dh[1:], dc[1:]), rtol=0, atol=0, what="dh0, dc0")
    assert np.all(np.asarray(grads[3][:, 1:]) == 0.0)


def test_bfloat16_keeps_dtype_and_tracks_float32(key):
    cell = rx.LSTMCell(3, 4, key=key)
    xs = jax.random.normal(jax.random.fold_in(key, 1), (2, 5, 3), jnp.float32)
    cell16 = jax.tree.map(lambda a: a.astype(jnp.bfloat16), cell)

    @jax.jit
    def run(cell, xs):
        ys, carry = rx.RNN(cell)(xs)
        grads = jax.grad(lambda c, x: jnp.sum(rx.RNN(c)(x)[0].astype(jnp.float32)), argnums=(0, 1))(cell, xs)
        return ys, carry, grads

    ys, (h, c), (g_cell, g_xs) = run(cell16, xs.astype(jnp.bfloat16))
    ys32, _, grads32 = run(cell, xs)
    assert ys.dtype == h.dtype == c.dtype == g_cell.weight_hh.dtype == g_xs.dtype == jnp.bfloat16
    assert_trees_close(ys, ys32, rtol=0, atol=3e-2, what="bf16 outputs")
    assert_trees_close((g_cell, g_xs), grads32, rtol=0, atol=0.1, what="bf16 gradients")


def _runs_kernel(layer, xs, key=None) -> bool:
    """Whether the traced layer call contains the fused kernel's custom VJP."""
    return "custom_vjp_call" in str(jax.make_jaxpr(lambda x: layer(x, key=key))(xs))


def test_dispatch_only_for_plain_lstm_without_active_regularisation(key):
    xs = jnp.ones((2, 3, 3), jnp.float32)
    plain = rx.LSTMCell(3, 4, key=key)
    assert _runs_kernel(rx.RNN(plain), xs)
    assert _runs_kernel(rx.RNN(rx.LSTMCell(3, 4, key=key, bias=False)), xs)
    assert _runs_kernel(rx.RNN(plain, recurrent_dropout=0.5), xs)  # no key: dropout is off
    assert not _runs_kernel(rx.RNN(plain, recurrent_dropout=0.5), xs, key)
    assert not _runs_kernel(rx.RNN(plain, zoneout=0.1), xs)  # evaluation zoneout is the expectation
    assert not _runs_kernel(rx.RNN(plain, fused=False), xs)
    # the other LSTM variants run on the generic fused scan (tests/test_fused_scan.py); these on neither XLA
    # kernel (LSTMP runs oneDNN's projection LSTM where it can: tests/test_onednn.py)
    with vendor_kernels(False):
        assert not _runs_kernel(rx.RNN(rx.LSTMCell(3, 4, key=key, proj_size=2)), xs)
    assert not _runs_kernel(rx.RNN(rx.cells.make_cell("fgr", 3, 4, key=key)), xs)


def test_stack_passes_fused_through(key):
    """`LSTM(fused=False)` reaches every layer and direction; both settings give the same model output."""
    xs = jax.random.normal(key, (3, 5, 2), jnp.float32)
    lengths = jnp.array([5, 0, 3])
    fused = rx.LSTM(2, 4, num_layers=2, bidirectional=True, key=key)
    generic = rx.LSTM(2, 4, num_layers=2, bidirectional=True, key=key, fused=False)
    assert all(rnn.fused for layer in fused.layers for rnn in (layer.forward, layer.backward))
    assert not any(rnn.fused for layer in generic.layers for rnn in (layer.forward, layer.backward))
    outputs = jax.jit(lambda models, xs, lengths: [m(xs, lengths) for m in models])((fused, generic), xs, lengths)
    assert_trees_close(outputs[0], outputs[1], rtol=1e-5, atol=1e-6, what="stack")


def test_bfloat16_matmuls_stay_within_bfloat16_error_of_float32(key):
    """``matmul_dtype="bfloat16"``: outputs and every gradient within bfloat16's rounding (8-bit mantissa,
    relative 2^-8 per operand) of the float32 kernel, and not equal to it (the reduced path really runs);
    through `RNNStack` too; an unknown dtype or a cell without the fused kernel is refused."""
    k_x, k_m = jax.random.split(key)
    xs, lengths = jax.random.normal(k_x, (4, 12, 6), jnp.float32), jnp.array([12, 7, 1, 10])
    exact = rx.LSTM(6, 16, num_layers=2, key=k_m)
    reduced = rx.LSTM(6, 16, num_layers=2, key=k_m, matmul_dtype="bfloat16")

    def loss_and_grads(model):
        def loss(m):
            ys, (h, c) = m(xs, lengths)
            return jnp.sum(ys * jnp.cos(ys)) + jnp.sum(h) + jnp.sum(c * c)

        return jax.value_and_grad(loss)(model)

    (l32, g32), (l16, g16) = jax.jit(lambda a, b: (loss_and_grads(a), loss_and_grads(b)))(exact, reduced)
    assert float(l16) != float(l32)
    np.testing.assert_allclose(float(l16), float(l32), rtol=2e-2)
    for a, b in zip(jax.tree.leaves(g32), jax.tree.leaves(g16)):
        scale = float(jnp.max(jnp.abs(a)))
        assert float(jnp.max(jnp.abs(a - b))) <= 3e-2 * scale + 1e-6
    with pytest.raises(ValueError, match="matmul_dtype must be None or 'bfloat16', got 'float16'"):
        rx.LSTM(6, 16, key=k_m, matmul_dtype="float16")
    with pytest.raises(ValueError, match="matmul_dtype applies to the fused plain LSTM only"):
        rx.RNNStack(6, 16, cell="peephole", key=k_m, matmul_dtype="bfloat16")
