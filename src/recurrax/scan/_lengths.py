"""Padding semantics, in one place.

Sequences in a batch may be shorter than the padded time axis ``T``; ``lengths`` (``[B]`` ints, each in
``[0, T]``) says how many leading steps of each are valid. Padding is always at the end. Then, for every
sequence layer in recurrax:

- **outputs** at steps ``t >= lengths[b]`` are exactly zero;
- the **final carry** is the carry after step ``lengths[b] - 1`` (the initial carry when the length is 0):
  padded steps leave the carry untouched;
- in **reverse** (the backward direction of a bidirectional layer) each sequence is read from its own last
  valid step back to step 0, and its outputs are written back at the original positions, so padding stays
  at the end and outputs line up with the forward direction.

This is what PyTorch gives with ``pack_padded_sequence`` and what flax's ``flip_sequences`` does.
All arrays here are time-major (``[T, B, ...]``), the layout of the scan.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array


def check_lengths(lengths: Array, batch_size: int) -> Array:
    """Validate ``lengths`` (``[B]`` integers) and return it as int32."""
    lengths = jnp.asarray(lengths)
    if lengths.shape != (batch_size,):
        raise ValueError(f"lengths must have shape [B] = ({batch_size},), got {tuple(lengths.shape)}")
    if not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
    return lengths.astype(jnp.int32)


def time_mask(lengths: Array, num_steps: int) -> Array:
    """``[T, B]`` booleans, true where step ``t < lengths[b]``."""
    return jnp.arange(num_steps, dtype=jnp.int32)[:, None] < lengths[None, :]


def valid_mask(lengths: Array, num_steps: int) -> Array:
    """``[B, T]`` booleans, true where step ``t < lengths[b]`` (batch-major, for users of layer outputs)."""
    return jnp.arange(num_steps, dtype=jnp.int32)[None, :] < lengths.astype(jnp.int32)[:, None]


def last_valid(ys: Array, lengths: Array, bidirectional: bool = False) -> Array:
    """The final ``h`` of each direction, read from a layer's batch-major outputs ``ys`` ``[B, T, H]`` ->
    ``[B, H]``: each sequence's output at its last valid step ``lengths[b] - 1`` (step 0 for length 0); when
    ``bidirectional``, the backward half ``ys[..., H/2:]`` at step 0, where the backward direction ends."""
    index = jnp.maximum(lengths.astype(jnp.int32) - 1, 0).reshape(-1, 1, 1)
    last = jnp.take_along_axis(ys, index, axis=1)[:, 0]
    if not bidirectional:
        return last
    half = ys.shape[2] // 2
    return jnp.concatenate([last[:, :half], ys[:, 0, half:]], axis=-1)


def reverse_padded(xs: Array, lengths: Array | None) -> Array:
    """Reverse each sequence of time-major ``xs`` ``[T, B, ...]`` within its own length.

    Step ``t < lengths[b]`` takes step ``lengths[b] - 1 - t``; padded steps stay where they are. It is its
    own inverse, so the same call maps reversed outputs back to the original positions.
    """
    if lengths is None:
        return jnp.flip(xs, axis=0)
    steps = jnp.arange(xs.shape[0], dtype=jnp.int32)[:, None]
    source = jnp.where(steps < lengths[None, :], lengths[None, :] - 1 - steps, steps)
    source = source.reshape(source.shape + (1,) * (xs.ndim - 2))
    return jnp.take_along_axis(xs, source, axis=0)
