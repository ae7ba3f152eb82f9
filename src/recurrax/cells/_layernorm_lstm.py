"""The layer-normalised LSTM of Ba, Kiros & Hinton 2016."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._base import (
    AbstractCell,
    broadcast_to_rank,
    check_input_size,
    check_sizes,
    default_dtype,
    glorot_uniform,
    masked,
    matmul_t,
    orthogonal_blocks,
)


def layer_norm(v: Array, gain: Array, shift: Array | None, eps: float) -> Array:
    """``gain ⊙ (v - mean(v)) / sqrt(var(v) + eps) + shift``, statistics over the last axis."""
    mean = jnp.mean(v, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(v - mean), axis=-1, keepdims=True)
    out = broadcast_to_rank(gain, v) * ((v - mean) * jax.lax.rsqrt(var + eps))
    return out if shift is None else out + broadcast_to_rank(shift, v)


class LayerNormLSTMCell(AbstractCell):
    r"""LSTM with layer normalisation (Ba, Kiros & Hinton 2016, "Layer Normalization", section 6 / eq. 20-22).

    The paper's formulation: the input and the recurrent term are normalised separately, each over the
    whole fused ``4H`` pre-activation vector (not gate by gate as in TF's ``LayerNormBasicLSTMCell``), and
    the cell state is normalised before the output non-linearity. Gate order **i, f, g, o**, carry
    **(h, c)**::

        z_t = LN(W_ih x_t; γ_x, β_x) + LN(W_hh h_{t-1}; γ_h, β_h) + b       [B, 4H], split into i, f, g, o
        c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)
        h_t = σ(o) ⊙ tanh(LN(c_t; γ_c, β_c))

    with ``LN(v; γ, β) = γ ⊙ (v - mean(v)) / sqrt(var(v) + eps) + β`` over the last axis. The input term
    ``LN(W_ih x_t) + b`` depends only on ``x_t`` and is hoisted out of the scan by `project_input`.
    ``recurrent_mask`` multiplies ``h_{t-1}`` before ``W_hh``.

    Parameters: ``weight_ih`` ``[4H, D]`` (glorot uniform), ``weight_hh`` ``[4H, H]`` (one orthogonal block
    per gate), gains ``ln_x_gain``, ``ln_h_gain`` ``[4H]`` and ``ln_c_gain`` ``[H]`` (init 1), shifts
    ``ln_x_bias``, ``ln_h_bias`` ``[4H]`` and ``ln_c_bias`` ``[H]`` (init 0) and ``bias`` ``[4H]`` (zero
    except the forget gate's ``forget_bias = 1.0``). ``bias=False`` drops every additive parameter (``b``
    and the three shifts), leaving gain-only normalisation. Every ``[4H]`` vector and the rows of both
    weights are in blocks of ``H`` in the gate order i, f, g, o (the forget bias is block 1).

    Args:
        input_size: features per step ``D``.
        hidden_size: cell units ``H``.
        key: PRNG key for the initial weights (keyword-only, required).
        bias: with ``bias`` and the shifts ``ln_*_bias``, default True.
        forget_bias: initial forget-gate block of ``bias``, default 1.0.
        eps: added to the variance in every layer normalisation, default 1e-5.
        dtype: parameter dtype, default None (float32).

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> cell = rx.LayerNormLSTMCell(3, 5, key=jax.random.key(0))
        >>> (h, c), y = cell(cell.init_carry(2), jnp.ones((2, 3)))
        >>> y.shape, c.shape
        ((2, 5), (2, 5))
    """

    weight_ih: Array
    weight_hh: Array
    ln_x_gain: Array
    ln_h_gain: Array
    ln_c_gain: Array
    ln_x_bias: Array | None
    ln_h_bias: Array | None
    ln_c_bias: Array | None
    bias: Array | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    eps: float = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        key: Array,
        bias: bool = True,
        forget_bias: float = 1.0,
        eps: float = 1e-5,
        dtype: Any = None,
    ):
        check_sizes(input_size, hidden_size)
        if eps <= 0.0:
            raise ValueError(f"eps must be positive, got {eps}")
        dtype = default_dtype(dtype)
        self.input_size, self.hidden_size, self.eps = input_size, hidden_size, float(eps)
        k_ih, k_hh = jax.random.split(key)
        self.weight_ih = glorot_uniform(k_ih, (4 * hidden_size, input_size), dtype)
        self.weight_hh = orthogonal_blocks(k_hh, 4, hidden_size, hidden_size, dtype)
        self.ln_x_gain = jnp.ones((4 * hidden_size,), dtype)
        self.ln_h_gain = jnp.ones((4 * hidden_size,), dtype)
        self.ln_c_gain = jnp.ones((hidden_size,), dtype)
        if bias:
            self.ln_x_bias = jnp.zeros((4 * hidden_size,), dtype)
            self.ln_h_bias = jnp.zeros((4 * hidden_size,), dtype)
            self.ln_c_bias = jnp.zeros((hidden_size,), dtype)
            self.bias = jnp.zeros((4, hidden_size), dtype).at[1].set(forget_bias).reshape(-1)
        else:
            self.ln_x_bias = self.ln_h_bias = self.ln_c_bias = self.bias = None

    def project_input(self, x: Array) -> Array:
        """``[..., D] -> [..., 4H]``: ``LN(x W_ih^T; γ_x, β_x) + b``."""
        check_input_size(self, x)
        xp = layer_norm(matmul_t(x, self.weight_ih), self.ln_x_gain, self.ln_x_bias, self.eps)
        return xp if self.bias is None else xp + broadcast_to_rank(self.bias, xp)

    def init_carry(self, batch_size: int, dtype: Any = None):
        """``(h, c)`` zeros, each ``[B, H]``."""
        dtype = self.weight_hh.dtype if dtype is None else dtype
        zeros = jnp.zeros((batch_size, self.hidden_size), dtype)
        return zeros, zeros

    def step(self, carry, xp: Array, recurrent_mask: Array | None = None):
        """``(h, c), xp_t -> (h, c), h`` by the equations in the class docstring."""
        return self.pointwise(carry, xp, matmul_t(masked(carry[0], recurrent_mask), self.weight_hh))

    fusable = True
    """Runs on `recurrax.scan._fused_scan`: the step is the recurrent matmul and then `pointwise`."""

    def pointwise(self, carry, xp: Array, hw: Array):
        """The step after its recurrent matmul ``hw = h_{t-1} W_hh^T`` ``[B, 4H]``."""
        h, c = carry
        recurrent = layer_norm(hw, self.ln_h_gain, self.ln_h_bias, self.eps)
        i, f, g, o = jnp.split(xp + recurrent, 4, axis=-1)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h_new = jax.nn.sigmoid(o) * jnp.tanh(layer_norm(c_new, self.ln_c_gain, self.ln_c_bias, self.eps))
        return (h_new, c_new), h_new
