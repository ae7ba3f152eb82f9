"""`Forecaster`: a global recurrent forecaster, direct (multi-output) or recursive (autoregressive).

Inputs are scaled histories ``[B, L]`` left-aligned with ``lengths`` ``[B]`` (values after a length are
padding); the stack reads them as ``[B, L, 1]`` and its state at each series' last valid step summarises it.

- ``direct`` (the MQ-RNN-style multi-output forecaster, Wen et al. 2017): ``raw = W h_len + b``, reshaped to
  ``[B, H, P]``: every horizon step read out at once from the last state.
- ``recursive`` (the autoregressive forecaster, as DeepAR's, Salinas et al. 2020): at every step ``t`` the
  output ``W h_t + b`` ``[P]`` models ``y_{t+1}``; trained on all one-step-ahead targets of the window, and
  forecasts by feeding its point forecast back for ``H`` steps (its intervals are then one-step intervals
  around that path: they do not include the accumulated error; `sample_paths` samples whole paths instead,
  feeding each draw back, as DeepAR does).

``P`` is the head's number of outputs (`recurrax.models.num_params`).

Covariates (``covariates = K > 0``, direct only): ``past`` ``[B, L, K]`` (their values at the history steps)
join the values as the stack's input ``[B, L, 1 + K]``, and ``future`` ``[B, H, K]`` (their values at the
forecast steps, known in advance) join the last state in the read-out: ``raw = W [h_len; vec(future)] + b``.
"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...cells import broadcast_to_rank
from ...models import RNNStack, num_params, point_forecast
from ...scan import last_valid

Kind = Literal["direct", "recursive"]


class Forecaster(eqx.Module):
    """``raw = model(inputs, lengths, key=None)``: ``inputs`` ``[B, L]``, ``lengths`` ``[B]`` int,
    ``raw`` ``[B, H, P]`` head outputs for the next ``H = horizon`` steps.

    Weights (``N`` the stack's output size): ``rnn`` an `RNNStack` reading ``[B, L, 1 + K]``;
    ``out_weight`` ``W`` ``[H * P, N + H * K]`` for ``direct`` (rows horizon-major, row ``h * P + p``; columns
    the last state, then ``future`` flattened step-major, ``h * K + k``), ``[P, N]`` for ``recursive``;
    ``out_bias`` ``b`` ``[H * P]`` or ``[P]``.

    Args:
        horizon: forecast steps ``H`` (at least 1).
        hidden_size: hidden units per layer ``N``.
        num_layers: stacked recurrent layers, default 1.
        kind: ``"direct"`` (all steps from the last state) or ``"recursive"`` (autoregressive), default
            ``"direct"``.
        head: ``"point"``, ``"gaussian"``, ``"student_t"`` or ``"quantile"`` (sets ``P``), default ``"point"``.
        quantiles: levels of the ``"quantile"`` head, default ``(0.1, 0.5, 0.9)``.
        cell: registered cell name, default ``"lstm"``.
        dropout: dropout rate between recurrent layers, training mode only, default 0.0.
        covariates: covariates per step ``K`` (``direct`` only), default 0.
        key: PRNG key for the initial weights (keyword-only, required).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = Forecaster(horizon=3, hidden_size=8, head="gaussian", key=jax.random.key(0))
        >>> model(jnp.ones((2, 5)), jnp.array([5, 3])).shape
        (2, 3, 2)
    """

    rnn: RNNStack
    out_weight: Array
    out_bias: Array
    kind: str = eqx.field(static=True)
    horizon: int = eqx.field(static=True)
    head: str = eqx.field(static=True)
    quantiles: tuple[float, ...] = eqx.field(static=True)
    covariates: int = eqx.field(static=True, default=0)

    def __init__(
        self,
        horizon: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        kind: Kind = "direct",
        head: str = "point",
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        cell: str = "lstm",
        dropout: float = 0.0,
        covariates: int = 0,
        key: Array,
    ):
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        if kind not in ("direct", "recursive"):
            raise ValueError(f"kind must be 'direct' or 'recursive', got {kind!r}")
        if covariates and kind != "direct":
            raise ValueError(f"covariates need kind 'direct' (or a seq2seq forecaster), got kind {kind!r}")
        params = num_params(head, quantiles)
        k_rnn, k_out = jax.random.split(key)
        self.rnn = RNNStack(1 + covariates, hidden_size, num_layers, dropout=dropout, cell=cell, key=k_rnn)
        outputs = params * (horizon if kind == "direct" else 1)
        bound = 1.0 / hidden_size**0.5
        features = self.rnn.output_size + horizon * covariates
        self.out_weight = jax.random.uniform(k_out, (outputs, features), jnp.float32, -bound, bound)
        self.out_bias = jnp.zeros((outputs,), jnp.float32)
        self.kind, self.horizon, self.head, self.quantiles = kind, horizon, head, tuple(quantiles)
        self.covariates = covariates

    @property
    def num_params(self) -> int:
        return num_params(self.head, self.quantiles)

    def read_out(self, h: Array) -> Array:
        """The head's raw outputs ``W h + b`` of states ``h`` ``[..., hidden]`` (`sample_paths` steps with it)."""
        return h @ self.out_weight.T + broadcast_to_rank(self.out_bias, h)

    def step_outputs(self, inputs: Array, lengths: Array, key: Array | None = None) -> tuple[Array, Array]:
        """Per-step outputs ``[B, L, P]`` (each for the next value) and the last state's ``h`` ``[B, H]``
        (models without covariates)."""
        ys, state = self.rnn(inputs[..., None], lengths, key=key)
        return self.read_out(ys), _last_h(state)

    def __call__(self, inputs: Array, lengths: Array, key: Array | None = None, *, past: Array | None = None,
                 future: Array | None = None) -> Array:  # fmt: skip
        if inputs.ndim != 2:
            raise ValueError(f"expected inputs [B, L], got shape {tuple(inputs.shape)}")
        batch = inputs.shape[0]
        if self.kind == "direct":
            ys = self.rnn.outputs(with_covariates(inputs, past, self.covariates, "past"), lengths, key=key)
            features = last_valid(ys, lengths)  # the final h: outputs run unmasked, oneDNN on CPU
            if self.covariates:
                horizon = with_covariates(jnp.zeros((batch, self.horizon), inputs.dtype), future,
                                          self.covariates, "future")[..., 1:]  # fmt: skip
                features = jnp.concatenate([features, horizon.reshape(batch, -1)], axis=-1)
            return self.read_out(features).reshape(batch, self.horizon, self.num_params)
        if past is not None or future is not None:
            raise ValueError("a recursive forecaster takes no covariates")
        ys, state = self.rnn(inputs[..., None], lengths)
        last = last_valid(ys, lengths)
        first = self.read_out(last)

        def step(carry, _):
            state, raw = carry
            value = point_forecast(self.head, raw, self.quantiles)
            ys, state = self.rnn(value.reshape(batch, 1, 1), state=state)
            nxt = self.read_out(ys[:, 0])
            return (state, nxt), raw

        _, raws = jax.lax.scan(step, (state, first), None, length=self.horizon)
        return jnp.moveaxis(raws, 0, 1)


def _last_h(state) -> Array:
    """The top layer's ``h`` of a stack's final state (an LSTM's ``(h, c)`` or a GRU's ``h``)."""
    return state[0][-1] if isinstance(state, tuple) else state[-1]


def with_covariates(values: Array, covariates: Array | None, count: int, name: str) -> Array:
    """``values`` ``[B, T]`` as a stack's input ``[B, T, 1 + count]``: the values, then ``covariates``
    ``[B, T, count]`` (required when ``count > 0``, refused otherwise)."""
    if count == 0:
        if covariates is not None:
            raise ValueError(f"this forecaster takes no covariates, got {name} covariates")
        return values[..., None]
    if covariates is None or covariates.shape != (*values.shape, count):
        got = None if covariates is None else tuple(covariates.shape)
        raise ValueError(f"expected {name} covariates of shape {[*values.shape, count]}, got {got}")
    return jnp.concatenate([values[..., None], covariates.astype(values.dtype)], axis=-1)
