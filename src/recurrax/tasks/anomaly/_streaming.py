"""`StreamingScorer`: raw anomaly scores one point at a time, with no look-ahead, optionally learning online.

The forecasters (``prediction``, ``nll``) carry the recurrent state from point to point: ``update(x_t)``
scores ``x_t`` against the forecast made after ``x_{t-1}``, then advances the state by ``x_t`` and forecasts
``x_{t+1}``. The autoencoder (``reconstruction``, ``reduce="last"``) keeps the last ``window`` points and
scores ``x_t`` by its error in the window that ends at ``t``. Without learning the scores equal
`score_series` on the same data (same model, same scaler; NaN during the warm-up).

``learn=True`` keeps training online: every ``every`` points one optimiser step (`recurrax.train`'s jitted
train step, Adam at ``lr`` with clipping) on the ``batch`` most recent training windows, exactly the windows
`fit_scorer` trains on (only points already seen). The carried state is kept across an update.

Example:
    >>> import numpy as np, jax
    >>> from recurrax.train import OptimConfig, TrainConfig
    >>> from recurrax.tasks.anomaly import ScorerConfig, StreamingScorer, fit_scorer, score_series
    >>> values = np.sin(np.arange(300) / 5.0)[:, None]
    >>> scorer = fit_scorer(values, ScorerConfig(hidden_size=8, window=16), optim=OptimConfig(),
    ...                     train=TrainConfig(steps=0), key=jax.random.key(0))
    >>> stream = StreamingScorer(scorer)
    >>> streamed = np.array([stream.update(x) for x in values])
    >>> bool(np.allclose(streamed, score_series(scorer, values), equal_nan=True, atol=1e-5))
    True
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ...train import OptimConfig, TrainConfig, shared_train_step
from ._likelihood import anomaly_likelihood, log_likelihood_score, novelty_score
from ._models import Autoencoder, NextStep, initial_state, scorer_loss
from ._scorers import Scorer, ScorerConfig, as_series, fit_scorer

CHUNK = 1024  # update_many scans blocks of at most this many points


class _Spec:
    """What rebuilds a network from its array leaves; one shared instance per architecture (`_flat`), so
    as a static jit argument it hashes by identity: cheap per call, compiled once per architecture."""

    def __init__(self, treedef: Any, static: Any):
        self.treedef, self.static = treedef, static


_SPECS: dict[tuple[Any, Any], _Spec] = {}


def _flat(model: Any) -> tuple[list[jax.Array], _Spec]:
    """The array leaves of ``model`` and its shared `_Spec`."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(params)
    return leaves, _SPECS.setdefault((treedef, static), _Spec(treedef, static))


def _rebuild(spec: _Spec, leaves: list[jax.Array]) -> Any:
    return eqx.combine(jax.tree.unflatten(spec.treedef, leaves), spec.static)


def _forecast_body(model: NextStep, carry: tuple[Any, jax.Array], z_t: jax.Array):
    """One point of each of ``S`` streams, ``z_t`` ``[S, D]``: their errors ``[S]`` against the pending
    forecasts ``[S, P * D]``, then the states ``[L, S, ...]`` advanced and the next forecasts."""
    state, pending = carry
    error = model.errors(pending, z_t)
    out, state = model.step(z_t, state)
    return (state, out), error


@functools.partial(jax.jit, static_argnums=0)
def _forecast_step(spec: _Spec, leaves: list[jax.Array], carry: tuple[Any, jax.Array], z_t: jax.Array):
    return _forecast_body(_rebuild(spec, leaves), carry, z_t)


def _masked(body: Any) -> Any:
    """``body`` over ``(z_t, valid_t)`` that leaves the carry unchanged where ``valid_t`` is False (padding)."""

    def run(carry, inputs):
        z_t, valid = inputs
        new, error = body(carry, z_t)
        return jax.tree.map(lambda n, o: jnp.where(valid, n, o), new, carry), error

    return run


@functools.partial(jax.jit, static_argnums=0)
def _forecast_scan(spec: _Spec, leaves: list[jax.Array], carry: tuple[Any, jax.Array], z: jax.Array, valid):
    return jax.lax.scan(_masked(functools.partial(_forecast_body, _rebuild(spec, leaves))), carry, (z, valid))


