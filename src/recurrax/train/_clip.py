"""`clip_member`: per-member gradient clipping for ensembles trained as one program.

The optimiser chain (`make_optimizer`) clips the global norm of the whole gradient; for a vmapped ensemble
that would couple the members. `clip_member` instead clips each member's gradient by its own norm inside
its loss (a custom VJP on the identity), as ``optax.clip_by_global_norm`` (Pascanu et al. 2013) clips a
single model's.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp


def clip_member(params: Any, max_norm: float | None, scale: float = 1.0) -> Any:
    """The identity on ``params``, whose gradient ``g`` becomes ``scale * g`` clipped to global norm
    ``max_norm`` (None: not clipped).

    Inside ``vmap`` over members each member's gradient is clipped by its own norm, as
    ``optax.clip_by_global_norm`` clips a single model's."""

    @jax.custom_vjp
    def identity(p):
        return p

    def forward(p):
        return p, None

    def backward(_, grads):
        grads = jax.tree.map(lambda g: g * scale, grads)
        if max_norm is None:
            return (grads,)
        norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads)))
        factor = jnp.minimum(1.0, max_norm / jnp.maximum(norm, 1e-30)).astype(jnp.float32)
        return (jax.tree.map(lambda g: g * factor.astype(g.dtype), grads),)

    identity.defvjp(forward, backward)
    arrays, static = eqx.partition(params, eqx.is_inexact_array)
    return eqx.combine(identity(arrays), static)
