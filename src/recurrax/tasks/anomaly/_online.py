"""`online_forecasts`: an online LSTM forecaster for one time-stamped stream, as one compiled program.

Per series (Hochreiter & Schmidhuber 1997 LSTM, `NextStep`; the detector of Hundman et al. 2018 made online
in the manner NAB asks, Lavin & Ahmad 2015):

1. The values are scaled by the mean and standard deviation of the first ``probation`` points. The inputs at
   step ``t`` are ``x_t = [z_t, c_t]``: the scaled value and optional context ``c_t`` ``[C]``:
   ``time_features`` adds ``sin``/``cos`` of the time of day and of the time of week (from the time
   stamps); ``seasonal_lags`` adds ``z_{t+1-P}`` for ``P`` = one day and one week in points (the sampling
   interval is the median step of the probationary time stamps; 0 where that point does not exist yet):
   the value one period before the point being forecast, a past value since ``P >= 1``.
2. ``steps`` Adam steps (lr ``lr``, clipping 5; `recurrax.train.make_optimizer`) on ``batch_size`` random
   windows of ``window + 1`` points drawn from the probationary period, from the zero state; loss: the mean
   squared error of every one-step-ahead forecast of ``z``.
3. The whole series streams through the network, carrying the LSTM state from the first point. With
   ``learn_every = E > 0`` the program keeps learning: after each block of ``E`` points, one Adam step on
   ``batch_size`` windows drawn uniformly from **every point seen so far** (NAB allows learning from every
   past point) at learning rate ``learn_lr`` (default ``lr``; the Adam moments carry over); the state is
   carried across the update.
4. ``ensemble = K`` members with independent initialisations and batches train and stream side by side
   (`jax.vmap`, one program); the forecast is the members' mean.

``forecast[t]`` is made after ``x_0 .. x_{t-1}`` only (and the weights learnt from them), so the program is
online: changing points after ``t`` never changes ``forecast[t]``. The only exception is the scaler and the
initial training, which see the whole probationary period: NAB does not score it.

Shapes: the series is padded to a multiple of `PAD` points (so few lengths compile); padded points are
never trained on and their forecasts are cut off.

Example:
    >>> import numpy as np, jax
    >>> stamps = np.datetime64("2024-01-01") + np.arange(600) * np.timedelta64(1, "h")
    >>> values = np.sin(np.arange(600) * 2 * np.pi / 24)
    >>> cfg = OnlineConfig(hidden_size=8, window=32, steps=20, batch_size=8, time_features=True, ensemble=2)
    >>> out = online_forecasts(values, stamps, 100, cfg, key=jax.random.key(0))
    >>> out.errors.shape, bool(np.isnan(out.errors[:32]).all()), bool(np.isfinite(out.errors[32:]).all())
    ((600,), True, True)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ...config import require
from ...train import OptimConfig, make_optimizer, scale_learning_rate
from ._models import NextStep, initial_state

PAD = 2048
DAY, WEEK = 86400.0, 7 * 86400.0


@dataclass(frozen=True)
class OnlineConfig:
    """Settings of `online_forecasts` (module docstring): the LSTM (``hidden_size``, ``window``), its initial
    training (``steps``, ``lr``, ``batch_size``), continual learning (``learn_every``, 0: none; ``learn_lr``),
    the inputs (``time_features``, ``seasonal_lags``) and the ensemble size ``ensemble``."""

    hidden_size: int = 16
    window: int = 32
    steps: int = 300
    lr: float = 5e-3
    batch_size: int = 64
    learn_every: int = 0
    learn_lr: float | None = None
    time_features: bool = False
    seasonal_lags: bool = False
    ensemble: int = 1

    def __post_init__(self):
        for name in ("hidden_size", "window", "batch_size", "ensemble"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(self.steps >= 0, "steps", f"must be >= 0, got {self.steps}")
        require(self.learn_every >= 0, "learn_every", f"must be >= 0, got {self.learn_every}")
        require(math.isfinite(self.lr) and self.lr > 0, "lr", f"must be a positive number, got {self.lr}")
        require(self.learn_lr is None or (math.isfinite(self.learn_lr) and self.learn_lr > 0), "learn_lr",
                f"must be a positive number or none, got {self.learn_lr}")  # fmt: skip


class OnlineForecasts(NamedTuple):
    """``forecasts`` ``[K, T]`` (each member, scaled units), ``z`` ``[T]`` (the scaled values) and ``errors``
    ``[T]`` = ``|z - mean_k forecasts|``, NaN for the first ``window`` points (the warm-up)."""

    forecasts: np.ndarray
    z: np.ndarray
    errors: np.ndarray


def time_features(timestamps: np.ndarray) -> np.ndarray:
    """``[T, 4]`` float32: ``sin, cos`` of the time of day and of the time of week (Monday 00:00 = 0).

    Example:
        >>> [round(float(v), 3) + 0.0 for v in time_features(np.array(["1970-01-05T06:00"], "datetime64[s]"))[0]]
        [1.0, 0.0, 0.223, 0.975]
    """
    seconds = np.asarray(timestamps, "datetime64[s]").astype(np.int64).astype(np.float64)
    day = 2 * np.pi * (seconds % DAY) / DAY
    week = 2 * np.pi * ((seconds + 3 * DAY) % WEEK) / WEEK  # 1970-01-01 was a Thursday
    return np.stack([np.sin(day), np.cos(day), np.sin(week), np.cos(week)], axis=1).astype(np.float32)


def points_per(period: float, timestamps: np.ndarray, probation: int) -> int:
    """``period`` seconds in points (>= 1): the sampling interval is the median step of the first
    ``probation`` time stamps (one day when they do not tell)."""
    stamps = np.asarray(timestamps, "datetime64[s]").astype(np.int64)
    steps = np.diff(stamps[: max(probation, 2)])
    step = float(np.median(steps)) if len(steps) and np.median(steps) > 0 else DAY
    return max(1, int(round(period / step)))


def seasonal_lag_features(z: np.ndarray, timestamps: np.ndarray, probation: int) -> np.ndarray:
    """``[T, 2]`` float32: ``z[t + 1 - P]`` for ``P`` one day and one week in points (0 before it exists)."""
    out = np.zeros((len(z), 2), np.float32)
    for column, period in enumerate((DAY, WEEK)):
        lag = points_per(period, timestamps, probation)
        if lag - 1 < len(z):
            out[lag - 1 :, column] = z[: len(z) - lag + 1]
    return out


@functools.partial(jax.jit, static_argnames=("cfg",))
def _program(cfg: OnlineConfig, x: jax.Array, z: jax.Array, probation: jax.Array, length: jax.Array, keys):
    """Member forecasts ``[K, Tp]`` of the padded inputs ``x`` ``[Tp, D]``, targets ``z`` ``[Tp]``."""
    span, block = cfg.window + 1, max(cfg.learn_every, 1) if cfg.learn_every else 256
    optimizer = make_optimizer(OptimConfig(lr=cfg.lr), max(cfg.steps, 1))

    def member(key):
        k_init, k_fit, k_learn = jax.random.split(key, 3)
        model = NextStep(x.shape[1], cfg.hidden_size, key=k_init)
        params, static = eqx.partition(model, eqx.is_inexact_array)

        def loss(p, starts):
            index = starts[:, None] + jnp.arange(span)[None, :]
            out, _ = eqx.combine(p, static)(x[index][:, :-1])
            return jnp.mean((out[..., 0] - z[index][:, 1:]) ** 2)

        def train_step(carry, key, limit):
            p, opt_state = carry
            starts = jax.random.randint(key, (cfg.batch_size,), 0, jnp.maximum(limit - span + 1, 1))
            grads = jax.grad(loss)(p, starts)
            updates, opt_state = optimizer.update(grads, opt_state, p)
            return optax.apply_updates(p, updates), opt_state

        fitted = jax.lax.fori_loop(0, cfg.steps, lambda i, c: train_step(c, jax.random.fold_in(k_fit, i), probation),
                                   (params, optimizer.init(params)))  # fmt: skip

        def run_block(carry, inputs):
            p, opt_state, state, pending = carry
            index, xs = inputs
            net = eqx.combine(p, static)

            def point(c, x_t):
                state, pending = c
                out, state = net.step(x_t[None], state)
                return (state, out[0, 0]), pending

            (state, pending), forecasts = jax.lax.scan(point, (state, pending), xs)
            if cfg.learn_every:
                seen = jnp.minimum((index + 1) * block, length)
                p, opt_state = train_step((p, opt_state), jax.random.fold_in(k_learn, index), seen)
            return (p, opt_state, state, pending), forecasts

        blocks = x.shape[0] // block
        if cfg.learn_lr is not None:
            fitted = (fitted[0], scale_learning_rate(fitted[1], cfg.learn_lr / cfg.lr))
        start = (*fitted, initial_state(model.rnn, 1), jnp.zeros((), jnp.float32))
        _, forecasts = jax.lax.scan(run_block, start, (jnp.arange(blocks), x.reshape(blocks, block, -1)))
        return forecasts.reshape(-1)

    return jax.vmap(member)(keys)


def online_forecasts(
    values: Any, timestamps: Any, probation: int, cfg: OnlineConfig, *, key: jax.Array
) -> OnlineForecasts:
    """Online forecasts and errors of ``values`` ``[T]`` with time stamps ``timestamps`` ``[T]``
    (datetime64; only read with ``time_features`` or ``seasonal_lags``), the first ``probation`` points
    used for the scaler and the initial training (module docstring). ``key`` seeds the members."""
    values = np.asarray(values, np.float64).reshape(-1)
    if not np.isfinite(values).all():
        raise ValueError("values must be finite")
    length = len(values)
    if not cfg.window + 1 <= probation <= length:
        raise ValueError(f"probation must be in [{cfg.window + 1}, {length}] (window {cfg.window}), got {probation}")
    head = values[:probation]
    loc, scale = head.mean(), head.std()
    scale = scale if scale > 1e-8 * max(1.0, abs(loc)) else 1.0
    z = ((values - loc) / scale).astype(np.float32)
    parts = [z[:, None]]
    if cfg.time_features:
        parts.append(time_features(timestamps))
    if cfg.seasonal_lags:
        parts.append(seasonal_lag_features(z, timestamps, probation))
    x = np.concatenate(parts, axis=1)
    block = cfg.learn_every if cfg.learn_every else 256
    padded = -(-(-(-length // PAD) * PAD) // block) * block
    x = np.concatenate([x, np.zeros((padded - length, x.shape[1]), np.float32)])
    zp = np.concatenate([z, np.zeros(padded - length, np.float32)])
    keys = jax.random.split(key, cfg.ensemble)
    forecasts = np.asarray(_program(cfg, jnp.asarray(x), jnp.asarray(zp), jnp.int32(probation), jnp.int32(length),
                                    keys), np.float64)[:, :length]  # fmt: skip
    errors = np.abs(z.astype(np.float64) - forecasts.mean(axis=0))
    errors[: cfg.window] = np.nan
    return OnlineForecasts(forecasts, z.astype(np.float64), errors)
