"""Every cell: the scan engine == a plain Python loop over the cell == the NumPy float64 reference, with
and without lengths, forward and reverse; the padding semantics against running each sequence alone."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cell_cases import CELL_CASES
from helpers import assert_trees_close, batch_row, random_lengths, randomize, run_each_alone, to_numpy
from numpy_reference import reference_step

import recurrax as rx

B, T = 3, 6


@pytest.fixture(scope="module", params=sorted(CELL_CASES))
def case(request):
    """One cell with every parameter random, its inputs, and a jitted layer call (compiled once per case)."""
    input_size, make = CELL_CASES[request.param]
    key = jax.random.key(abs(hash(request.param)) % 2**31)
    k_cell, k_rand, k_x, k_len = jax.random.split(key, 4)
    cell = randomize(make(k_cell), k_rand)
    xs = jax.random.normal(k_x, (B, T, input_size), jnp.float32)
    lengths = random_lengths(k_len, B, T)
    layer = jax.jit(lambda c, x, n, r: rx.RNN(c)(x, n, reverse=r), static_argnums=3)
    return cell, xs, lengths, layer


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
def test_scan_matches_numpy_reference_per_sequence(case, with_lengths, reverse):
    cell, xs, lengths, layer = case
    lengths = lengths if with_lengths else None
    ys, carry = layer(cell, xs, lengths, reverse)

    init = lambda: to_numpy(cell.init_carry(1))
    expected_ys, expected_finals = run_each_alone(
        lambda c, x: reference_step(cell, c, x), init, np.asarray(xs, np.float64), lengths, reverse
    )
    assert_trees_close(ys, expected_ys, what="outputs")
    for b, final in enumerate(expected_finals):
        assert_trees_close(batch_row(carry, b), final, what=f"final carry of sequence {b}")


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_scan_matches_plain_loop(case, reverse):
    """The engine against the cell driven step by step in Python on the whole batch (no lengths)."""
    cell, xs, _, layer = case
    ys, carry = layer(cell, xs, None, reverse)
    step = jax.jit(lambda c, s, x: c(s, x))
    loop_carry, outputs = cell.init_carry(B), [None] * T
    for t in reversed(range(T)) if reverse else range(T):
        loop_carry, outputs[t] = step(cell, loop_carry, xs[:, t])
    assert_trees_close(ys, jnp.stack(outputs, axis=1), rtol=1e-6, atol=1e-6, what="outputs")
    assert_trees_close(carry, loop_carry, rtol=1e-6, atol=1e-6, what="final carry")


def test_outputs_past_length_are_exactly_zero(case):
    cell, xs, lengths, layer = case
    ys, _ = layer(cell, xs, lengths, False)
    padded = np.arange(T)[None, :] >= np.asarray(lengths)[:, None]
    assert np.all(np.asarray(ys)[padded] == 0.0)
