"""Scorers: an LSTM trained on normal data turns a series ``[T, D]`` into raw anomaly scores ``[T]``.

Three kinds (`ScorerConfig.kind`), each scoring in units of the per-feature scaler fitted on the training
data (``z = (x - loc) / scale``) and averaging over features:

- ``prediction`` (Hundman et al. 2018, "Telemanom"): a causal LSTM reads ``z_0 .. z_{t-1}`` and predicts
  ``ẑ_t``; ``score[t] = mean_d |z_t - ẑ_t|``.
- ``nll``: the same forecaster with a Gaussian head (mean and log-variance ``s``);
  ``score[t] = mean_d 0.5 * (log 2π + s_t + (z_t - μ_t)^2 e^{-s_t})``, the negative log-likelihood of ``z_t``.
- ``reconstruction`` (Malhotra et al. 2016, LSTM encoder-decoder): windows of ``window`` points are encoded
  and reconstructed; a point's error is ``mean_d |z - ẑ|`` at its position in a window. ``reduce="last"``:
  ``score[t]`` is its error in the window that ends at ``t`` (no look-ahead: what streaming computes);
  ``reduce="mean"``: the mean of its errors over every window that covers it (batch only, it looks ahead).

Scores are **index-aligned** with the input: ``score[t]`` is about point ``t``. Points that cannot be scored
yet are NaN: ``t < window`` for the forecasters (the state has seen fewer than ``window`` points),
``t < window - 1`` for ``reconstruction`` with ``reduce="last"`` (no full window ends there yet).

The forecasters run **statefully** over the whole series (one scan from the zero state), so
`StreamingScorer` gives the same scores one point at a time. They are trained on windows of
``window + 1`` points from the zero state, loss on every one-step-ahead target.

Example:
    >>> import numpy as np, jax
    >>> from recurrax.train import OptimConfig, TrainConfig
    >>> values = np.sin(np.arange(400) / 5.0)[:, None]
    >>> cfg = ScorerConfig(kind="prediction", hidden_size=8, window=16)
    >>> scorer = fit_scorer(values, cfg, optim=OptimConfig(lr=1e-2), train=TrainConfig(steps=20),
    ...                     key=jax.random.key(0))
    >>> scores = score_series(scorer, values)
    >>> scores.shape, bool(np.isnan(scores[:16]).all()), bool(np.isfinite(scores[16:]).all())
    ((400,), True, True)
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ...config import from_dict, require, to_dict
from ...train import (
    FitResult,
    OptimConfig,
    TrainConfig,
    find_checkpoint,
    fit,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)
from ._inference import forecaster_scores
from ._models import Autoencoder, NextStep, scorer_loss

TASK = "anomaly"  # the task's one name: checkpoints, exports, serving
LEGACY_TASKS = ("anomaly_scorer",)  # what checkpoints written before 2026-12-05 say
PAD_TO = 1024  # series are padded to a multiple of this (after their end) so few lengths compile


@dataclass
class ScorerConfig:
    """The scorer: ``kind`` (``prediction``, ``reconstruction``, ``nll``), a ``cell`` of
    `recurrax.cells.CELLS` (``lstm``, ``gru``, ...) with ``hidden_size`` and ``num_layers`` (``dropout``
    between layers), ``window`` (input length: training windows, warm-up, autoencoder windows),
    ``batch_size`` training windows per step, ``reduce`` (``reconstruction`` only: ``last`` or ``mean``)."""

    kind: Literal["prediction", "reconstruction", "nll"] = "prediction"
    cell: str = "lstm"
    hidden_size: int = 32
    num_layers: int = 1
    window: int = 32
    dropout: float = 0.0
    batch_size: int = 64
    reduce: Literal["last", "mean"] = "last"

    def __post_init__(self):
        for name in ("hidden_size", "num_layers", "window", "batch_size"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass
class Scorer:
    """A trained scorer: the network ``model`` (`NextStep` or `Autoencoder`), the per-feature scaler
    ``loc`` / ``scale`` ``[D]`` (float64, from the training data), its ``config`` and, after `fit_scorer`,
    the training loop's `FitResult` (``fit``; None once loaded)."""

    model: NextStep | Autoencoder
    loc: np.ndarray
    scale: np.ndarray
    config: ScorerConfig
    fit: FitResult | None = None

    @property
    def num_features(self) -> int:
        return int(self.loc.shape[0])

    def transform(self, values: Any) -> np.ndarray:
        """``values`` ``[T, D]`` (or ``[T]`` when D = 1), checked, as scaled float32 ``[T, D]``."""
        return ((as_series(values, self.num_features) - self.loc) / self.scale).astype(np.float32)


