"""`SequenceClassifier`: recurrent stack -> pooling over the valid steps -> linear layer over the classes."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...cells import glorot_uniform
from ...models import RNNStack, masked_softmax
from ...scan import check_rate, dropout, last_valid, valid_mask

POOLINGS = ("last", "mean", "attention")
INPUT_NORMS = ("none", "series")
CONV_NORMS = ("none", "layer", "instance")


class SequenceClassifier(eqx.Module):
    """A recurrent sequence classifier.

    ``logits = model(xs, lengths=None, key=None)``: ``xs`` ``[B, T, D]``, ``lengths`` ``[B]`` ints (None: all
    ``T`` steps), ``logits`` ``[B, C]``. With ``y_t`` ``[B, T, H']`` the stack's outputs (``H' = 2H``
    bidirectional, forward features first) and ``n_b`` the length of sequence ``b``::

        last:       z = y_{n-1}                            (unidirectional)
                    z = [y^fwd_{n-1}; y^bwd_0]             (bidirectional: each direction's final step)
        mean:       z = (1/n) sum_{t<n} y_t
        attention:  a = softmax_{t<n}(v . tanh(W y_t + b)),  z = sum_{t<n} a_t y_t   (Yang et al. 2016)
        logits = dropout(z) @ W_out^T + b_out

    ``input_norm = "series"`` first z-normalises every sequence on its own, each feature over its valid
    steps (per-series normalisation, the usual preprocessing of the UCR archive; Dau et al. 2019)::

        x'_{b,t,d} = (x_{b,t,d} - mu_{b,d}) / s_{b,d}  for t < n_b, 0 after,
        mu_{b,d} = (1/n_b) sum_{t<n_b} x_{b,t,d},  s_{b,d} = sqrt((1/n_b) sum_{t<n_b} (x_{b,t,d} - mu_{b,d})^2)

    (``s`` below 1e-8, a constant feature, counts as 1). It lives in the model, so every inference path
    (predict, export, the service) applies it; the dataset standardisation before it changes nothing.

    With ``conv_channels`` ``(C_1, ..., C_k)`` a convolution branch runs beside the stack (LSTM-FCN, Karim et
    al. 2017): ``u_0 = xs``, ``u_j = relu(norm_j(conv_j(u_{j-1}) + b_j)) * valid`` ("same" padding, width
    ``conv_kernels[j]``), and ``z`` becomes ``[z; (1/n) sum_{t<n} u_k]``. ``conv_norm`` stands in for the
    paper's batch normalisation with statistics of each sequence alone (no batch statistics, so training and
    inference compute the same function; `group_normalise`): ``"layer"`` z-normalises ``a = conv_j(.) + b_j``
    over all channels and valid steps of the sequence, ``"instance"`` each channel over the valid steps, then
    ``norm_j(a) = gamma_j * a' + beta_j`` (per-channel, initialised 1 and 0); ``"none"``: ``norm_j(a) = a``.

    ``rnn_stride = s > 1`` feeds the stack every ``s``-th step only (``x_0, x_s, ...``, ``ceil(n / s)`` steps),
    while the convolution branch reads every step: long series cost the recurrent scan ``s`` times less and
    the convolutions keep full resolution.

    Padding never reaches the result: the stack zeroes its outputs past each length and its backward
    direction starts at each sequence's last valid step; the pooling reads only the valid steps.
    ``cell`` is any registered cell (`RNNStack`); ``key`` turns on dropout (training mode).

    Weights (``H'`` the stack's output size, ``A = attention_size``, ``C_k`` the last conv channel count or 0):
    ``rnn`` the `RNNStack`; ``attention_weight`` ``W`` ``[A, H']``, ``attention_bias`` ``b`` ``[A]``,
    ``attention_vector`` ``v`` ``[A]`` (None unless ``pooling="attention"``); ``conv_weights[j]``
    ``[C_j, C_{j-1}, conv_kernels[j]]`` (``C_0 = D``), ``conv_biases[j]`` ``[C_j]``, ``conv_scales[j]`` and
    ``conv_shifts[j]`` ``[C_j]`` (``gamma_j``, ``beta_j``; empty with ``conv_norm="none"``); ``head_weight``
    ``W_out`` ``[num_classes, H' + C_k]``, ``head_bias`` ``b_out`` ``[num_classes]``.

    Args:
        input_size: features per step ``D``.
        num_classes: classes ``C`` (at least 2).
        hidden_size: hidden units per layer and direction ``H`` (keyword-only, required).
        num_layers: stacked recurrent layers, default 1.
        bidirectional: forward and backward layers, default False.
        pooling: ``"last"``, ``"mean"`` or ``"attention"``, default ``"last"``.
        attention_size: width ``A`` of the attention MLP, default 32.
        dropout: dropout rate between recurrent layers and on ``z`` before the head, default 0.0.
        cell: registered cell name, default ``"lstm"``.
        conv_channels: channels of the LSTM-FCN convolution branch, ``()`` for none, default ``()``.
        conv_kernels: one kernel width per conv layer, default ``(8, 5, 3)``.
        input_norm: ``"none"`` or ``"series"`` (per-sequence z-normalisation), default ``"none"``.
        conv_norm: ``"none"``, ``"layer"`` or ``"instance"`` after each convolution, default ``"none"``.
        rnn_stride: the stack reads every ``rnn_stride``-th step, default 1.
        key: PRNG key for the initial weights (required).
        **options: further `RNNStack` / cell options (``recurrent_dropout``, ``zoneout``, ``peepholes``, ...).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = SequenceClassifier(3, 4, hidden_size=8, bidirectional=True, key=jax.random.key(0))
        >>> model(jnp.ones((2, 5, 3)), lengths=jnp.array([5, 2])).shape
        (2, 4)
    """

    rnn: RNNStack
    attention_weight: Array | None
    attention_bias: Array | None
    attention_vector: Array | None
    conv_weights: tuple[Array, ...]
    conv_biases: tuple[Array, ...]
    conv_scales: tuple[Array, ...]
    conv_shifts: tuple[Array, ...]
    head_weight: Array
    head_bias: Array
    num_classes: int = eqx.field(static=True)
    pooling: str = eqx.field(static=True)
    dropout: float = eqx.field(static=True)
    input_norm: str = eqx.field(static=True)
    conv_norm: str = eqx.field(static=True)
    rnn_stride: int = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        *,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        pooling: str = "last",
        attention_size: int = 32,
        dropout: float = 0.0,
        cell: str = "lstm",
        conv_channels: tuple[int, ...] = (),
        conv_kernels: tuple[int, ...] = (8, 5, 3),
        input_norm: str = "none",
        conv_norm: str = "none",
        rnn_stride: int = 1,
        key: Array,
        **options: Any,
    ):
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if conv_channels and len(conv_kernels) != len(conv_channels):
            raise ValueError(f"conv_kernels needs one width per conv_channels entry, got {conv_kernels}")
        if input_norm not in INPUT_NORMS:
            raise ValueError(f"input_norm must be one of {INPUT_NORMS}, got {input_norm!r}")
        if conv_norm not in CONV_NORMS:
            raise ValueError(f"conv_norm must be one of {CONV_NORMS}, got {conv_norm!r}")
        if rnn_stride < 1:
            raise ValueError(f"rnn_stride must be >= 1, got {rnn_stride}")
        k_rnn, k_att, k_vec, k_head, k_conv = jax.random.split(key, 5)
        self.input_norm, self.conv_norm, self.rnn_stride = input_norm, conv_norm, rnn_stride
        self.num_classes, self.pooling, self.dropout = num_classes, pooling, check_rate("dropout", dropout)
        self.rnn = RNNStack(
            input_size, hidden_size, num_layers, bidirectional, dropout, cell=cell, key=k_rnn, **options
        )
        out = self.rnn.output_size
        if pooling == "attention":
            self.attention_weight = glorot_uniform(k_att, (attention_size, out), jnp.float32)
            self.attention_bias = jnp.zeros((attention_size,), jnp.float32)
            self.attention_vector = jax.random.uniform(k_vec, (attention_size,), jnp.float32, -0.1, 0.1)
        else:
            self.attention_weight = self.attention_bias = self.attention_vector = None
        sizes = (input_size, *conv_channels)
        self.conv_weights = tuple(  # He-uniform: bound sqrt(6 / fan_in)
            jax.random.uniform(k, (c_out, c_in, width), jnp.float32, -1.0, 1.0) * (6.0 / (c_in * width)) ** 0.5
            for k, c_in, c_out, width in zip(jax.random.split(k_conv, max(len(conv_channels), 1)), sizes,
                                             conv_channels, conv_kernels)
        )  # fmt: skip
        self.conv_biases = tuple(jnp.zeros((c,), jnp.float32) for c in conv_channels)
        normed = conv_channels if conv_norm != "none" else ()
        self.conv_scales = tuple(jnp.ones((c,), jnp.float32) for c in normed)
        self.conv_shifts = tuple(jnp.zeros((c,), jnp.float32) for c in normed)
        out += conv_channels[-1] if conv_channels else 0
        self.head_weight = glorot_uniform(k_head, (num_classes, out), jnp.float32)
        self.head_bias = jnp.zeros((num_classes,), jnp.float32)

    def __call__(self, xs: Array, lengths: Array | None = None, key: Array | None = None) -> Array:
        if xs.ndim != 3:
            raise ValueError(f"expected xs [B, T, D], got shape {tuple(xs.shape)}")
        batch, steps = xs.shape[0], xs.shape[1]
        if lengths is None:
            lengths = jnp.full((batch,), steps, jnp.int32)
        k_rnn, k_out = (None, None) if key is None else jax.random.split(key)
        if self.input_norm == "series":
            xs = series_normalise(xs, lengths)
        if self.rnn_stride > 1:
            step = self.rnn_stride
            ys = self.rnn.outputs(xs[:, ::step], (lengths + step - 1) // step, key=k_rnn)
            pooled = self.pool(ys, (lengths + step - 1) // step)
        else:
            ys = self.rnn.outputs(xs, lengths, key=k_rnn)
            pooled = self.pool(ys, lengths)
        if self.conv_weights:
            pooled = jnp.concatenate([pooled, self.conv_features(xs, lengths)], axis=-1)
        pooled = dropout(pooled, self.dropout, k_out)
        return pooled @ self.head_weight.T + self.head_bias.reshape(1, -1)

    def conv_features(self, xs: Array, lengths: Array) -> Array:
        """The convolution branch: ``[B, T, D]`` -> ``[B, C_k]``, the mean of its last layer over the valid steps."""
        mask = valid_mask(lengths, xs.shape[1]).astype(xs.dtype)[:, :, None]
        hidden = xs * mask
        for j, (weight, bias) in enumerate(zip(self.conv_weights, self.conv_biases)):
            hidden = jax.lax.conv_general_dilated(
                hidden, weight, window_strides=(1,), padding="SAME", dimension_numbers=("NWC", "OIW", "NWC")
            )
            hidden = hidden + bias.reshape(1, 1, -1)
            if self.conv_norm != "none":
                groups = 1 if self.conv_norm == "layer" else hidden.shape[2]
                hidden = group_normalise(hidden, lengths, groups)
                hidden = hidden * self.conv_scales[j].reshape(1, 1, -1) + self.conv_shifts[j].reshape(1, 1, -1)
            hidden = jax.nn.relu(hidden) * mask
        return jnp.sum(hidden, axis=1) / jnp.maximum(lengths, 1).astype(xs.dtype).reshape(-1, 1)

    def attention(self, ys: Array, lengths: Array) -> Array:
        """The attention-pooling weights ``[B, T]`` (sum 1 over the valid steps, 0 on padding)."""
        if self.attention_weight is None:
            raise ValueError("attention weights exist only with pooling='attention'")
        hidden = jnp.tanh(ys @ self.attention_weight.T + self.attention_bias.reshape(1, 1, -1))
        return masked_softmax(hidden @ self.attention_vector, valid_mask(lengths, ys.shape[1]))

    def pool(self, ys: Array, lengths: Array) -> Array:
        """``[B, T, H']`` outputs -> ``[B, H']`` by ``self.pooling`` (see the class docstring)."""
        mask = valid_mask(lengths, ys.shape[1]).astype(ys.dtype)
        if self.pooling == "mean":
            total = jnp.sum(ys * mask[:, :, None], axis=1)
            return total / jnp.maximum(lengths, 1).astype(ys.dtype).reshape(-1, 1)
        if self.pooling == "attention":
            return jnp.sum(ys * self.attention(ys, lengths)[:, :, None], axis=1)
        return last_valid(ys, lengths, self.rnn.bidirectional)


def series_normalise(xs: Array, lengths: Array) -> Array:
    """``[B, T, D]`` -> ``[B, T, D]``: each sequence's features z-normalised over its own valid steps
    (population standard deviation; below 1e-8 it counts as 1), zero past each length."""
    mask = valid_mask(lengths, xs.shape[1]).astype(xs.dtype)[:, :, None]
    count = jnp.maximum(lengths, 1).astype(xs.dtype).reshape(-1, 1, 1)
    mean = jnp.sum(xs * mask, axis=1, keepdims=True) / count
    centred = (xs - mean) * mask
    std = jnp.sqrt(jnp.sum(centred * centred, axis=1, keepdims=True) / count)
    return centred / jnp.where(std < 1e-8, 1.0, std)


def group_normalise(hs: Array, lengths: Array, groups: int) -> Array:
    """``[B, T, C]`` -> ``[B, T, C]``: the ``C`` channels cut into ``groups`` consecutive groups, each group of
    each sequence z-normalised over its channels and valid steps (group normalisation, Wu and He 2018, over
    the valid steps only; population variance, ``eps = 1e-5``), zero past each length. ``groups = 1``: layer
    normalisation over channels and time; ``groups = C``: instance normalisation (each channel alone)."""
    batch, steps, channels = hs.shape
    if channels % groups:
        raise ValueError(f"groups must divide the {channels} channels, got {groups}")
    mask = valid_mask(lengths, steps).astype(hs.dtype)[:, :, None, None]
    grouped = hs.reshape(batch, steps, groups, channels // groups)
    count = jnp.maximum(lengths, 1).astype(hs.dtype).reshape(-1, 1, 1, 1) * (channels // groups)
    mean = jnp.sum(grouped * mask, axis=(1, 3), keepdims=True) / count
    centred = (grouped - mean) * mask
    var = jnp.sum(centred * centred, axis=(1, 3), keepdims=True) / count
    return (centred * jax.lax.rsqrt(var + 1e-5)).reshape(batch, steps, channels)