def _window_body(model: Autoencoder, buffer: jax.Array, z_t: jax.Array):
    """One point of each of ``S`` streams, ``z_t`` ``[S, D]``: the windows ``[S, W, D]`` of the last ``W``
    points that end at it, and their errors ``[S]`` there."""
    buffer = jnp.concatenate([buffer[:, 1:], z_t[:, None]], axis=1)
    return buffer, model.errors(buffer)[:, -1]


@functools.partial(jax.jit, static_argnums=0)
def _window_step(spec: _Spec, leaves: list[jax.Array], buffer: jax.Array, z_t: jax.Array):
    return _window_body(_rebuild(spec, leaves), buffer, z_t)


@functools.partial(jax.jit, static_argnums=0)
def _window_scan(spec: _Spec, leaves: list[jax.Array], buffer: jax.Array, z: jax.Array, valid: jax.Array):
    return jax.lax.scan(_masked(functools.partial(_window_body, _rebuild(spec, leaves))), buffer, (z, valid))


class _Streams:
    """``S`` streams through one scorer's network: the carried states of all of them, advanced together
    (one batched step per point; the compiled step is shared by every stream set of the same architecture)."""

    def __init__(self, scorer: Scorer, streams: int):
        cfg = scorer.config
        if cfg.kind == "reconstruction" and cfg.reduce != "last":
            raise ValueError("streaming reconstruction scores need reduce='last' (reduce='mean' looks ahead)")
        if isinstance(streams, bool) or not isinstance(streams, int) or streams < 1:
            raise ValueError(f"streams must be an integer >= 1, got {streams!r}")
        self.scorer, self.streams, self.seen = scorer, streams, 0
        self._forecaster = cfg.kind != "reconstruction"
        self._warmup = cfg.window if self._forecaster else cfg.window - 1
        self._set_model(scorer.model)
        if self._forecaster:
            pending = jnp.zeros((streams, scorer.model.out_weight.shape[0]), jnp.float32)
            self._carry = (initial_state(scorer.model.rnn, streams), pending)
        else:
            self._carry = jnp.zeros((streams, cfg.window, scorer.num_features), jnp.float32)

    def _set_model(self, model: NextStep | Autoencoder) -> None:
        self.model = model
        self._leaves, self._spec = _flat(model)

    def _step(self, z_t: np.ndarray) -> np.ndarray:
        """Raw scores ``[S]`` of one scaled point of every stream ``z_t`` ``[S, D]`` (NaN in the warm-up)."""
        step = _forecast_step if self._forecaster else _window_step
        self._carry, errors = step(self._spec, self._leaves, self._carry, z_t)
        self.seen += 1
        return np.full(self.streams, np.nan) if self.seen <= self._warmup else np.asarray(errors, np.float64)

    def _scan(self, z: np.ndarray) -> np.ndarray:
        """Raw scores ``[n, S]`` of ``n`` scaled points of every stream ``z`` ``[n, S, D]``: one compiled scan
        per block of up to `CHUNK` points (padded to a power of two, so few shapes compile)."""
        scan = _forecast_scan if self._forecaster else _window_scan
        chunk = min(CHUNK, 1 << (len(z) - 1).bit_length())
        errors = np.empty(z.shape[:2])
        for start in range(0, len(z), chunk):
            block = z[start : start + chunk]
            valid = np.arange(chunk) < len(block)
            padded = np.concatenate([block, np.zeros((chunk - len(block), *block.shape[1:]), block.dtype)])
            self._carry, out = scan(self._spec, self._leaves, self._carry, padded, valid)
            errors[start : start + len(block)] = np.asarray(out, np.float64)[: len(block)]
        index = self.seen + np.arange(len(z))
        self.seen += len(z)
        return np.where(index[:, None] < self._warmup, np.nan, errors)


