"""The ways JAX recurrent code breaks: wrong gradients, NaN under masks, dtypes silently promoted."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cell_cases import CELL_CASES
from helpers import randomize
from jax.test_util import check_grads

import recurrax as rx

B, T = 2, 5


def _cell(name, key):
    input_size, make = CELL_CASES[name]
    k_cell, k_rand = jax.random.split(key)
    return input_size, randomize(make(k_cell), k_rand)


def _float64(tree):
    return jax.tree.map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, tree)


@pytest.mark.parametrize("name", sorted(CELL_CASES))
def test_check_grads_of_cell_steps_float64(name, key):
    """Reverse-mode gradients of two cell steps w.r.t. every parameter, the inputs and the initial carry
    agree with finite differences (float64, eager: no compilation per cell)."""
    input_size, cell = _cell(name, key)
    with jax.enable_x64(True):
        cell = _float64(cell)
        params, static = eqx.partition(cell, eqx.is_inexact_array)
        xs = jax.random.normal(jax.random.fold_in(key, 1), (2, B, input_size), jnp.float64)
        carry = jax.tree.map(
            lambda leaf: jax.random.normal(jax.random.fold_in(key, 2), leaf.shape, jnp.float64)
            if eqx.is_inexact_array(leaf) else leaf,
            _float64(cell.init_carry(B)),
        )
        init, counters = eqx.partition(carry, eqx.is_inexact_array)

        def loss(params, xs, init):
            step_cell, state = eqx.combine(params, static), eqx.combine(init, counters)
            total = 0.0
            for x in xs:
                state, y = step_cell(state, x)
                total = total + jnp.sum(jnp.sin(y))
            return total + sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(eqx.filter(state, eqx.is_inexact_array)))

        check_grads(loss, (params, xs, init), order=1, modes=["rev"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["lstm", "vanilla", "gru"])
def test_check_grads_through_masked_reverse_scan_float64(name, key):
    """The same through the scan engine, with lengths and in reverse."""
    if name not in CELL_CASES:
        pytest.fail(f"cell case {name!r} missing from tests/cell_cases.py")
    input_size, cell = _cell(name, key)
    with jax.enable_x64(True):
        params, static = eqx.partition(_float64(cell), eqx.is_inexact_array)
        xs = jax.random.normal(jax.random.fold_in(key, 1), (B, T, input_size), jnp.float64)

        def loss(params, xs):
            ys, carry = rx.RNN(eqx.combine(params, static))(xs, jnp.array([T, 3]), reverse=True)
            return jnp.sum(jnp.sin(ys)) + jnp.sum(jax.tree.leaves(carry)[0] ** 2)

        check_grads(loss, (params, xs), order=1, modes=["rev"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(CELL_CASES))
def test_gradients_finite_and_masked_under_padding(name, key):
    """With a zero-length and a short sequence, gradients stay finite and padded inputs get none."""
    input_size, cell = _cell(name, key)
    xs = jax.random.normal(jax.random.fold_in(key, 1), (3, T, input_size), jnp.float32)
    lengths = jnp.array([T, 0, 2])

    def loss(cell, xs):
        ys, carry = rx.RNN(cell)(xs, lengths, reverse=True)
        return jnp.sum(ys**2) + sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(carry) if eqx.is_inexact_array(leaf))

    grad_cell, grad_xs = eqx.filter_grad(lambda args: loss(*args))((cell, xs))
    for leaf in jax.tree.leaves(eqx.filter(grad_cell, eqx.is_inexact_array)) + [grad_xs]:
        assert np.all(np.isfinite(np.asarray(leaf)))
    padded = np.arange(T)[None, :] >= np.asarray(lengths)[:, None]
    assert np.all(np.asarray(grad_xs)[padded] == 0.0)
    assert np.any(np.asarray(grad_xs)[~padded] != 0.0)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("cell", ["lstm", "vanilla", "cifg"])
def test_dtype_is_kept_through_forward_and_backward(cell, dtype, key):
    model = rx.RNNStack(3, 4, bidirectional=True, cell=cell, key=key, dtype=dtype)
    xs = jnp.ones((2, 5, 3), dtype)

    def loss(model, xs):
        ys, _ = model(xs, jnp.array([5, 2]))
        return jnp.sum(ys.astype(jnp.float32))

    ys, state = model(xs)
    grads = eqx.filter_grad(loss)(model, xs)
    assert ys.dtype == dtype
    assert all(leaf.dtype == dtype for leaf in jax.tree.leaves(state))
    assert all(leaf.dtype == dtype for leaf in jax.tree.leaves(eqx.filter(grads, eqx.is_inexact_array)))
    if dtype == jnp.bfloat16:  # bf16 stays close to the float32 computation on the same weights
        model32 = jax.tree.map(lambda a: a.astype(jnp.float32) if eqx.is_inexact_array(a) else a, model)
        ys32, _ = model32(xs.astype(jnp.float32))
        np.testing.assert_allclose(np.asarray(ys, np.float32), np.asarray(ys32), atol=3e-2)
