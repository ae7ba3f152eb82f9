"""The networks behind the anomaly scorers, their training loss and their per-point errors.

- `NextStep` (``prediction`` and ``nll``): a causal recurrent stack over ``[B, T, D]`` whose output at step
  ``t`` models ``x_{t+1}``: the point forecast ``x̂`` ``[D]`` (Hundman et al. 2018, "Telemanom"), or a
  Gaussian's mean and log-variance ``[2D]`` (the probabilistic forecaster behind the NLL score).
- `Autoencoder` (``reconstruction``): an LSTM encoder-decoder over windows ``[B, W, D]`` (Malhotra et al.
  2016). The encoder's final state starts the decoder, which reads zeros (the unconditioned decoder of
  Srivastava et al. 2015) and emits the window in reverse order, as Malhotra et al. do; `Autoencoder`
  returns it flipped back, so its output ``[B, W, D]`` is aligned with its input.

Per-point errors are in scaled units (the scorer's per-feature scaler) and averaged over features:
``|x - x̂|`` (prediction, reconstruction) and the Gaussian negative log-likelihood
``0.5 * (log 2π + s + (x - μ)^2 e^{-s})`` with ``s = log σ^2`` (nll).
"""

from __future__ import annotations

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...cells import broadcast_to_rank
from ...models import RNNStack

LOG_VAR_MIN, LOG_VAR_MAX = -10.0, 10.0


def _linear(key: Array, outputs: int, inputs: int) -> tuple[Array, Array]:
    bound = 1.0 / inputs**0.5
    return jax.random.uniform(key, (outputs, inputs), jnp.float32, -bound, bound), jnp.zeros((outputs,), jnp.float32)


