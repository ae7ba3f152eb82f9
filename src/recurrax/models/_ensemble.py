"""Ensembles of one architecture as one model: member weights stacked on a leading axis ``[M, ...]``.

``stack_members(M, build, key=key)`` builds ``M`` members with ``eqx.filter_vmap`` over ``M`` keys, so they
train and predict as one program; their static fields are shared. `member_at` takes one member out as a plain
model; `map_members` runs a function on every member, one after the other (the ensembles' training losses: see
its docstring for why not ``vmap``; predictions still ``vmap``). Used by `recurrax.tasks.forecast.ForecastEnsemble`
and `recurrax.tasks.classify.ClassifierEnsemble`.

    >>> import jax, jax.numpy as jnp
    >>> from recurrax.models import LSTM
    >>> members = stack_members(3, lambda k: LSTM(2, 4, key=k), key=jax.random.key(0))
    >>> members.layers[0].cell.weight_hh.shape, member_at(members, 1).layers[0].cell.weight_hh.shape
    ((3, 16, 4), (16, 4))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
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


def map_members(fn: Callable[..., Any], size: int, members: Model, *per_member: Any, shared: tuple = ()) -> Any:
    """``fn(member_m, *per_member_m, *shared)`` for ``m < size``, every output leaf stacked on a new first axis:
    what ``eqx.filter_vmap(fn)`` over the member axis computes, traced once per member instead.

    ``members`` and each of ``per_member`` (pytrees, or None) are indexed ``[m]`` on their first axis;
    ``shared`` goes to every call as it is. Why not ``vmap``: the LSTM kernels are foreign calls that run one
    member at a time under ``vmap`` anyway, and ``vmap`` stacks what each saves for the backward pass (oneDNN's
    workspace, the gates) into ``[M, ...]`` buffers: copied in after the forward pass and out again before the
    backward. A 3-member LSTM-FCN classifier's gradient (B32 T150, bidirectional H64; 2-core Xeon, inline
    dispatch, `benchmarks/dispatch_training.py`): 96-104 ms under ``vmap``, 58-75 ms member by member, 20-24 ms
    for one member.
    """
    outputs = [
        fn(member_at(members, m), *(None if a is None else jax.tree.map(lambda x: x[m], a) for a in per_member),
           *shared)
        for m in range(size)
    ]  # fmt: skip
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *outputs)
