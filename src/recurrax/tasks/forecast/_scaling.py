"""Window scaling: each window divided by statistics of its own valid input (``scale_scope = "window"``).

`window_stats` and `last_values` are JAX functions: forecasting (`forecast_outputs`, which the library's
`predict` and the exported model both run) and training's `scaled_windows` share them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def window_stats(values: jax.Array, count: jax.Array, method: str) -> tuple[jax.Array, jax.Array]:
    """``loc``, ``scale`` ``[B]`` of each row's first ``count`` values, as `Scaler.fit` ``method`` (a zero
    scale becomes 1; ``robust`` uses NumPy's linear-interpolation percentiles)."""
    valid = jnp.arange(values.shape[1]).reshape(1, -1) < count.reshape(-1, 1)
    n = count.astype(values.dtype)
    zeros = jnp.zeros_like(n)
    if method == "none":
        return zeros, jnp.ones_like(n)
    if method == "meanabs":
        loc, scale = zeros, jnp.sum(jnp.where(valid, jnp.abs(values), 0.0), axis=1) / n
    elif method == "last":
        loc, scale = zeros, jnp.abs(jnp.take_along_axis(values, (count - 1).reshape(-1, 1), axis=1)[:, 0])
    elif method == "standard":
        loc = jnp.sum(jnp.where(valid, values, 0.0), axis=1) / n
        scale = jnp.sqrt(jnp.sum(jnp.where(valid, (values - loc[:, None]) ** 2, 0.0), axis=1) / n)
    elif method == "robust":
        ordered = jnp.sort(jnp.where(valid, values, jnp.inf), axis=1)

        def percentile(p: float) -> jax.Array:
            position = p * (n - 1)
            lo = jnp.floor(position)
            hi = jnp.minimum(lo + 1, n - 1)
            at_lo = jnp.take_along_axis(ordered, lo.astype(jnp.int32)[:, None], axis=1)[:, 0]
            at_hi = jnp.take_along_axis(ordered, hi.astype(jnp.int32)[:, None], axis=1)[:, 0]
            return at_lo + (position - lo) * (at_hi - at_lo)

        loc, scale = percentile(0.5), percentile(0.75) - percentile(0.25)
    else:
        raise ValueError(f"unknown scaler {method!r}; expected standard, robust, meanabs, last or none")
    return loc, jnp.where(scale > 0, scale, 1.0)


def last_values(history: jax.Array, lengths: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
    """The last ``min(n, size)`` of each row's ``n = lengths`` steps of ``history`` ``[B, T, ...]`` left-aligned
    in ``[B, size, ...]`` (zeros after), and their counts ``[B]`` (`last_inputs` for
    padded rows; a trailing axis, e.g. ``K`` covariates, is carried along)."""
    count = jnp.minimum(lengths, size)
    batch, trailing = history.shape[0], history.shape[2:]
    ones = (1,) * len(trailing)
    index = (lengths - count).reshape(-1, 1, *ones) + jnp.arange(size).reshape(1, -1, *ones)
    padded = jnp.concatenate([history, jnp.zeros((batch, size, *trailing), history.dtype)], axis=1)
    values = jnp.take_along_axis(padded, jnp.broadcast_to(index, (batch, size, *trailing)), axis=1)
    valid = jnp.arange(size).reshape(1, -1, *ones) < count.reshape(-1, 1, *ones)
    return jnp.where(valid, values, 0.0), count


def scale_rows(values: np.ndarray, lengths: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(values - loc) / scale`` per row; entries at or after ``lengths`` stay 0 (padding)."""
    shape = (-1,) + (1,) * (values.ndim - 1)
    scaled = (values - loc.reshape(shape)) / scale.reshape(shape)
    valid = np.arange(values.shape[1]).reshape(1, -1) < lengths.reshape(-1, 1)
    return np.where(valid, scaled, 0.0)