def initial_state(rnn: RNNStack, batch: int) -> Any:
    """The zero state of ``rnn`` for ``batch`` sequences, stacked ``[L, B, ...]`` as `RNNStack` takes it."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *[layer.cell.init_carry(batch) for layer in rnn.layers])


class NextStep(eqx.Module):
    """``out, state = model(xs, state=None, key=None)``: ``xs`` ``[B, T, D]``, ``out`` ``[B, T, P * D]`` where
    ``out[:, t]`` models ``x_{t+1}`` (``P`` = 1: the point forecast; 2: Gaussian mean then log-variance).

    Weights (``N`` the stack's output size): ``rnn`` the `RNNStack` over ``[B, T, D]``; ``out_weight``
    ``[P * D, N]`` (rows: the ``D`` means, then the ``D`` log-variances when Gaussian); ``out_bias`` ``[P * D]``.

    Args:
        num_features: features per step ``D``.
        hidden_size: hidden units per layer.
        num_layers: stacked recurrent layers, default 1.
        gaussian: model a Gaussian (mean and log-variance, ``P = 2``) instead of a point forecast, default False.
        cell: registered cell name, default ``"lstm"``.
        dropout: dropout rate between recurrent layers, training mode only, default 0.0.
        key: PRNG key for the initial weights (keyword-only, required).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = NextStep(2, 8, gaussian=True, key=jax.random.key(0))
        >>> out, state = model(jnp.ones((3, 5, 2)))
        >>> out.shape
        (3, 5, 4)
    """

    rnn: RNNStack
    out_weight: Array
    out_bias: Array
    num_features: int = eqx.field(static=True)
    gaussian: bool = eqx.field(static=True)

    def __init__(
        self,
        num_features: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        gaussian: bool = False,
        cell: str = "lstm",
        dropout: float = 0.0,
        key: Array,
    ):
        k_rnn, k_out = jax.random.split(key)
        self.rnn = RNNStack(num_features, hidden_size, num_layers, dropout=dropout, cell=cell, key=k_rnn)
        outputs = num_features * (2 if gaussian else 1)
        self.out_weight, self.out_bias = _linear(k_out, outputs, self.rnn.output_size)
        self.num_features, self.gaussian = num_features, bool(gaussian)

    def __call__(self, xs: Array, state: Any = None, key: Array | None = None) -> tuple[Array, Any]:
        ys, state = self.rnn(xs, state=state, key=key)
        return ys @ self.out_weight.T + broadcast_to_rank(self.out_bias, ys), state

    def step(self, x: Array, state: Any) -> tuple[Array, Any]:
        """One time step by the cells themselves (no scan; inference): ``x`` ``[B, D]`` and the stacked
        ``state`` -> the output ``[B, P * D]`` for the next value and the new state."""
        carries = []
        for index, layer in enumerate(self.rnn.layers):
            carry, x = layer.cell(jax.tree.map(lambda leaf, i=index: leaf[i], state), x)
            carries.append(carry)
        state = jax.tree.map(lambda *leaves: jnp.stack(leaves), *carries)
        return x @ self.out_weight.T + broadcast_to_rank(self.out_bias, x), state

    def errors(self, out: Array, target: Array) -> Array:
        """Per-point errors ``[...]`` of the outputs ``out`` ``[..., P * D]`` for the values ``target`` ``[..., D]``."""
        d = self.num_features
        if not self.gaussian:
            return jnp.mean(jnp.abs(target - out), axis=-1)
        mean, log_var = out[..., :d], jnp.clip(out[..., d:], LOG_VAR_MIN, LOG_VAR_MAX)
        nll = 0.5 * (math.log(2 * math.pi) + log_var + (target - mean) ** 2 * jnp.exp(-log_var))
        return jnp.mean(nll, axis=-1)

    def loss(self, windows: Array, key: Array | None) -> Array:
        """Training loss of ``windows`` ``[B, W + 1, D]``: every one-step-ahead target from the zero state,
        mean squared error (point forecast) or mean NLL (Gaussian)."""
        out, _ = self(windows[:, :-1], key=key)
        if self.gaussian:
            return jnp.mean(self.errors(out, windows[:, 1:]))
        return jnp.mean((windows[:, 1:] - out) ** 2)


class Autoencoder(eqx.Module):
    """``recon = model(windows, key=None)``: ``windows`` ``[B, W, D]``, ``recon`` ``[B, W, D]`` aligned with them.

    Weights (``N`` the stacks' output size): ``encoder`` an `RNNStack` over ``[B, W, D]``; ``decoder`` an
    `RNNStack` over zeros ``[B, W, 1]``, started from the encoder's final state; ``out_weight`` ``[D, N]``,
    ``out_bias`` ``[D]``.

    Args:
        num_features: features per step ``D``.
        hidden_size: hidden units per layer of the encoder and the decoder.
        num_layers: stacked layers of each, default 1.
        cell: registered cell name, default ``"lstm"``.
        dropout: dropout rate between recurrent layers, training mode only, default 0.0.
        key: PRNG key for the initial weights (keyword-only, required).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = Autoencoder(2, 8, key=jax.random.key(0))
        >>> model(jnp.ones((3, 5, 2))).shape
        (3, 5, 2)
    """

    encoder: RNNStack
    decoder: RNNStack
    out_weight: Array
    out_bias: Array
    num_features: int = eqx.field(static=True)

    def __init__(
        self,
        num_features: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        cell: str = "lstm",
        dropout: float = 0.0,
        key: Array,
    ):
        k_enc, k_dec, k_out = jax.random.split(key, 3)
        self.encoder = RNNStack(num_features, hidden_size, num_layers, dropout=dropout, cell=cell, key=k_enc)
        self.decoder = RNNStack(1, hidden_size, num_layers, dropout=dropout, cell=cell, key=k_dec)
        self.out_weight, self.out_bias = _linear(k_out, num_features, self.decoder.output_size)
        self.num_features = num_features

    def __call__(self, windows: Array, key: Array | None = None) -> Array:
        k_enc, k_dec = (None, None) if key is None else jax.random.split(key)
        _, state = self.encoder(windows, key=k_enc)
        zeros = jnp.zeros((*windows.shape[:2], 1), windows.dtype)
        ys, _ = self.decoder(zeros, state=state, key=k_dec)
        recon = ys @ self.out_weight.T + broadcast_to_rank(self.out_bias, ys)
        return jnp.flip(recon, axis=1)

    def errors(self, windows: Array) -> Array:
        """Per-point reconstruction errors ``[B, W]`` of ``windows`` ``[B, W, D]``."""
        return jnp.mean(jnp.abs(windows - self(windows)), axis=-1)

    def loss(self, windows: Array, key: Array | None) -> Array:
        """Training loss of ``windows`` ``[B, W, D]``: mean squared reconstruction error."""
        return jnp.mean((windows - self(windows, key=key)) ** 2)


def scorer_loss(model: NextStep | Autoencoder, batch: dict[str, Array], carry: Any, key: Array) -> tuple[Array, Any]:
    """`recurrax.train.fit`'s ``loss_fn`` for either network: ``batch["windows"]`` as their ``loss`` takes."""
    return model.loss(batch["windows"], key), (carry, {})
