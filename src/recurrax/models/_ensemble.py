"""Ensembles of one architecture as one model: member weights stacked on a leading axis ``[M, ...]``.

``stack_members(M, build, key=key)`` builds ``M`` members with ``eqx.filter_vmap`` over ``M`` keys, so they
train and predict as one program (``vmap`` over the member axis); their static fields are shared.
`member_at` takes one member out as a plain model. Used by `recurrax.tasks.forecast.ForecastEnsemble` and
`recurrax.tasks.classify.ClassifierEnsemble`.

    >>> import jax, jax.numpy as jnp
    >>> from recurrax.models import LSTM
    >>> members = stack_members(3, lambda k: LSTM(2, 4, key=k), key=jax.random.key(0))
    >>> members.layers[0].cell.weight_hh.shape, member_at(members, 1).layers[0].cell.weight_hh.shape
    ((3, 16, 4), (16, 4))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import equinox as eqx
import jax
from jaxtyping import Array

Model = TypeVar("Model")


def stack_members(size: int, build: Callable[[Array], Model], *, key: Array) -> Model:
    """``size`` members ``build(k)``, one per key, stacked: ``key`` is ``[size]`` keys, or one key split in
    ``size``."""
    if size < 2:
        raise ValueError(f"an ensemble needs at least 2 members, got {size}")
    keys = jax.random.split(key, size) if key.shape == () else key
    if keys.shape != (size,):
        raise ValueError(f"expected one key or {size} keys, got keys of shape {keys.shape}")
    return eqx.filter_vmap(build)(keys)


def member_at(members: Model, index: int) -> Model:
    """Member ``index`` of stacked ``members`` as a plain model (every array leaf indexed on its first axis)."""
    arrays, static = eqx.partition(members, eqx.is_array)
    return eqx.combine(jax.tree.map(lambda a: a[index], arrays), static)
