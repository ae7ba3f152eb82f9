"""The search's tasks and the training of one candidate on one task (Jozefowicz et al. 2015, section 4).

Two of the paper's task families that need no download, generated from a seed:

- ``adding`` (arithmetic): `recurrax.data.adding_problem`, the sum of two marked values; loss MSE, and
  predicting the mean scores ``1/6``;
- ``memorize`` (memorisation): ``K`` random symbols of ``V``, then ``K`` blank steps during which the
  model reproduces them in order; loss the cross-entropy at the answer steps, chance ``log V``.

A model is a one-layer `recurrax.RNNStack` of the candidate cell and a linear read-out. `train_and_score`
trains it for ``steps`` Adam steps (global-norm clip 1, Pascanu et al. 2013) in one jitted ``lax.scan``, then
scores a held-out split; the score is the loss divided by its chance level (1 = chance, lower is better;
non-finite losses score `FAILED`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

import recurrax as rx
from recurrax.train import OptimConfig, make_optimizer

from ._graph import CellGraph, graph_cell_factory

FAILED = 10.0
"""The score of a candidate whose loss is not finite."""

SPLITS = {"validation": 1, "test": 2}
"""Each split's data stream (``fold_in`` of the task key); training data use stream 0."""


@dataclass(frozen=True)
class TaskSpec:
    """A task at one size: ``name`` (``adding`` or ``memorize``), ``length`` (sequence length ``T`` for adding,
    number of symbols ``K`` for memorize), ``vocab`` (memorize's ``V``)."""

    name: str
    length: int
    vocab: int = 8

    @property
    def input_size(self) -> int:
        return 2 if self.name == "adding" else self.vocab + 1

    @property
    def output_size(self) -> int:
        return 1 if self.name == "adding" else self.vocab

    @property
    def chance(self) -> float:
        return 1.0 / 6.0 if self.name == "adding" else math.log(self.vocab)

    def batch(self, key: Array, size: int) -> tuple[Array, Array]:
        """``(xs [B, T, D], targets)``: targets ``[B]`` floats (adding) or ``[B, K]`` ints (memorize)."""
        if self.name == "adding":
            return rx.data.adding_problem(key, size, self.length)
        symbols = jax.random.randint(key, (size, self.length), 0, self.vocab)
        shown = jax.nn.one_hot(symbols, self.vocab + 1, dtype=jnp.float32)
        blanks = jnp.zeros_like(shown).at[..., self.vocab].set(1.0)  # the blank marks the answer steps
        return jnp.concatenate([shown, blanks], axis=1), symbols

    def loss(self, outputs: Array, targets: Array) -> Array:
        """MSE of the last step's output (adding) or cross-entropy of the answer steps (memorize)."""
        if self.name == "adding":
            return jnp.mean((outputs[:, -1, 0] - targets) ** 2)
        logits = outputs[:, self.length :]
        logp = jax.nn.log_softmax(logits, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], axis=-1))


def check_task(name: str) -> str:
    if name not in ("adding", "memorize"):
        raise ValueError(f"unknown task {name!r}; known tasks: adding, memorize")
    return name


class SequenceModel(eqx.Module):
    """``[B, T, D] -> [B, T, O]``: a one-layer `recurrax.RNNStack` and a linear read-out."""

    rnn: rx.RNNStack
    head: eqx.nn.Linear

    def __init__(self, cell: Any, spec: TaskSpec, hidden: int, *, key: Array, **cell_options: Any):
        k_rnn, k_head = jax.random.split(key)
        self.rnn = rx.RNNStack(spec.input_size, hidden, cell=cell, key=k_rnn, **cell_options)
        self.head = eqx.nn.Linear(hidden, spec.output_size, key=k_head)

    def __call__(self, xs: Array) -> Array:
        ys, _ = self.rnn(xs)
        return ys @ self.head.weight.T + self.head.bias.reshape(1, 1, -1)


@dataclass(frozen=True)
class Candidate:
    """What is trained: a `CellGraph`, or a zoo cell by name with its options (e.g. ``forget_bias=0.0``)."""

    label: str
    graph: CellGraph | None = None
    cell: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    def model(self, spec: TaskSpec, hidden: int, key: Array) -> SequenceModel:
        cell = graph_cell_factory(self.graph) if self.graph is not None else self.cell
        return SequenceModel(cell, spec, hidden, key=key, **dict(self.options))


@dataclass(frozen=True)
class Budget:
    """Training per candidate and task: ``steps`` Adam steps of ``batch`` sequences, ``hidden`` units,
    learning rate ``lr``; ``eval_size`` sequences in each scored split."""

    steps: int
    batch: int
    hidden: int
    lr: float
    eval_size: int


def train_and_score(
    candidate: Candidate, spec: TaskSpec, budget: Budget, seeds: Sequence[int], split: str
) -> list[float]:
    """Train ``candidate`` on ``spec`` once per seed (initialisation and training data), all seeds as one
    ``vmap`` ped program, then return each model's loss on ``split`` (``validation`` or ``test``, the same data
    for every seed) divided by chance."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    optimizer = make_optimizer(OptimConfig(name="adam", lr=budget.lr, clip_norm=1.0), budget.steps)
    shapes = eqx.filter_eval_shape(candidate.model, spec, budget.hidden, jax.random.key(0))
    static = eqx.filter(shapes, eqx.is_inexact_array, inverse=True)  # no op runs outside the one jit
    task_seed = zlib.crc32(f"{spec.name}/{spec.length}/{spec.vocab}".encode()) % 2**31

    def run(seed):
        xs_eval, ys_eval = spec.batch(jax.random.fold_in(jax.random.key(task_seed), SPLITS[split]), budget.eval_size)
        k_model, k_data = jax.random.split(jax.random.key(seed))
        params = eqx.filter(candidate.model(spec, budget.hidden, k_model), eqx.is_inexact_array)

        def step(state, k):
            params, opt_state = state
            xs, ys = spec.batch(k, budget.batch)
            loss, grads = jax.value_and_grad(lambda p: spec.loss(eqx.combine(p, static)(xs), ys))(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (eqx.apply_updates(params, updates), opt_state), loss

        keys = jax.random.split(k_data, budget.steps)
        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), keys)
        return spec.loss(eqx.combine(params, static)(xs_eval), ys_eval)

    losses = jax.jit(jax.vmap(run))(jnp.asarray(seeds, jnp.int32))
    return [float(v) / spec.chance if math.isfinite(float(v)) else FAILED for v in losses]
