"""The train step: loss, gradient, gradient-health statistics and the optimiser update, jitted once.

A NaN or inf loss or gradient never reaches the parameters: the step computes the update and then keeps
the old parameters, optimiser state and carry with ``jnp.where`` (data, not control flow, so the compiled
program is the same for every step). The loop reads the ``finite`` flag and stops or skips.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array

from ._config import OptimConfig
from ._optim import last_learning_rate, make_optimizer
from ._sharding import Placement

RECURRENT_WEIGHT = "weight_hh"
STAT_NAMES = ("loss", "lr", "grad_norm", "update_norm", "finite")


def leaf_name(path: tuple) -> str:
    """A pytree key path as text without the leading dot: ``rnn.layers[0].cell.weight_hh``."""
    return jax.tree_util.keystr(path).removeprefix(".")


def _last_key(path: tuple) -> Any:
    last = path[-1] if path else None
    return getattr(last, "name", getattr(last, "key", None))


def recurrent_grad_norms(grads: Any) -> dict[str, Array]:
    """``{"grad_norm/<path>": ||g||_2}`` for every gradient leaf whose key path ends in ``weight_hh``."""
    flat = jax.tree_util.tree_flatten_with_path(grads)[0]
    return {
        f"grad_norm/{leaf_name(path)}": optax.tree.norm(g) for path, g in flat if _last_key(path) == RECURRENT_WEIGHT
    }


def _check_carry(new_carry: Any, carry: Any) -> None:
    """The carry that ``loss_fn`` returns must look like the one it was given (else every step recompiles)."""
    new_leaves, new_def = jax.tree.flatten(new_carry)
    old_leaves, old_def = jax.tree.flatten(carry)
    same = new_def == old_def and all(
        n.shape == o.shape and n.dtype == o.dtype for n, o in zip(new_leaves, old_leaves)
    )
    if not same:
        raise ValueError(
            "loss_fn must return a carry with the structure, shapes and dtypes of the carry it was given "
            f"(got {jax.tree.map(jnp.shape, new_carry)} for {jax.tree.map(jnp.shape, carry)}); "
            "for stateful training pass init_carry=... to fit"
        )


class TrainStep:
    """``step(model, opt_state, carry, batch, key) -> (model, opt_state, carry, stats)``, one `eqx.filter_jit`.

    ``loss_fn(model, batch, carry, key) -> (loss, (new_carry, aux))`` with a scalar ``loss`` and a dict
    ``aux`` of scalars. Trained leaves are the inexact arrays of ``model`` (`eqx.is_inexact_array`).
    ``stats`` holds ``loss``, ``lr`` (of this update), ``grad_norm`` (global, before clipping),
    ``update_norm`` (global norm of the update), ``grad_norm/<path>`` for every recurrent weight
    (``weight_hh``), the ``aux`` entries and ``finite`` (False: nothing was updated). The new carry is
    ``stop_gradient``-ed: truncated backpropagation through time.

    ``traces`` counts how often the step was traced, i.e. compiled; it stays 1 when every call has the same
    shapes and dtypes.

    With a `Placement` (several devices) each call first puts the inputs where it says (a no-op for arrays
    already there) and the step keeps its outputs in that layout (`recurrax.train._sharding`).
    """

    def __init__(self, loss_fn: Callable, optimizer: optax.GradientTransformation, placement: Placement | None = None):
        self.loss_fn, self.optimizer, self.placement = loss_fn, optimizer, placement
        self.traces = 0
        self._jitted = eqx.filter_jit(self._train_step)

    def __call__(self, model: Any, opt_state: Any, carry: Any, batch: Any, key: Array):
        if self.placement is not None:
            model, opt_state, carry = self.placement.put_state((model, opt_state, carry))
            batch = self.placement.put_batch(batch)
        return self._jitted(model, opt_state, carry, batch, key)

    def _train_step(self, model: Any, opt_state: Any, carry: Any, batch: Any, key: Array):
        self.traces += 1
        params, static = eqx.partition(model, eqx.is_inexact_array)

        def objective(params):
            loss, (new_carry, aux) = self.loss_fn(eqx.combine(params, static), batch, carry, key)
            if jnp.shape(loss) != ():
                raise ValueError(f"loss_fn must return a scalar loss, got shape {jnp.shape(loss)}")
            return loss, (new_carry, aux)

        (loss, (new_carry, aux)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        _check_carry(new_carry, carry)
        clash = sorted(set(aux) & set(STAT_NAMES))
        if clash:
            raise ValueError(f"loss_fn's aux dict may not use the reserved names {clash}")
        not_scalar = sorted(name for name, value in aux.items() if jnp.shape(value) != ())
        if not_scalar:
            raise ValueError(f"loss_fn's aux dict must hold scalars; {not_scalar} are not")
        finite = jnp.isfinite(loss)
        for g in jax.tree.leaves(grads):
            finite = finite & jnp.all(jnp.isfinite(g))
        updates, new_opt_state = self.optimizer.update(grads, opt_state, params)
        new_params = eqx.apply_updates(params, updates)

        def keep_if_finite(new, old):
            return jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)

        stats = {
            "loss": loss.astype(jnp.float32),
            "lr": last_learning_rate(new_opt_state),
            "grad_norm": optax.tree.norm(grads).astype(jnp.float32),
            "update_norm": optax.tree.norm(updates).astype(jnp.float32),
            **{name: norm.astype(jnp.float32) for name, norm in recurrent_grad_norms(grads).items()},
            **aux,
            "finite": finite,
        }
        state = (keep_if_finite(new_params, params), keep_if_finite(new_opt_state, opt_state),
                 keep_if_finite(jax.lax.stop_gradient(new_carry), carry))  # fmt: skip
        if self.placement is not None:
            state = self.placement.constrain_state(state)
        new_params, new_opt_state, new_carry = state
        return eqx.combine(new_params, static), new_opt_state, new_carry, stats


def shared_train_step(
    loss_fn: Callable, optim: OptimConfig, total_steps: int, placement: Placement | None = None
) -> TrainStep:
    """The `TrainStep` for ``loss_fn``, ``optim`` and ``placement``, shared by every `fit` in this process that
    uses the same loss function, optimiser and devices, so a repeated fit does not compile again.
    ``total_steps`` matters only to the cosine schedule."""
    horizon = total_steps if optim.schedule == "warmup_cosine" else 0
    return _cached_train_step(loss_fn, dataclasses.astuple(optim), horizon, placement)


@functools.lru_cache(maxsize=8)
def _cached_train_step(loss_fn: Callable, optim_fields: tuple, horizon: int, placement: Placement | None) -> TrainStep:
    return TrainStep(loss_fn, make_optimizer(OptimConfig(*optim_fields), horizon), placement)