class FleetScorer(_Streams):
    """Score ``streams`` series at once, point by point: ``update(xs [S, D]) -> [S]`` takes the next point of
    every series (NaN during the warm-up), ``update_many(xs [n, S, D]) -> [n, S]`` the next ``n``. The same
    numbers as one `StreamingScorer` (``learn=False``) per series, at the cost of one batched step.

    Example:
        >>> import numpy as np, jax
        >>> from recurrax.train import OptimConfig, TrainConfig
        >>> from recurrax.tasks.anomaly import FleetScorer, ScorerConfig, fit_scorer, score_series
        >>> values = np.sin(np.arange(200) / 5.0)[:, None]
        >>> scorer = fit_scorer(values, ScorerConfig(hidden_size=8, window=16), optim=OptimConfig(),
        ...                     train=TrainConfig(steps=0), key=jax.random.key(0))
        >>> fleet = FleetScorer(scorer, streams=3)
        >>> scores = fleet.update_many(np.stack([values, 2 * values, values[::-1]], axis=1))
        >>> scores.shape, bool(np.allclose(scores[:, 0], score_series(scorer, values), equal_nan=True, atol=1e-5))
        ((200, 3), True)
    """

    def update(self, xs: Any) -> np.ndarray:
        """Raw scores ``[S]`` of the next point of every series, ``xs`` ``[S, D]``."""
        return self._step(self._scaled(xs, 2)[0])

    def update_many(self, xs: Any) -> np.ndarray:
        """Raw scores ``[n, S]`` of the next ``n`` points of every series, ``xs`` ``[n, S, D]``."""
        return self._scan(self._scaled(xs, 3))

    def _scaled(self, xs: Any, rank: int) -> np.ndarray:
        """``xs`` (``[S, D]`` or ``[n, S, D]``; ``D`` may be left out for one feature) scaled, ``[n, S, D]``."""
        xs = np.asarray(xs, np.float64)
        d = self.scorer.num_features
        if xs.ndim == rank - 1 and d == 1:
            xs = xs[..., None]
        if xs.ndim != rank or xs.shape[-2:] != (self.streams, d):
            want = ("" if rank == 2 else "n, ") + f"{self.streams}, {d}"
            raise ValueError(f"expected values [{want}] ({self.streams} streams, {d} features), got {xs.shape}")
        flat = self.scorer.transform(xs.reshape(-1, d))
        return flat.reshape(-1, self.streams, d)


class StreamingScorer(_Streams):
    """Score a stream point by point: ``update(x_t [D]) -> float`` (NaN during the warm-up), or a block of
    consecutive points at once with ``update_many(xs [n, D]) -> [n]`` (the same numbers, one compiled scan).

    ``learn``: keep training online, one step every ``every`` points on the ``batch`` latest windows, at
    learning rate ``lr``. ``scorer.model`` is not changed; the current network is ``self.model``. The
    compiled step is shared by every stream of the same architecture. Many series at once: `FleetScorer`.
    """

    def __init__(self, scorer: Scorer, learn: bool = False, lr: float = 1e-3, every: int = 16, batch: int = 16):
        super().__init__(scorer, 1)
        if every < 1 or batch < 1:
            raise ValueError(f"every and batch must be >= 1, got every={every}, batch={batch}")
        if not (lr > 0):
            raise ValueError(f"lr must be > 0, got {lr}")
        self.learn, self.every, self.batch, self.updates = bool(learn), int(every), int(batch), 0
        self._span = scorer.config.window + (1 if self._forecaster else 0)
        self._history = np.zeros((0, scorer.num_features), np.float32)
        if self.learn:
            self._train_step = shared_train_step(scorer_loss, OptimConfig(lr=lr), 0)
            self._opt_state = self._train_step.optimizer.init(eqx.filter(scorer.model, eqx.is_inexact_array))

    def update(self, x: Any) -> float:
        """The raw score of the next point ``x`` ``[D]`` (NaN while fewer points than the warm-up were seen)."""
        z = self.scorer.transform(np.reshape(np.asarray(x, np.float64), (1, -1)))
        if self.learn:
            return float(self.update_many(z * self.scorer.scale + self.scorer.loc)[0])
        return float(self._step(z)[0])

    def update_many(self, values: Any) -> np.ndarray:
        """Raw scores ``[n]`` of the next ``n`` points ``values`` ``[n, D]``, as ``n`` calls of `update`."""
        z = self.scorer.transform(values)
        scores = np.empty(len(z))
        start = 0
        while start < len(z):
            stop = len(z) if not self.learn else min(len(z), start + self.every - self.seen % self.every)
            scores[start:stop] = self._scan(z[start:stop, None])[:, 0]
            if self.learn:
                self._history = np.concatenate([self._history, z[start:stop]])[-(self._span + self.batch - 1) :]
            start = stop
            if self.learn and self.seen % self.every == 0:
                self._learn()
        return scores

    def _learn(self) -> None:
        """One optimiser step on the latest ``batch`` windows (skipped while fewer points were seen)."""
        if len(self._history) < self._span + self.batch - 1:
            return
        windows = np.lib.stride_tricks.sliding_window_view(self._history, self._span, axis=0).transpose(0, 2, 1)
        key = jax.random.fold_in(jax.random.key(0), self.updates)
        model, self._opt_state, _, _ = self._train_step(
            self.model, self._opt_state, None, {"windows": jnp.asarray(windows)}, key
        )
        self._set_model(model)
        self.updates += 1


