"""`Seq2SeqForecaster`: an encoder-decoder forecaster, with optional attention over the encoder states.

The encoder (an `RNNStack`) reads the scaled history ``[B, L, 1 + K]`` (values and ``K`` covariates) up to
each series' length; the decoder (a second stack of the same size) starts from the encoder's final state
and reads, for each horizon step ``k``, the one-hot code of ``k`` and the step's known-future covariates
``[B, H, H + K]`` (no fed-back forecasts: every step is forecast at once, as in MQ-RNN, Wen et al. 2017,
with the decoder of Sutskever et al. 2014). With ``attention`` each decoder output ``d_k`` attends over the
valid encoder outputs ``e_t`` (Luong et al. 2015, "general" score):

    a_k = masked_softmax_t(d_k W_a e_t^T),   c_k = sum_t a_kt e_t,   raw_k = W_o [d_k; c_k] + b_o

and without it ``raw_k = W_o d_k + b_o``. ``raw`` is ``[B, H, P]``, ``P`` the head's outputs.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...cells import broadcast_to_rank
from ...models import RNNStack, masked_softmax, num_params
from ...scan import valid_mask
from ._model import with_covariates


class Seq2SeqForecaster(eqx.Module):
    """``raw = model(inputs, lengths, key=None, *, past=None, future=None)``: ``inputs`` ``[B, L]``,
    ``lengths`` ``[B]``, covariates ``past`` ``[B, L, K]`` and ``future`` ``[B, H, K]`` (with ``K =
    covariates > 0``), ``raw`` ``[B, H, P]``.

    Weights (``N = hidden_size``): ``encoder`` an `RNNStack` reading ``[B, L, 1 + K]``; ``decoder`` an
    `RNNStack` reading ``[B, H, H + K]`` (one-hot step code, then ``future``); ``attn_weight`` ``W_a``
    ``[N, N]`` (None without attention); ``out_weight`` ``W_o`` ``[P, 2N]`` with attention (columns ``d_k``
    then ``c_k``), ``[P, N]`` without; ``out_bias`` ``b_o`` ``[P]``.

    Args:
        horizon: forecast steps ``H`` (at least 1).
        hidden_size: hidden units per layer ``N`` of the encoder and the decoder.
        num_layers: stacked layers of each, default 1.
        attention: Luong "general" attention of the decoder over the encoder outputs, default False.
        head: ``"point"``, ``"gaussian"``, ``"student_t"`` or ``"quantile"`` (sets ``P``), default ``"point"``.
        quantiles: levels of the ``"quantile"`` head, default ``(0.1, 0.5, 0.9)``.
        cell: registered cell name, default ``"lstm"``.
        dropout: dropout rate between recurrent layers, training mode only, default 0.0.
        covariates: covariates per step ``K``, default 0.
        key: PRNG key for the initial weights (keyword-only, required).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = Seq2SeqForecaster(horizon=3, hidden_size=8, attention=True, key=jax.random.key(0))
        >>> model(jnp.ones((2, 5)), jnp.array([5, 3])).shape
        (2, 3, 1)
    """

    encoder: RNNStack
    decoder: RNNStack
    attn_weight: Array | None
    out_weight: Array
    out_bias: Array
    horizon: int = eqx.field(static=True)
    head: str = eqx.field(static=True)
    quantiles: tuple[float, ...] = eqx.field(static=True)
    covariates: int = eqx.field(static=True)
    kind: str = eqx.field(static=True, default="seq2seq")

    def __init__(
        self,
        horizon: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        attention: bool = False,
        head: str = "point",
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        cell: str = "lstm",
        dropout: float = 0.0,
        covariates: int = 0,
        key: Array,
    ):
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        k_enc, k_dec, k_attn, k_out = jax.random.split(key, 4)
        self.encoder = RNNStack(1 + covariates, hidden_size, num_layers, dropout=dropout, cell=cell, key=k_enc)
        self.decoder = RNNStack(horizon + covariates, hidden_size, num_layers, dropout=dropout, cell=cell,
                                key=k_dec)  # fmt: skip
        bound = 1.0 / hidden_size**0.5
        self.attn_weight = (
            jax.random.uniform(k_attn, (hidden_size, hidden_size), jnp.float32, -bound, bound) if attention else None
        )
        features = hidden_size * (2 if attention else 1)
        outputs = num_params(head, quantiles)
        self.out_weight = jax.random.uniform(k_out, (outputs, features), jnp.float32, -bound, bound)
        self.out_bias = jnp.zeros((outputs,), jnp.float32)
        self.horizon, self.head, self.quantiles, self.covariates = horizon, head, tuple(quantiles), covariates

    @property
    def num_params(self) -> int:
        return num_params(self.head, self.quantiles)

    @property
    def attention(self) -> bool:
        return self.attn_weight is not None

    def attention_weights(self, inputs: Array, lengths: Array, *, past: Array | None = None,
                          future: Array | None = None) -> Array:  # fmt: skip
        """The attention ``a`` ``[B, H, L]`` of each horizon step over the history (0 past ``lengths``)."""
        if not self.attention:
            raise ValueError("this forecaster has no attention (attention=False)")
        encoded, decoded = self._run(inputs, lengths, past, future, None)
        return self._attend(encoded, decoded, lengths)[1]

    def _run(self, inputs, lengths, past, future, key) -> tuple[Array, Array]:
        if inputs.ndim != 2:
            raise ValueError(f"expected inputs [B, L], got shape {tuple(inputs.shape)}")
        k_enc, k_dec = (None, None) if key is None else jax.random.split(key)
        encoded, state = self.encoder(with_covariates(inputs, past, self.covariates, "past"), lengths, key=k_enc)
        steps = jnp.broadcast_to(jnp.eye(self.horizon, dtype=inputs.dtype), (inputs.shape[0], self.horizon,
                                                                              self.horizon))  # fmt: skip
        if self.covariates:
            zeros = jnp.zeros((inputs.shape[0], self.horizon), inputs.dtype)
            steps = jnp.concatenate([steps, with_covariates(zeros, future, self.covariates, "future")[..., 1:]], -1)
        elif future is not None:
            raise ValueError("this forecaster takes no covariates, got future covariates")
        decoded, _ = self.decoder(steps, state=state, key=k_dec)
        return encoded, decoded

    def _attend(self, encoded: Array, decoded: Array, lengths: Array) -> tuple[Array, Array]:
        scores = jnp.einsum("bkh,hg,btg->bkt", decoded, self.attn_weight, encoded)
        weights = masked_softmax(scores, valid_mask(lengths, encoded.shape[1])[:, None, :])
        return jnp.einsum("bkt,bth->bkh", weights, encoded), weights

    def __call__(self, inputs: Array, lengths: Array, key: Array | None = None, *, past: Array | None = None,
                 future: Array | None = None) -> Array:  # fmt: skip
        encoded, decoded = self._run(inputs, lengths, past, future, key)
        features = decoded
        if self.attention:
            features = jnp.concatenate([decoded, self._attend(encoded, decoded, lengths)[0]], axis=-1)
        return features @ self.out_weight.T + broadcast_to_rank(self.out_bias, features)
