"""`ClassifierEnsemble`: ``M`` sequence classifiers of one architecture trained together as one program, whose
prediction (``eqx.filter_vmap`` over members) is the mean of the members' class probabilities (Lakshminarayanan
et al. 2017).

Training (`ensemble_classify_loss`) runs every member on its own batch (``[M, B, ...]``; one member after the
other, `recurrax.models.map_members`) and averages the member losses; each member's gradient is scaled back by
``M`` and clipped to its own global norm (`recurrax.train.clip_member`), so with Adam and no dropout member ``m``
follows the path of a single run trained alone on its batches.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...models import map_members, member_at, stack_members
from ...train import clip_member
from ._model import SequenceClassifier


class ClassifierEnsemble(eqx.Module):
    """``logits = ensemble(xs, lengths=None, key=None)``: ``xs`` ``[B, T, D]``, ``logits`` ``[B, C]`` with
    ``softmax(logits) = (1/M) sum_m softmax(member_m(xs))``, i.e. ``logits = log mean_m p_m``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> build = lambda k: SequenceClassifier(3, 4, hidden_size=8, key=k)
        >>> ens = ClassifierEnsemble.create(2, build, key=jax.random.key(0))
        >>> ens(jnp.ones((5, 6, 3))).shape, ens.member_logits(jnp.ones((5, 6, 3))).shape
        ((5, 4), (2, 5, 4))
    """

    members: SequenceClassifier
    size: int = eqx.field(static=True)

    @classmethod
    def create(cls, size: int, build: Callable[[Array], SequenceClassifier], *, key: Array) -> ClassifierEnsemble:
        """``size`` members ``build(k)``, one per key: ``key`` is ``[size]`` keys, or one key split in ``size``."""
        return cls(stack_members(size, build, key=key), size)

    def member(self, index: int) -> SequenceClassifier:
        """Member ``index`` as a plain `SequenceClassifier`."""
        return member_at(self.members, index)

    def member_logits(self, xs: Array, lengths: Array | None = None, key: Array | None = None) -> Array:
        """``[M, B, C]``: every member on the same ``xs`` (member ``m`` with ``split(key, M)[m]``)."""
        keys = None if key is None else jax.random.split(key, self.size)
        return eqx.filter_vmap(
            lambda m, k: m(xs, lengths, key=k), in_axes=(eqx.if_array(0), None if keys is None else 0)
        )(self.members, keys)

    def __call__(self, xs: Array, lengths: Array | None = None, key: Array | None = None) -> Array:
        log_p = jax.nn.log_softmax(self.member_logits(xs, lengths, key), axis=-1)
        return jax.nn.logsumexp(log_p, axis=0) - jnp.log(jnp.asarray(self.size, log_p.dtype))


@functools.cache
def ensemble_classify_loss(member_loss: Callable[..., Any], clip_norm: float | None) -> Callable[..., Any]:
    """`fit`'s ``loss_fn`` for a `ClassifierEnsemble`: ``batch`` arrays ``[M, B, ...]`` (one batch per member),
    ``member_loss(member, rows, carry, key)`` per member with ``split(key, M)[m]``; the mean member loss,
    and aux ``accuracy`` the mean member batch accuracy. Each member's gradient is clipped at ``clip_norm``."""

    def loss_fn(ensemble: ClassifierEnsemble, batch: dict[str, Array], carry: Any, key: Array | None):
        keys = None if key is None else jax.random.split(key, ensemble.size)

        def one(member: SequenceClassifier, rows: dict[str, Array], k: Array | None):
            loss, (_, aux) = member_loss(clip_member(member, clip_norm, float(ensemble.size)), rows, None, k)
            return loss, aux["accuracy"]

        losses, accuracies = map_members(one, ensemble.size, ensemble.members, batch, keys)
        return jnp.mean(losses), (carry, {"accuracy": jnp.mean(accuracies)})

    return loss_fn
