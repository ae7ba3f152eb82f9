"""The optimiser, built in one place: an optax chain with global-norm clipping first, then the update rule,
then the learning rate of the schedule (which the plateau schedule can lower between steps)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array

from ._config import OptimConfig

RMSPROP_DECAY = 0.9


class LearningRateState(NamedTuple):
    """State of the last link of the chain: updates applied, the plateau multiplier and the last lr used."""

    count: Array  # int32 []: updates applied so far (the schedule's step)
    scale: Array  # float32 []: multiplier set by the plateau schedule, 1.0 otherwise
    lr: Array  # float32 []: the learning rate of the last update


def make_schedule(cfg: OptimConfig, total_steps: int) -> optax.Schedule:
    """The learning rate as a function of the update count ``s`` (0 for the first update).

    With ``W = warmup_steps`` (linear warmup ``lr * s / W`` for ``s < W``), ``u = s - W`` after it:

    - ``constant`` and ``plateau``: ``lr`` (the plateau reductions multiply it separately);
    - ``warmup_cosine``: ``lr * (r + (1 - r) * (1 + cos(pi * min(u, D) / D)) / 2)`` with
      ``D = max(total_steps - W, 1)`` and ``r = min_lr_ratio`` (Loshchilov & Hutter 2017, no restarts);
    - ``step``: ``lr * decay_factor ** floor(u / decay_every)`` (Zaremba et al. 2014).
    """
    lr = cfg.lr
    if cfg.schedule == "warmup_cosine":
        decay_steps = max(total_steps - cfg.warmup_steps, 1)
        base = optax.cosine_decay_schedule(lr, decay_steps=decay_steps, alpha=cfg.min_lr_ratio)
    elif cfg.schedule == "step":
        base = optax.exponential_decay(lr, cfg.decay_every, cfg.decay_factor, staircase=True)
    else:
        base = optax.constant_schedule(lr)
    if cfg.warmup_steps == 0:
        return base
    warmup = optax.linear_schedule(0.0, lr, cfg.warmup_steps)
    return optax.join_schedules([warmup, base], [cfg.warmup_steps])


def make_optimizer(cfg: OptimConfig, total_steps: int) -> optax.GradientTransformation:
    """The optax chain of ``cfg``: ``clip_by_global_norm(clip_norm)`` first (Pascanu et al. 2013; left out
    when ``clip_norm`` is None), then the update rule, then ``-lr(s)`` of `make_schedule`.

    - adam: ``[L2 weight decay] -> scale_by_adam`` (Kingma & Ba 2015);
    - adamw: ``scale_by_adam -> decoupled weight decay`` (Loshchilov & Hutter 2019), as ``optax.adamw``;
    - sgd: ``[L2 weight decay] -> heavy-ball momentum``, as ``optax.sgd`` / torch's ``SGD``;
    - rmsprop: ``[L2 weight decay] -> scale_by_rms(decay=0.9) -> momentum``, the momentum buffer taken before
      the learning rate as in torch's ``RMSprop``.

    Weight decay applies to every trained leaf. The chain runs under standard dtype promotion (optax's Adam
    needs it), also inside programs that use strict promotion. The last link's state (`LearningRateState`) records the
    learning rate of each update (`last_learning_rate`) and holds the plateau multiplier
    (`scale_learning_rate`), so a plateau reduction changes data, never the compiled step.

    Example:
        >>> import jax.numpy as jnp
        >>> opt = make_optimizer(OptimConfig(name="sgd", lr=0.1, momentum=0.0, clip_norm=1.0), total_steps=10)
        >>> updates, _ = opt.update({"w": jnp.array([30.0, 40.0])}, opt.init({"w": jnp.zeros(2)}))
        >>> [round(u, 6) for u in updates["w"].tolist()]  # the gradient clipped to norm 1, times -lr
        [-0.06, -0.08]
    """
    links = [] if cfg.clip_norm is None else [optax.clip_by_global_norm(cfg.clip_norm)]
    decay = [optax.add_decayed_weights(cfg.weight_decay)] if cfg.weight_decay else []
    momentum = [optax.trace(decay=cfg.momentum)] if cfg.momentum else []
    if cfg.name == "adam":
        links += decay + [optax.scale_by_adam()]
    elif cfg.name == "adamw":
        links += [optax.scale_by_adam()] + decay
    elif cfg.name == "sgd":
        links += decay + momentum
    elif cfg.name == "rmsprop":
        links += decay + [optax.scale_by_rms(decay=RMSPROP_DECAY)] + momentum
    else:
        raise ValueError(f"unknown optimizer {cfg.name!r}; expected adam, adamw, sgd or rmsprop")
    links.append(_scale_by_learning_rate(make_schedule(cfg, total_steps)))
    return with_standard_promotion(optax.chain(*links))


def with_standard_promotion(transform: optax.GradientTransformation) -> optax.GradientTransformation:
    """``transform`` run under JAX's standard dtype promotion: optax's Adam bias correction raises a float to
    an int32 power, which ``jax_numpy_dtype_promotion="strict"`` rejects; this keeps the chain usable there."""

    def init(params: Any) -> Any:
        with jax.numpy_dtype_promotion("standard"):
            return transform.init(params)

    def update(updates: Any, state: Any, params: Any = None):
        with jax.numpy_dtype_promotion("standard"):
            return transform.update(updates, state, params)

    return optax.GradientTransformation(init, update)


def _scale_by_learning_rate(schedule: optax.Schedule) -> optax.GradientTransformation:
    """``u -> -lr(s) * scale * u``, keeping ``s``, the plateau ``scale`` and the ``lr`` used in the state."""

    def init(params: Any) -> LearningRateState:
        del params
        return LearningRateState(jnp.zeros([], jnp.int32), jnp.ones([], jnp.float32), jnp.zeros([], jnp.float32))

    def update(updates: Any, state: LearningRateState, params: Any = None):
        del params
        lr = jnp.asarray(schedule(state.count), jnp.float32) * state.scale
        updates = jax.tree.map(lambda u: (-lr).astype(u.dtype) * u, updates)
        return updates, LearningRateState(optax.safe_increment(state.count), state.scale, lr)

    return optax.GradientTransformation(init, update)


def _is_lr_state(node: Any) -> bool:
    return isinstance(node, LearningRateState)


def last_learning_rate(opt_state: Any) -> Array:
    """The learning rate applied by the last update of a `make_optimizer` state (0 before the first)."""
    states = [s for s in jax.tree.leaves(opt_state, is_leaf=_is_lr_state) if _is_lr_state(s)]
    if len(states) != 1:
        raise ValueError("expected the state of an optimizer built by recurrax.train.make_optimizer")
    return states[0].lr


def scale_learning_rate(opt_state: Any, factor: float) -> Any:
    """``opt_state`` with the learning rate of all later updates multiplied by ``factor`` (plateau schedule).

    Only data changes (same shapes and dtypes), so a jitted train step is not recompiled.
    """

    def scale(node: Any) -> Any:
        if _is_lr_state(node):
            return node._replace(scale=node.scale * jnp.float32(factor))
        return node

    return jax.tree.map(scale, opt_state, is_leaf=_is_lr_state)


@dataclass
class Plateau:
    """Reduce-on-plateau bookkeeping (as torch's ``ReduceLROnPlateau``, mode ``min``, no threshold).

    `observe` takes each validation loss and says when to multiply the learning rate by ``factor``: after
    ``patience`` evaluations in a row without a loss below the best so far; the count restarts after each
    reduction. A NaN loss is never an improvement.
    """

    patience: int
    factor: float
    best: float = math.inf
    bad: int = 0

    def observe(self, loss: float) -> bool:
        """Record one validation loss; True when the learning rate should be reduced now."""
        if loss < self.best:
            self.best, self.bad = loss, 0
            return False
        self.bad += 1
        if self.bad >= self.patience:
            self.bad = 0
            return True
        return False
