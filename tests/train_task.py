"""A tiny stateful task for the training-loop tests (also run by `train_resume_script.py` in a subprocess).

A 2-layer LSTM reads ``B`` long scalar streams in windows of ``T`` steps and predicts, at every step, the
input ``DELAY`` steps before; across a window boundary that needs the carry of the previous window
(truncated BPTT). The carry is reset when the streams wrap around (the batch's ``reset`` flag).
"""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import recurrax as rx
from recurrax.train import OptimConfig, TrainConfig, fit

B, T, WINDOWS, DELAY, H, LAYERS = 4, 8, 12, 1, 8, 2
STREAM = np.random.default_rng(0).normal(size=(B, T * WINDOWS)).astype(np.float32)
VALID = np.random.default_rng(1).normal(size=(B, 4 * T)).astype(np.float32)
OPTIM = OptimConfig(name="adam", lr=0.05, clip_norm=1.0)
TRAIN = TrainConfig(steps=30, log_every=1, eval_every=10, checkpoint_every=10, keep_checkpoints=2)


class Tagger(eqx.Module):
    """``[B, T, 1] -> [B, T]``: an LSTM stack and a linear read-out."""

    rnn: rx.LSTM
    weight: jax.Array
    bias: jax.Array

    def __init__(self, *, key):
        k_rnn, k_head = jax.random.split(key)
        self.rnn = rx.LSTM(1, H, num_layers=LAYERS, key=k_rnn)
        self.weight = jax.random.normal(k_head, (H,)) / H**0.5
        self.bias = jnp.zeros(())

    def __call__(self, xs, state=None):
        ys, state = self.rnn(xs, state=state)
        return ys @ self.weight + self.bias, state


def make_model():
    return Tagger(key=jax.random.key(0))


def init_carry():
    return (jnp.zeros((LAYERS, B, H)), jnp.zeros((LAYERS, B, H)))


def _delayed(stream):
    return np.concatenate([np.zeros((B, DELAY), np.float32), stream[:, :-DELAY]], axis=1)


def get_batch(index: int) -> dict:
    """Window ``index mod WINDOWS`` of the streams: inputs, delayed targets and the reset flag."""
    w = index % WINDOWS
    window = slice(w * T, (w + 1) * T)
    return {
        "x": STREAM[:, window, None],
        "y": _delayed(STREAM)[:, window],
        "reset": np.array(w == 0),
    }


def loss_fn(model, batch, carry, key):
    carry = jax.tree.map(lambda c: jnp.where(batch["reset"], jnp.zeros_like(c), c), carry)
    pred, carry = model(batch["x"], carry)
    error = pred - batch["y"]
    return jnp.mean(error**2), (carry, {"mae": jnp.mean(jnp.abs(error))})


@eqx.filter_jit
def _valid_loss(model):
    pred, _ = model(jnp.asarray(VALID)[..., None])
    return jnp.mean((pred - _delayed(VALID)) ** 2)


def evaluate(model) -> dict:
    return {"loss": float(_valid_loss(model))}


def run(run_dir: Path, *, get_batch=get_batch, train=TRAIN, optim=OPTIM, evaluate=evaluate, **kwargs):
    """`fit` on the task; keyword arguments go to `fit`."""
    kwargs.setdefault("progress", False)
    kwargs.setdefault("init_carry", init_carry)
    kwargs.setdefault("meta", {"task": "delay", "delay": DELAY})
    return fit(
        make_model(), loss_fn, get_batch, optim=optim, train=train, run_dir=run_dir, evaluate=evaluate,
        tokens_per_batch=B * T, **kwargs,
    )  # fmt: skip
