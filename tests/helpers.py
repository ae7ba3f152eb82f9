"""Shared test helpers: random parameters, and the independent oracles a sequence layer is checked against."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def randomize(module, key, scale: float = 0.5):
    """Every floating-point parameter replaced by ``U(-scale, scale)``, so no zero-initialised weight
    (peepholes, gate recurrence, biases) hides an untested code path."""
    params, static = eqx.partition(module, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    leaves = [jax.random.uniform(k, leaf.shape, leaf.dtype, -scale, scale) for k, leaf in zip(keys, leaves)]
    return eqx.combine(jax.tree.unflatten(treedef, leaves), static)


def to_numpy(tree):
    """A pytree of arrays as float64 NumPy arrays (integer leaves keep their dtype)."""
    def convert(leaf):
        leaf = np.asarray(leaf)
        return leaf.astype(np.float64) if np.issubdtype(leaf.dtype, np.floating) else leaf
    return jax.tree.map(convert, tree)


def run_each_alone(step: Callable, init_carry: Callable, xs: np.ndarray, lengths, reverse: bool):
    """The padding-semantics oracle: run every sequence by itself over its own valid steps.

    ``step(carry, x_t) -> (carry, y_t)`` works on a batch of one; ``init_carry()`` gives its zero carry.
    Outputs are written at the original positions (reversed runs read from the sequence's own end), zero past
    the length; the final carry is the carry after the last step that was read.
    Returns ``(ys [B, T, H], [final carry per sequence])``.
    """
    batch, steps = xs.shape[:2]
    lengths = [steps] * batch if lengths is None else [int(n) for n in lengths]
    outputs, finals = None, []
    for b in range(batch):
        carry = init_carry()
        order = range(lengths[b] - 1, -1, -1) if reverse else range(lengths[b])
        for t in order:
            carry, y = step(carry, xs[b : b + 1, t])
            y = np.asarray(y)
            if outputs is None:
                outputs = np.zeros((batch, steps, y.shape[-1]), y.dtype)
            outputs[b, t] = y[0]
        finals.append(carry)
    return outputs, finals


def batch_row(carry, b: int):
    """Row ``b`` of every leaf of a batched carry, kept as a batch of one."""
    return jax.tree.map(lambda leaf: np.asarray(leaf)[b : b + 1], carry)


def assert_trees_close(actual, expected, rtol: float = 1e-4, atol: float = 1e-5, what: str = ""):
    """``np.testing.assert_allclose`` leaf by leaf, with the leaf path in the message."""
    flat_actual, _ = jax.tree.flatten_with_path(actual)
    flat_expected = jax.tree.leaves(expected)
    assert len(flat_actual) == len(flat_expected), f"{what}: pytree structures differ"
    for (path, a), e in zip(flat_actual, flat_expected):
        np.testing.assert_allclose(
            np.asarray(a, np.float64), np.asarray(e, np.float64), rtol=rtol, atol=atol,
            err_msg=f"{what} at {jax.tree_util.keystr(path)}",
        )


def random_lengths(key, batch: int, steps: int) -> jnp.ndarray:
    """Lengths in ``[0, T]`` that include a full-length and (for B >= 3) an empty sequence."""
    lengths = jax.random.randint(key, (batch,), 1, steps + 1)
    lengths = lengths.at[0].set(steps)
    if batch >= 3:
        lengths = lengths.at[1].set(0)
    return lengths
