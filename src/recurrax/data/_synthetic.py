"""Synthetic long-range-dependency problems."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array


def adding_problem(key: Array, batch_size: int, length: int) -> tuple[Array, Array]:
    """The adding problem (Hochreiter & Schmidhuber 1997, experiment 4; the form of Le et al. 2015).

    Each sequence has two channels: values ``U(0, 1)`` and a marker that is 1 at exactly two steps, one in the
    first half and one in the second half. The target is the sum of the two marked values. Always predicting
    the mean 1.0 scores an MSE of ``Var(U1 + U2) = 1/6 ≈ 0.167``; solving it needs memory over ``length``
    steps.

    Returns ``xs`` ``[B, length, 2]`` (float32) and ``targets`` ``[B]``.

    Example:
        >>> import jax, recurrax as rx
        >>> xs, ys = rx.data.adding_problem(jax.random.key(0), 4, 10)
        >>> xs.shape, ys.shape, int(xs[..., 1].sum())
        ((4, 10, 2), (4,), 8)
    """
    if length < 2:
        raise ValueError(f"the adding problem needs length >= 2, got {length}")
    k_values, k_first, k_second = jax.random.split(key, 3)
    values = jax.random.uniform(k_values, (batch_size, length), jnp.float32)
    half = length // 2
    first = jax.random.randint(k_first, (batch_size,), 0, half)
    second = jax.random.randint(k_second, (batch_size,), half, length)
    steps = jnp.arange(length)[None, :]
    markers = ((steps == first[:, None]) | (steps == second[:, None])).astype(jnp.float32)
    targets = jnp.sum(values * markers, axis=1)
    return jnp.stack([values, markers], axis=-1), targets
