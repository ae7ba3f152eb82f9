"""`OptimConfig` and `TrainConfig`: the optimisation and training-loop sections of every task config."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..config import require


@dataclass
class OptimConfig:
    """The optimiser, built by `recurrax.train.make_optimizer` as one optax chain with clipping first.

    Every schedule starts with ``warmup_steps`` of linear warmup from 0.

    Attributes:
        name: ``"adam"`` (``weight_decay`` an L2 term added to the gradient, as torch's ``Adam``), ``"adamw"``
            (decoupled weight decay, Loshchilov & Hutter 2019), ``"sgd"`` (heavy-ball ``momentum``, L2
            ``weight_decay``) or ``"rmsprop"`` (Tieleman & Hinton 2012, decay 0.9, with ``momentum``);
            default ``"adam"``.
        lr: peak learning rate, > 0, default 2e-3.
        weight_decay: weight decay (see ``name``), >= 0, default 0.0.
        momentum: momentum of ``"sgd"`` and ``"rmsprop"``, in [0, 1), default 0.9.
        clip_norm: global-norm gradient clipping, first in the chain (Pascanu et al. 2013); None turns it
            off; default 5.0.
        schedule: ``"constant"``; ``"warmup_cosine"`` (cosine from ``lr`` to ``min_lr_ratio * lr`` over the
            steps after the warmup); ``"step"`` (``lr * decay_factor ** (s // decay_every)``, Zaremba et al.
            2014); ``"plateau"`` (``lr * plateau_factor`` after ``plateau_patience`` evaluations without a
            better validation loss); default ``"constant"``.
        warmup_steps: steps of linear warmup from 0, default 0.
        decay_every: steps between decays of ``"step"``, default 1000.
        decay_factor: factor per decay of ``"step"``, in (0, 1], default 0.5.
        min_lr_ratio: final learning rate of ``"warmup_cosine"`` over ``lr``, in [0, 1], default 0.0.
        plateau_patience: evaluations without improvement before a ``"plateau"`` cut, default 3.
        plateau_factor: factor per ``"plateau"`` cut, in (0, 1), default 0.5.
    """

    name: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: float = 2e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    clip_norm: float | None = 5.0
    schedule: Literal["constant", "warmup_cosine", "step", "plateau"] = "constant"
    warmup_steps: int = 0
    decay_every: int = 1000
    decay_factor: float = 0.5
    min_lr_ratio: float = 0.0
    plateau_patience: int = 3
    plateau_factor: float = 0.5

    def __post_init__(self):
        require(math.isfinite(self.lr) and self.lr > 0, "lr", f"must be a positive number, got {self.lr}")
        require(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        require(0 <= self.momentum < 1, "momentum", f"must be in [0, 1), got {self.momentum}")
        require(
            self.clip_norm is None or self.clip_norm > 0,
            "clip_norm", f"must be > 0, or none to turn clipping off, got {self.clip_norm}",
        )  # fmt: skip
        require(self.warmup_steps >= 0, "warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        require(self.decay_every >= 1, "decay_every", f"must be >= 1, got {self.decay_every}")
        require(0 < self.decay_factor <= 1, "decay_factor", f"must be in (0, 1], got {self.decay_factor}")
        require(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", f"must be in [0, 1], got {self.min_lr_ratio}")
        require(self.plateau_patience >= 1, "plateau_patience", f"must be >= 1, got {self.plateau_patience}")
        require(0 < self.plateau_factor < 1, "plateau_factor", f"must be in (0, 1), got {self.plateau_factor}")


@dataclass
class TrainConfig:
    """The training loop of `recurrax.train.fit`.

    Attributes:
        steps: optimiser updates in all (a resumed run continues up to it), default 1000.
        log_every: a ``metrics.jsonl`` train row every this many steps (and at the last step), default 10.
        eval_every: validation every this many steps and at the end; 0 = only at the end; default 200.
        checkpoint_every: a checkpoint every this many steps and at the end; 0 = only at the end; default 200.
        keep_checkpoints: the last this many checkpoints are kept (the best-on-validation one is kept apart),
            default 2.
        early_stopping_patience: stop after this many evaluations without a lower validation loss; 0 = off;
            default 0.
        nonfinite: on a NaN/inf loss or gradient the update is never applied; ``"stop"`` raises
            `NonFiniteError`, ``"skip"`` logs the step as skipped and goes on; default ``"stop"``.
        seed: the step's random key is ``fold_in(key(seed), batch_index)``, default 0.
        tensorboard: also write TensorBoard event files under ``run_dir/tensorboard`` (needs tensorboardX or
            tensorboard installed), default False.
        max_minutes: a wall-clock budget; once this much training time has passed, the step in hand is the
            last (evaluated and checkpointed like the final step). None = no budget (default). With a budget
            the length of the run depends on the machine's speed, so two runs may stop at different steps.
        devices: train on this many devices (1; a count ``N``; ``"all"``, every device of every process).
            Batch arrays are split on their leading axis, which ``N`` must divide; checkpoints resume on any
            count; default 1.
        parallel: with several devices, ``"batch"`` (data parallel: parameters replicated, the batch split,
            gradients all-reduced) or ``"members"`` (an ensemble's member axis split across devices); see
            `recurrax.train.make_placement` and docs/distributed.md; default ``"batch"``.
    """

    steps: int = 1000
    log_every: int = 10
    eval_every: int = 200
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    early_stopping_patience: int = 0
    nonfinite: Literal["stop", "skip"] = "stop"
    seed: int = 0
    tensorboard: bool = False
    max_minutes: float | None = None
    devices: int | str = 1
    parallel: Literal["batch", "members"] = "batch"

    def __post_init__(self):
        if isinstance(self.devices, str) and self.devices.isdigit():
            self.devices = int(self.devices)  # --set train.devices=4 arrives as text
        require(
            self.devices == "all" or (type(self.devices) is int and self.devices >= 1),
            "devices", f"must be 'all' or a positive count, got {self.devices!r}",
        )  # fmt: skip
        require(self.steps >= 0, "steps", f"must be >= 0, got {self.steps}")
        require(self.log_every >= 1, "log_every", f"must be >= 1, got {self.log_every}")
        require(self.eval_every >= 0, "eval_every", f"must be >= 0 (0 = only at the end), got {self.eval_every}")
        require(
            self.checkpoint_every >= 0,
            "checkpoint_every", f"must be >= 0 (0 = only at the end), got {self.checkpoint_every}",
        )  # fmt: skip
        require(
            self.max_minutes is None or self.max_minutes > 0, "max_minutes", f"must be > 0, got {self.max_minutes}"
        )
        require(self.keep_checkpoints >= 1, "keep_checkpoints", f"must be >= 1, got {self.keep_checkpoints}")
        require(
            self.early_stopping_patience >= 0,
            "early_stopping_patience", f"must be >= 0 (0 = off), got {self.early_stopping_patience}",
        )  # fmt: skip
