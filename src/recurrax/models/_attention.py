"""Attention over the valid steps of padded sequences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array


def masked_softmax(scores: Array, mask: Array) -> Array:
    """Softmax over the last axis counting only ``mask``-ed entries; exactly 0 elsewhere (a row needs one).

    ``scores`` and ``mask`` broadcast together, e.g. ``[B, T]`` with `recurrax.scan.valid_mask`.
    """
    scores = jnp.where(mask, scores, -jnp.inf)
    weights = jnp.exp(scores - jax.lax.stop_gradient(jnp.max(scores, axis=-1, keepdims=True)))
    weights = jnp.where(mask, weights, 0.0)
    return weights / jnp.sum(weights, axis=-1, keepdims=True)
