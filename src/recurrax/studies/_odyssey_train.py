"""Training many trials of one variant at once: hidden sizes padded to the group's largest, exactly.

A trial (`Trial`) is one hyperparameter setting and seed. `train_trials` trains a group of trials of the same
cell variant as one ``vmap`` ped program. Their hidden sizes differ, so each trial's model is built at its own
size ``H`` (the same initial weights as alone) and **padded** to the group's ``H_max``: every axis of ``k * H``
entries (the fused gate blocks, the peepholes, FGR's ``R``, the read-out's columns) becomes ``k`` blocks of
``H_max`` with zeros after the first ``H``. A 0/1 mask of the same shapes multiplies the parameters in the
forward pass, so the padded units stay at ``h = c = 0``, feed nothing (FGR's gate recurrence included: its
padded gate activations ``σ(0)`` meet masked weights) and get zero gradients, hence zero Adam updates. A
padded trial computes what it would alone, to float rounding (tested).

The model is a one-layer `recurrax.RNNStack` of the variant (``cell=`` its registry name) and a linear
read-out. The optimiser is the chain of `recurrax.train.make_optimizer`'s Adam (global-norm clip 1, Adam,
``-lr``), built here with per-trial ``lr`` and ``b1`` as traced values so trials with different settings share
the program. Input noise ``x + σ ε`` (``ε ~ N(0, 1)``) is added to training inputs only.

Every ``steps`` updates the valid metric is computed; each trial keeps its best-valid parameters (early
stopping on valid, as Greff et al.); `train_trials` returns the best valid metric per trial and, on request,
the test metric of those parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array

import recurrax as rx
from recurrax.train import with_standard_promotion

from ._odyssey_tasks import OdysseyTask


@dataclass(frozen=True)
class Trial:
    """One setting: hidden units, Adam learning rate and ``beta1`` (the paper's momentum), input-noise ``σ``,
    and the seed of initialisation, training windows and noise."""

    hidden: int
    lr: float
    beta1: float
    noise: float
    seed: int


@dataclass(frozen=True)
class Schedule:
    """Training of every trial: ``rounds`` evaluations on valid, ``steps`` Adam updates before each, of
    ``batch`` windows of ``window`` steps; eval sets scored in chunks of ``eval_batch`` sequences."""

    rounds: int
    steps: int
    batch: int
    window: int
    eval_batch: int = 16


class OdysseyModel(eqx.Module):
    """``[B, T, D] -> [B, T, O]``: a one-layer `recurrax.RNNStack` of ``variant`` and a linear read-out."""

    rnn: rx.RNNStack
    head: eqx.nn.Linear

    def __init__(self, variant: str, input_size: int, hidden: int, output_size: int, *, key: Array):
        k_rnn, k_head = jax.random.split(key)
        self.rnn = rx.RNNStack(input_size, hidden, cell=variant, key=k_rnn)
        self.head = eqx.nn.Linear(hidden, output_size, key=k_head)

    def __call__(self, xs: Array) -> Array:
        ys, _ = self.rnn(xs)
        return ys @ self.head.weight.T + self.head.bias.reshape(1, 1, -1)


def pad_leaf(x, shape: tuple[int, ...], hidden: int, hidden_max: int, xp=jnp):
    """``x`` padded with zeros to ``shape``: each axis of ``k * hidden`` entries becomes ``k`` blocks of
    ``hidden_max`` (``xp``: ``jnp``, or ``np`` for host arrays)."""
    for axis, (n, m) in enumerate(zip(x.shape, shape)):
        if n == m:
            continue
        k = n // hidden
        if k * hidden != n or k * hidden_max != m:
            raise ValueError(f"cannot pad axis {axis} of {x.shape} to {shape} (hidden {hidden} -> {hidden_max})")
        x = xp.moveaxis(x, axis, 0)
        rest = x.shape[1:]
        x = x.reshape(k, hidden, *rest)
        x = xp.concatenate([x, xp.zeros((k, hidden_max - hidden, *rest), x.dtype)], axis=1)
        x = xp.moveaxis(x.reshape(k * hidden_max, *rest), 0, axis)
    return x


def init_group(task: OdysseyTask, variant: str, trials: list[Trial]) -> tuple[Any, Any, Any, Any]:
    """``(params, opt_state, masks, static)``: every trial's model initialised at its own size from its seed,
    padded to the largest and stacked on a leading trial axis, and its fresh Adam state (one compiled program
    for the group)."""
    hidden_max = max(t.hidden for t in trials)
    big, static = eqx.partition(
        eqx.filter_eval_shape(OdysseyModel, variant, task.input_size, hidden_max, task.output_size,
                              key=jax.random.key(0)),
        lambda x: isinstance(x, jax.ShapeDtypeStruct) and jnp.issubdtype(x.dtype, jnp.inexact),
    )  # fmt: skip
    big_leaves, treedef = jax.tree.flatten(big)

    def small(t: Trial, key: Array):
        model = OdysseyModel(variant, task.input_size, t.hidden, task.output_size, key=key)
        return jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))

    def build(seeds):
        keys = [jax.random.key(seeds[k]) for k in range(len(trials))]
        padded = [
            [pad_leaf(x, b.shape, t.hidden, hidden_max) for x, b in zip(small(t, k), big_leaves)]
            for t, k in zip(trials, keys)
        ]
        params = treedef.unflatten([jnp.stack(column) for column in zip(*padded)])
        return params, jax.vmap(_adam(0.0, 0.0).init)(params)  # Adam's state does not depend on lr, b1

    params, opt_state = jax.jit(build)(np.array([t.seed for t in trials], np.uint32))
    masks = []
    for t in trials:
        shapes = jax.eval_shape(lambda k, t=t: small(t, k), jax.random.key(0))
        masks.append([pad_leaf(np.ones(x.shape, np.float32), b.shape, t.hidden, hidden_max, np)
                      for x, b in zip(shapes, big_leaves)])  # fmt: skip
    masks = treedef.unflatten([jnp.asarray(np.stack(column)) for column in zip(*masks)])
    return params, opt_state, masks, static


def _adam(lr: Array, beta1: Array) -> optax.GradientTransformation:
    """Clip to global norm 1, Adam with ``b1 = beta1``, times ``-lr`` (under standard dtype promotion, as
    `recurrax.train.make_optimizer`'s chain)."""
    chain = optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam(b1=beta1), optax.scale(-lr))
    return with_standard_promotion(chain)


def _evaluate(task: OdysseyTask, model, arrays: dict[str, Array], split: str, chunk: int) -> Array:
    """The metric of ``model`` on ``split``: summed nats over scored steps / steps, times ``task.scale``."""
    data = [arrays[f"{split}_{part}"] for part in ("xs", "ys", "mask")]
    pad = -data[0].shape[0] % chunk

    def grow(a):
        return jnp.concatenate([a, jnp.zeros((pad, *a.shape[1:]), a.dtype)]).reshape(-1, chunk, *a.shape[1:])

    xs, ys, mask = map(grow, data)
    sums = jax.lax.map(lambda b: jnp.sum(task.losses(model(b[0]), b[1]) * b[2]), (xs, ys, mask))
    return jnp.sum(sums) / jnp.sum(mask) * task.scale


def train_trials(
    task: OdysseyTask, variant: str, trials: list[Trial], schedule: Schedule, test: bool = False
) -> list[dict]:
    """Train ``trials`` (one variant) as one program; per trial ``{"valid", "best_round"}`` (+ ``"test"``).

    A trial whose valid metric is never finite gets ``valid = nan`` (and ``best_round = -1``)."""
    params, opt_state, masks, static = init_group(task, variant, trials)
    lr, beta1, noise = (np.array([getattr(t, k) for t in trials], np.float32) for k in ("lr", "beta1", "noise"))
    keys = np.array([[t.seed, 1] for t in trials], np.uint32)  # the training stream of each trial's seed

    def model(p, m):
        return eqx.combine(jax.tree.map(lambda a, b: a * b, p, m), static)

    def train_round(p, opt_state, best, best_valid, best_test, key, m, lr, beta1, noise, arrays):
        """``key``: raw ``uint32[2]`` bits, returned advanced. ``steps`` updates of one trial, then its valid metric; keeps the best-valid parameters (and, for
        final runs, the test metric of those parameters)."""
        opt = _adam(lr, beta1)

        def step(state, k):
            p, opt_state = state
            k_batch, k_noise = jax.random.split(k)
            xs, ys, mask = task.sample(arrays, k_batch, schedule.batch, schedule.window)
            xs = xs + noise * jax.random.normal(k_noise, xs.shape)

            def loss(p):
                return jnp.sum(task.losses(model(p, m)(xs), ys) * mask) / jnp.maximum(jnp.sum(mask), 1.0)

            updates, opt_state = opt.update(jax.grad(loss)(p), opt_state, p)
            return (optax.apply_updates(p, updates), opt_state), None

        key, k_round = jax.random.split(jax.random.wrap_key_data(key))
        (p, opt_state), _ = jax.lax.scan(step, (p, opt_state), jax.random.split(k_round, schedule.steps))
        value = _evaluate(task, model(p, m), arrays, "valid", schedule.eval_batch)
        better = jnp.isfinite(value) & (value < best_valid)
        best = jax.tree.map(lambda b, q: jnp.where(better, q, b), best, p)
        if test:
            best_test = jnp.where(better, _evaluate(task, model(p, m), arrays, "test", schedule.eval_batch), best_test)
        best_valid = jnp.where(better, value, best_valid)
        return p, opt_state, best, best_valid, best_test, better, jax.random.key_data(key)

    train = jax.jit(jax.vmap(train_round, in_axes=(0,) * 10 + (None,)))
    arrays = task.arrays()
    best, best_valid, best_test = (
        params,
        np.full(len(trials), np.inf, np.float32),
        np.full(len(trials), np.nan, np.float32),
    )
    best_round = np.full(len(trials), -1)
    for r in range(schedule.rounds):
        params, opt_state, best, best_valid, best_test, better, keys = train(
            params, opt_state, best, best_valid, best_test, keys, masks, lr, beta1, noise, arrays
        )
        best_round = np.where(np.asarray(better), r, best_round)
    rows = []
    for v, r, t in zip(np.asarray(best_valid), best_round, np.asarray(best_test)):
        rows.append({"valid": float(v) if math.isfinite(v) else math.nan, "best_round": int(r)})
        if test:
            rows[-1]["test"] = float(t)
    return rows
