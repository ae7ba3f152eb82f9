"""Compilation does not grow with sequence length: the time loop is one `while` in the program, not unrolled.

Compile *times* are measured in benchmarks/lstm_speed.py; here the check is structural and exact: the
lowered program for T = 10 and for T = 10,000 has the same operations, only the time dimension differs.
"""

from __future__ import annotations

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import recurrax as rx


def _lowered_ops(model, steps: int) -> list[str]:
    xs = jnp.ones((2, steps, 3), jnp.float32)
    lengths = jnp.array([steps, steps // 2])

    def loss(model, xs):
        ys, _ = model(xs, lengths)
        return jnp.sum(ys)

    params, static = eqx.partition(model, eqx.is_array)
    grad = jax.jit(lambda params, xs: eqx.filter_value_and_grad(loss)(eqx.combine(params, static), xs))
    text = grad.lower(params, xs).as_text()
    return [m.group(1) for m in re.finditer(r"=\s*\"?([a-z_]+\.[a-z_]+)", text)]


@pytest.mark.parametrize("cell", ["lstm", "gru", "vanilla", "clockwork"])
def test_program_size_is_independent_of_sequence_length(cell, key):
    model = rx.RNNStack(3, 8, num_layers=2, bidirectional=cell != "clockwork", cell=cell, key=key)
    short, long = _lowered_ops(model, 10), _lowered_ops(model, 10_000)
    assert short == long
    assert "stablehlo.while" in short