def as_series(values: Any, num_features: int | None = None) -> np.ndarray:
    """``values`` as a finite float64 ``[T, D]`` array (a 1-D array is one feature); ValueError otherwise."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"expected values of shape [T, D] (or [T]), got shape {array.shape}")
    if num_features is not None and array.shape[1] != num_features:
        raise ValueError(f"expected {num_features} features (the scorer's), got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"values must be finite; found {array[tuple(bad)]} at index {tuple(bad.tolist())}")
    return array


def build_network(cfg: ScorerConfig, num_features: int, *, key: jax.Array) -> NextStep | Autoencoder:
    """The untrained network that ``cfg`` describes for ``num_features`` input features."""
    options = {"cell": cfg.cell, "dropout": cfg.dropout, "key": key}
    if cfg.kind == "reconstruction":
        return Autoencoder(num_features, cfg.hidden_size, cfg.num_layers, **options)
    return NextStep(num_features, cfg.hidden_size, cfg.num_layers, gaussian=cfg.kind == "nll", **options)


def _scaler(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation; a constant feature gets scale 1."""
    loc, scale = values.mean(axis=0), values.std(axis=0)
    constant = scale <= 1e-8 * np.maximum(1.0, np.abs(loc))
    return loc, np.where(constant, 1.0, scale)


def _meta(cfg: ScorerConfig, loc: np.ndarray, scale: np.ndarray, extra: dict | None) -> dict:
    return {
        **(extra or {}),
        "task": TASK,
        "scorer": to_dict(cfg),
        "num_features": int(loc.shape[0]),
        "scaler": {"loc": loc.tolist(), "scale": scale.tolist()},
    }


def fit_scorer(
    values: Any,
    cfg: ScorerConfig,
    *,
    optim: OptimConfig,
    train: TrainConfig,
    key: jax.Array,
    run_dir: str | Path | None = None,
    meta: dict | None = None,
    progress: bool = False,
) -> Scorer:
    """Train a scorer on the (normal) training series ``values`` ``[T, D]`` (or a list of such series: every
    window then lies within one of them) with `recurrax.train.fit`.

    The scaler is fitted on ``values``. Each step draws ``cfg.batch_size`` windows uniformly (``window + 1``
    points for the forecasters, ``window`` for the autoencoder; deterministic in ``train.seed`` and the step);
    ``key`` initialises the network. ``run_dir`` receives ``metrics.jsonl`` and ``checkpoints/`` (each
    ``meta.json`` holds the scorer config, the scaler and ``meta``, so `load_scorer` reads them); None trains
    in a temporary directory that is then deleted (``scorer.fit.run_dir`` then no longer exists).
    """
    parts = [as_series(part) for part in values] if isinstance(values, list) else [as_series(values)]
    span = cfg.window + (0 if cfg.kind == "reconstruction" else 1)
    if max(len(part) for part in parts) < span:
        longest = max(len(part) for part in parts)
        raise ValueError(f"{cfg.kind} training needs at least {span} points (window {cfg.window}), got {longest}")
    values = np.concatenate(parts)
    loc, scale = _scaler(values)
    scaled = jnp.asarray((values - loc) / scale, jnp.float32)
    offsets = np.cumsum([0] + [len(part) for part in parts])
    pool = np.concatenate([offset + np.arange(len(part) - span + 1) for offset, part in zip(offsets, parts)
                           if len(part) >= span])  # fmt: skip
    count = len(pool)

    def get_batch(index: int) -> dict[str, jax.Array]:
        starts = pool[np.random.default_rng([train.seed, index]).integers(0, count, cfg.batch_size)]
        return {"windows": scaled[jnp.asarray(starts[:, None] + np.arange(span)[None, :])]}

    model = build_network(cfg, values.shape[1], key=key)
    info = _meta(cfg, loc, scale, meta)
    with tempfile.TemporaryDirectory(prefix="recurrax-scorer-") as scratch:
        result = fit(model, scorer_loss, get_batch, optim=optim, train=train, run_dir=run_dir or scratch,
                     meta=info, progress=progress)  # fmt: skip
    return Scorer(result.model, loc, scale, cfg, result)


