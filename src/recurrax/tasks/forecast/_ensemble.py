"""`ForecastEnsemble`: ``M`` forecasters of one architecture trained together as one program.

The members are one `Forecaster` whose array leaves carry a leading member axis ``[M, ...]`` (built with
``eqx.filter_vmap`` over ``M`` model keys); its static fields (kind, horizon, head) are shared. Training
(`ensemble_loss`) runs every member on its own batch (``[M, B, ...]``; one member after the other,
`recurrax.models.map_members`) and averages the member losses,
each member's gradient scaled back by ``M`` (so it is its own loss's gradient) and clipped to its own global
norm (`clip_member`): with an element-wise optimiser (Adam,
SGD, RMSprop) the stacked optimiser state is then exactly one state per member, so member ``m`` follows the
same path as a single model trained alone on its batches. The ensemble forecast is the median over members
of their point forecasts and, for intervals, of their quantiles (Lakshminarayanan et al. 2017 combine
members, N-BEATS, Oreshkin et al. 2020, takes the median of its ensemble).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...models import map_members, member_at, stack_members
from ...train import clip_member
from ._model import Forecaster


class ForecastEnsemble(eqx.Module):
    """``raw = ensemble(inputs, lengths, key=None)``: ``inputs`` ``[B, L]`` (or ``[M, B, L]``, one batch per
    member), ``lengths`` ``[B]`` (or ``[M, B]``), ``raw`` ``[M, B, H, P]`` (each member's head outputs).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> ens = ForecastEnsemble.create(3, lambda k: Forecaster(2, 4, key=k), key=jax.random.key(0))
        >>> ens(jnp.ones((5, 6)), jnp.full((5,), 6)).shape
        (3, 5, 2, 1)
    """

    members: Forecaster
    size: int = eqx.field(static=True)

    @classmethod
    def create(cls, size: int, build: Callable[[Array], Forecaster], *, key: Array) -> ForecastEnsemble:
        """``size`` members ``build(k)``, one per key of ``key``: ``[size]`` keys, or one key split in ``size``."""
        return cls(stack_members(size, build, key=key), size)

    @property
    def kind(self) -> str:
        return self.members.kind

    @property
    def horizon(self) -> int:
        return self.members.horizon

    @property
    def head(self) -> str:
        return self.members.head

    @property
    def quantiles(self) -> tuple[float, ...]:
        return self.members.quantiles

    @property
    def num_params(self) -> int:
        return self.members.num_params

    def member(self, index: int) -> Forecaster:
        """Member ``index`` as a plain `Forecaster`."""
        return member_at(self.members, index)

    def __call__(self, inputs: Array, lengths: Array, key: Array | None = None, *, past: Array | None = None,
                 future: Array | None = None) -> Array:  # fmt: skip
        """``past`` ``[B, L, K]`` / ``future`` ``[B, H, K]`` (or ``[M, ...]`` with per-member inputs): covariates."""
        axis = 0 if inputs.ndim == 3 else None

        def run(member, x, n, p, f):
            return member(x, n, past=p, future=f)

        axes = (eqx.if_array(0), axis, axis, None if past is None else axis, None if future is None else axis)
        return eqx.filter_vmap(run, in_axes=axes)(self.members, inputs, lengths, past, future)


def ensemble_loss(
    member_loss: Callable[[Forecaster, dict[str, Any], Array | None], Array],
    ensemble: ForecastEnsemble,
    batch: dict[str, Any],
    key: Array | None,
    clip_norm: float | None,
) -> tuple[Array, Array]:
    """The mean of the members' losses on their batches (``batch`` arrays ``[M, B, ...]``) and the losses
    ``[M]``; member ``m`` gets ``split(key, M)[m]``, and the gradient of its own loss clipped by `clip_member`."""
    keys = None if key is None else jax.random.split(key, ensemble.size)

    def one(member: Forecaster, rows: dict[str, Any], k: Array | None) -> Array:
        return member_loss(clip_member(member, clip_norm, float(ensemble.size)), rows, k)

    losses = map_members(one, ensemble.size, ensemble.members, batch, keys)
    return jnp.mean(losses), losses
