"""Dropout for recurrent networks: between layers, on the recurrent input, and zoneout on the carry.

- **Dropout** (Srivastava et al. 2014; between stacked layers as in Zaremba et al. 2014): an independent
  mask per element of the layer's output sequence, scaled by ``1 / (1 - p)``.
- **Variational recurrent dropout** (Gal & Ghahramani 2016): one mask per sequence, ``[B, H]``, shared by all
  time steps, on ``h_{t-1}`` where it enters the recurrent matmul.
- **Zoneout** (Krueger et al. 2016): each unit of the carry keeps its previous value with probability ``p``
  at each step during training; at evaluation the carry is the expectation ``p * old + (1 - p) * new``.

All three are active only when a ``key`` is given (training) and are the identity otherwise, except zoneout,
whose evaluation form is the expectation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array


def check_rate(name: str, rate: float) -> float:
    """A dropout-style probability in ``[0, 1)``."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {rate}")
    return float(rate)


def dropout(x: Array, rate: float, key: Array | None) -> Array:
    """Inverted dropout: zero each element with probability ``rate``, scale the rest by ``1 / (1 - rate)``."""
    if key is None or rate == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


def recurrent_dropout_mask(rate: float, key: Array | None, shape: tuple[int, ...], dtype) -> Array | None:
    """The ``[B, H]`` variational mask (values ``0`` or ``1 / (1 - rate)``), or None when inactive."""
    if key is None or rate == 0.0:
        return None
    keep = jax.random.bernoulli(key, 1.0 - rate, shape)
    return keep.astype(dtype) / jnp.asarray(1.0 - rate, dtype)


def zoneout(old, new, rate: float, key: Array | None):
    """Mix two carries leaf by leaf: random keep-old per unit with a key, the expectation without one.

    Integer leaves (step counters) always take the new value.
    """
    if rate == 0.0:
        return new
    old_leaves, treedef = jax.tree.flatten(old)
    new_leaves = jax.tree.leaves(new)
    keys = [None] * len(new_leaves) if key is None else list(jax.random.split(key, len(new_leaves)))
    mixed = []
    for o, n, k in zip(old_leaves, new_leaves, keys):
        if not jnp.issubdtype(n.dtype, jnp.floating):
            mixed.append(n)
        elif k is None:
            mixed.append(rate * o + (1.0 - rate) * n)
        else:
            mixed.append(jnp.where(jax.random.bernoulli(k, rate, n.shape), o, n))
    return jax.tree.unflatten(treedef, mixed)
