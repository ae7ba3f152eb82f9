"""One stream (batch 1), as a served model steps it: `matmul_t`'s ``W x`` form against NumPy, every cell's
single-stream layer against its NumPy reference, and the compiled program reading each weight where it lies
(no transposed copy of an argument weight per call, which cost a B1 H256 LSTM step 3x its time)."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cell_cases import CELL_CASES
from helpers import assert_trees_close, randomize, run_each_alone, to_numpy
from numpy_reference import reference_step

import recurrax as rx
from recurrax.cells._base import matmul_t
from recurrax.native import load_onednn
from recurrax.scan import vendor_kernels

T = 4
TRANSPOSE = re.compile(r"= \S+ transpose\(")


@pytest.mark.parametrize("shape", [(5,), (1, 5), (1, 1, 5), (3, 5), (2, 3, 5)], ids=str)
def test_matmul_t_is_x_times_w_transposed(shape):
    rng = np.random.default_rng(0)
    x, weight, cotangent = rng.normal(size=shape), rng.normal(size=(7, 5)), rng.normal(size=(*shape[:-1], 7))
    out, vjp = jax.vjp(matmul_t, jnp.asarray(x, jnp.float32), jnp.asarray(weight, jnp.float32))
    np.testing.assert_allclose(out, x @ weight.T, rtol=1e-5, atol=1e-5)
    dx, dw = vjp(jnp.asarray(cotangent, jnp.float32))
    np.testing.assert_allclose(dx, cotangent @ weight, rtol=1e-5, atol=1e-5)
    rows = cotangent.reshape(-1, 7), x.reshape(-1, 5)
    np.testing.assert_allclose(dw, rows[0].T @ rows[1], rtol=1e-5, atol=1e-5)


def test_matmul_t_under_vmap_and_with_a_wider_accumulator():
    rng = np.random.default_rng(1)
    xs, weights = rng.normal(size=(3, 1, 4)), rng.normal(size=(3, 6, 4))
    out = jax.vmap(matmul_t)(jnp.asarray(xs, jnp.float32), jnp.asarray(weights, jnp.float32))
    np.testing.assert_allclose(out, np.einsum("mbk,mnk->mbn", xs, weights), rtol=1e-5, atol=1e-5)
    wide = matmul_t(jnp.asarray(xs[0], jnp.bfloat16), jnp.asarray(weights[0], jnp.bfloat16),
                    preferred_element_type=jnp.float32)  # fmt: skip
    assert wide.dtype == jnp.float32


@pytest.fixture(scope="module", params=sorted(CELL_CASES))
def one_stream(request):
    """A random cell of the case, one stream's inputs, and the compiled single-stream layer (weights as arguments)."""
    input_size, make = CELL_CASES[request.param]
    k_cell, k_rand, k_x = jax.random.split(jax.random.key(abs(hash(request.param)) % 2**31), 3)
    cell = randomize(make(k_cell), k_rand)
    xs = jax.random.normal(k_x, (1, T, input_size), jnp.float32)
    with vendor_kernels(False):  # what an exported artifact runs
        layer = jax.jit(lambda c, x: rx.RNN(c)(x)).lower(cell, xs).compile()
    return cell, xs, layer


def test_one_stream_matches_numpy_reference(one_stream):
    cell, xs, layer = one_stream
    ys, carry = layer(cell, xs)
    init = lambda: to_numpy(cell.init_carry(1))
    expected_ys, (expected_final,) = run_each_alone(
        lambda c, x: reference_step(cell, c, x), init, np.asarray(xs, np.float64), None, False
    )
    assert_trees_close(ys, expected_ys, what="outputs")
    assert_trees_close(carry, expected_final, what="final carry")


def test_one_stream_reads_weights_where_they_lie(one_stream):
    _, _, layer = one_stream
    transposes = [line.strip() for line in layer.as_text().splitlines() if TRANSPOSE.search(line)]
    assert not transposes, transposes


@pytest.mark.parametrize("cell_class", [rx.LSTMCell, rx.GRUCell], ids=lambda c: c.__name__)
def test_one_cell_step_reads_weights_where_they_lie(cell_class):
    cell = cell_class(6, 8, key=jax.random.key(0))
    step = jax.jit(lambda c, carry, x: c(carry, x)).lower(cell, cell.init_carry(1), jnp.ones((1, 6))).compile()
    assert not TRANSPOSE.search(step.as_text())


@pytest.mark.skipif(load_onednn() is None, reason="the oneDNN kernels are not built here")
@pytest.mark.parametrize(("name", "target"), [("lstm", "recurrax_onednn_lstm"), ("gru", "recurrax_onednn_gru")])
def test_calls_too_small_for_a_vendor_kernel_run_xla(name, target):
    """One step, or under 128 rows (B T): a vendor kernel's fixed cost per call outweighs its work
    (`worth_a_vendor_call`): one stream's step, token-by-token sampling; from there on the kernel runs."""
    cell = rx.cells.make_cell(name, 5, 8, key=jax.random.key(0))

    def lowered(batch, steps):
        return jax.jit(lambda c, x: rx.RNN(c)(x)[0]).lower(cell, jnp.ones((batch, steps, 5))).as_text()

    assert all(target not in lowered(b, t) for b, t in [(1, 1), (1, 127), (32, 3), (4096, 1)])
    assert all(target in lowered(b, t) for b, t in [(64, 2), (8, 16), (1, 128)])


def test_sequence_projection_reaches_whole_sequence_matmuls_only():
    """Inside `sequence_projection`, `matmul_t` of a ``[T, B, K]`` sequence goes to the given projection; a step's
    ``[B, K]`` rows, one row, and anything outside the block keep XLA's matmul."""
    from recurrax.cells._base import matmul_t, sequence_projection

    calls = []

    def project(x, weight):
        calls.append(x.shape)
        return jnp.matmul(x, weight.T)

    weight = jnp.arange(12.0).reshape(3, 4)
    sequence, rows, row = jnp.ones((5, 2, 4)), jnp.ones((2, 4)), jnp.ones((1, 4))
    with sequence_projection(project):
        out = matmul_t(sequence, weight)
        matmul_t(rows, weight), matmul_t(row, weight)
    matmul_t(sequence, weight)
    assert calls == [(5, 2, 4)]
    np.testing.assert_allclose(out, np.ones((5, 2, 4)) @ np.arange(12.0).reshape(3, 4).T)