def save_scorer(scorer: Scorer, cfg: ScorerConfig, path: str | Path, meta: dict | None = None) -> Path:
    """Write ``scorer`` (network weights as safetensors; ``cfg``, the scaler and ``meta`` in ``meta.json``) to
    the checkpoint directory ``path``, atomically. Returns ``path``."""
    return save_checkpoint(path, scorer.model, _meta(cfg, scorer.loc, scorer.scale, meta))


def load_scorer(path: str | Path) -> Scorer:
    """The `Scorer` of a checkpoint directory (`save_scorer`) or of a `fit_scorer` run directory (its best,
    else its last checkpoint)."""
    checkpoint = find_checkpoint(path)
    meta = read_meta(checkpoint)
    if meta.get("task") not in (TASK, *LEGACY_TASKS):
        raise ValueError(f"{checkpoint} is not an anomaly scorer checkpoint (task {meta.get('task')!r})")
    cfg = from_dict(ScorerConfig, meta["scorer"])
    skeleton = build_network(cfg, int(meta["num_features"]), key=jax.random.key(0))
    model, _ = load_checkpoint(checkpoint, skeleton)
    loc = np.asarray(meta["scaler"]["loc"], np.float64)
    scale = np.asarray(meta["scaler"]["scale"], np.float64)
    return Scorer(model, loc, scale, cfg)


@eqx.filter_jit
def _window_errors(model: Autoencoder, windows: jax.Array) -> jax.Array:
    return model.errors(windows)


def _padded(z: np.ndarray) -> np.ndarray:
    """``z`` with zero rows appended up to a multiple of `PAD_TO` (causal models ignore what follows)."""
    extra = -len(z) % PAD_TO
    return np.concatenate([z, np.zeros((extra, z.shape[1]), z.dtype)]) if extra else z


def reconstruction_errors(model: Autoencoder, z: np.ndarray, window: int, chunk: int = 512) -> np.ndarray:
    """Per-point errors ``[N, window]`` of the ``N = T - window + 1`` sliding windows of ``z`` ``[T, D]``
    (window ``i`` covers points ``i .. i + window - 1``), in chunks of ``chunk`` windows."""
    windows = np.lib.stride_tricks.sliding_window_view(z, window, axis=0).transpose(0, 2, 1)
    parts = []
    for start in range(0, len(windows), chunk):
        block = windows[start : start + chunk]
        full = np.concatenate([block, np.zeros((chunk - len(block), *block.shape[1:]), block.dtype)])
        parts.append(np.asarray(_window_errors(model, jnp.asarray(full)), np.float64)[: len(block)])
    return np.concatenate(parts)


def score_series(scorer: Scorer, values: Any) -> np.ndarray:
    """Raw scores ``[T]`` float64 of ``values`` ``[T, D]``, index-aligned (NaN where not scorable; see the
    module docstring for each kind). The forecasting kinds run `forecaster_scores`, as the exported model."""
    cfg = scorer.config
    if cfg.kind != "reconstruction":
        raw = as_series(values, scorer.num_features).astype(np.float32)
        loc, scale = (np.asarray(a, np.float32) for a in (scorer.loc, scorer.scale))
        lengths = np.array([len(raw)], np.int32)
        out = forecaster_scores(scorer.model, loc, scale, _padded(raw)[None], lengths, cfg.window)
        return np.asarray(out[0, : len(raw)], np.float64)
    z = scorer.transform(values)
    length, window = len(z), cfg.window
    scores = np.full(length, np.nan)
    if length < window:
        return scores
    errors = reconstruction_errors(scorer.model, z, window)
    if cfg.reduce == "last":
        scores[window - 1 :] = errors[:, -1]
        return scores
    total, covered = np.zeros(length), np.zeros(length)
    for position in range(window):
        total[position : position + len(errors)] += errors[:, position]
        covered[position : position + len(errors)] += 1
    return total / covered