def online_scores(
    values: Any,
    probation: int,
    config: ScorerConfig,
    *,
    optim: OptimConfig,
    train: TrainConfig,
    key: jax.Array,
    learn_every: int = 0,
    lr: float = 1e-3,
    batch: int = 16,
    transform: Literal["novelty", "likelihood"] = "novelty",
    long: int = 8640,
    short: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """A streaming detector under NAB's rules: anomaly scores ``[T]`` in [0, 1] and raw scores ``[T]``.

    The scorer is fitted on the first ``probation`` points only; then the whole series streams through it
    (`StreamingScorer`; with ``learn_every`` > 0 it keeps learning, one step every ``learn_every`` points on
    the ``batch`` latest windows at ``lr``). The raw scores become anomaly scores by ``transform``:
    ``novelty`` (`novelty_score` over ``long`` points; errors only, not ``nll``) or ``likelihood`` (the log
    anomaly likelihood, `anomaly_likelihood` with ``short`` and ``long``, then `log_likelihood_score`). The
    score of point ``t`` uses points ``<= t`` only.
    """
    values = as_series(values)
    if not 0 < probation <= len(values):
        raise ValueError(f"probation must be in [1, {len(values)}], got {probation}")
    if transform not in ("novelty", "likelihood"):
        raise ValueError(f"transform must be 'novelty' or 'likelihood', got {transform!r}")
    if transform == "novelty" and config.kind == "nll":
        raise ValueError("transform='novelty' needs non-negative errors; use transform='likelihood' with kind='nll'")
    scorer = fit_scorer(values[:probation], config, optim=optim, train=train, key=key)
    stream = StreamingScorer(scorer, learn=learn_every > 0, lr=lr, every=max(learn_every, 1), batch=batch)
    raw = stream.update_many(values)
    if transform == "novelty":
        return novelty_score(raw, long=long), raw
    likelihood = anomaly_likelihood(raw, short=short, long=long, learning=min(config.window, probation))
    return log_likelihood_score(likelihood), raw


def nab_lstm_scores(values: Any, probation: int, *, seed: int = 0) -> np.ndarray:
    """The ``lstm`` detector of ``benchmarks/anomaly_nab.py``: anomaly scores ``[T]`` in [0, 1].

    `online_scores` with the benchmarked setting: a one-layer LSTM ``prediction`` scorer (hidden 16, window
    32) fitted on the first ``probation`` points only (300 Adam steps of 64 windows, lr 5e-3, clipping 5),
    then streamed without online learning (learning every 16 points scored lower on NAB), errors turned into
    scores by `novelty_score` over 8640 points. ``seed`` sets the initialisation and the batch order.
    """
    cfg = ScorerConfig(kind="prediction", hidden_size=16, window=32, batch_size=64)
    train = TrainConfig(steps=300, log_every=300, eval_every=0, checkpoint_every=0, seed=seed)
    scores, _ = online_scores(values, probation, cfg, optim=OptimConfig(lr=5e-3), train=train,
                              key=jax.random.key(seed), transform="novelty", long=8640)  # fmt: skip
    return scores
