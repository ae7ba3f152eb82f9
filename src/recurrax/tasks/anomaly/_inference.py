"""`forecaster_scores` and `forecaster_step`: the inference of the forecasting scorers (``kind`` ``prediction``
or ``nll``) from raw values, which `score_series` and the exported model (``score``, ``score_step``) run.

With ``z = (x - loc) / scale`` (the training scaler), the score of point ``t`` is the error (`NextStep.errors`)
of the forecast of ``z_t`` made after ``z_0 .. z_{t-1}``, from the zero state; NaN during the warm-up
``t < window`` and past each series' length. `forecaster_step` gives the same scores one point at a time.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._models import NextStep


@eqx.filter_jit
def forecaster_scores(
    model: NextStep, loc: jax.Array, scale: jax.Array, values: jax.Array, lengths: jax.Array, window: int
) -> jax.Array:
    """``scores`` ``[B, T]`` of raw ``values`` ``[B, T, D]`` with ``lengths`` ``[B]`` (module docstring)."""
    steps = values.shape[1]
    z = (values - loc.reshape(1, 1, -1)) / scale.reshape(1, 1, -1)
    out, _ = model(z)  # out[:, t] forecasts z[:, t + 1]
    errors = model.errors(jnp.roll(out, 1, axis=1), z)  # errors[:, t] of the forecast of z[:, t] (t >= 1)
    t = jnp.arange(steps).reshape(1, -1)
    return jnp.where((t >= window) & (t < lengths.reshape(-1, 1)), errors, jnp.nan)


def forecaster_step(
    model: NextStep, loc: jax.Array, scale: jax.Array, carry: tuple[Any, jax.Array, jax.Array], x: jax.Array,
    window: int,
) -> tuple[tuple[Any, jax.Array, jax.Array], jax.Array]:  # fmt: skip
    """One raw point per stream, ``x`` ``[B, D]``: ``carry = (state [L, B, ...], pending [B, P * D], seen [B])``
    (the stack's state, the forecast of this point, the points seen before it) -> the new carry and the point's
    score ``[B]`` (NaN while ``seen < window``)."""
    state, pending, seen = carry
    z = (x - loc.reshape(1, -1)) / scale.reshape(1, -1)
    error = model.errors(pending, z)
    out, state = model.step(z, state)
    return (state, out, seen + 1), jnp.where(seen < window, jnp.nan, error)
