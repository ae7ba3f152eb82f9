"""The Elman recurrent network: one non-linearity over the input and the previous hidden state."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._base import (
    NONLINEARITIES,
    AbstractCell,
    broadcast_to_rank,
    check_input_size,
    check_nonlinearity,
    check_sizes,
    default_dtype,
    glorot_uniform,
    masked,
    matmul_t,
    orthogonal_blocks,
)


class RNNCell(AbstractCell):
    r"""Elman recurrent cell (Elman 1990, "Finding Structure in Time"), torch's ``nn.RNNCell``::

        h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)        act = tanh (default) or relu

    The carry is the bare ``h`` ``[B, H]``, also the output. Parameters carry torch's names and layouts:
    ``weight_ih`` ``[H, D]``, ``weight_hh`` ``[H, H]``, ``bias_ih`` and ``bias_hh`` ``[H]`` (None with
    ``bias=False``); both biases are folded into the hoisted input projection. ``recurrent_mask`` multiplies
    ``h_{t-1}`` before ``W_hh``.

    Defaults: glorot-uniform ``weight_ih``, orthogonal ``weight_hh``, zero biases.

    Args:
        input_size: features per step ``D``.
        hidden_size: hidden units ``H``.
        key: PRNG key for the initial weights (keyword-only, required).
        nonlinearity: ``"tanh"`` or ``"relu"``, default ``"tanh"``.
        bias: with ``bias_ih`` and ``bias_hh``, default True.
        dtype: parameter dtype, default None (float32).

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> cell = rx.RNNCell(3, 5, key=jax.random.key(0), nonlinearity="relu")
        >>> h, y = cell(cell.init_carry(2), jnp.ones((2, 3)))
        >>> h.shape, bool((y >= 0).all())
        ((2, 5), True)
    """

    weight_ih: Array
    weight_hh: Array
    bias_ih: Array | None
    bias_hh: Array | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    nonlinearity: str = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        key: Array,
        nonlinearity: str = "tanh",
        bias: bool = True,
        dtype: Any = None,
    ):
        check_nonlinearity(nonlinearity)
        check_sizes(input_size, hidden_size)
        dtype = default_dtype(dtype)
        self.input_size, self.hidden_size, self.nonlinearity = input_size, hidden_size, nonlinearity
        k_ih, k_hh = jax.random.split(key)
        self.weight_ih = glorot_uniform(k_ih, (hidden_size, input_size), dtype)
        self.weight_hh = orthogonal_blocks(k_hh, 1, hidden_size, hidden_size, dtype)
        if bias:
            self.bias_ih = jnp.zeros((hidden_size,), dtype)
            self.bias_hh = jnp.zeros((hidden_size,), dtype)
        else:
            self.bias_ih = self.bias_hh = None

    def project_input(self, x: Array) -> Array:
        """``[..., D] -> [..., H]``: ``x W_ih^T + b_ih + b_hh``."""
        check_input_size(self, x)
        xp = matmul_t(x, self.weight_ih)
        if self.bias_ih is not None:
            xp = xp + broadcast_to_rank(self.bias_ih + self.bias_hh, xp)
        return xp

    def init_carry(self, batch_size: int, dtype: Any = None) -> Array:
        """``h`` zeros ``[B, H]``."""
        dtype = self.weight_hh.dtype if dtype is None else dtype
        return jnp.zeros((batch_size, self.hidden_size), dtype)

    def step(self, carry: Array, xp: Array, recurrent_mask: Array | None = None) -> tuple[Array, Array]:
        """``h, xp_t -> h, h``: ``act(xp_t + W_hh h_{t-1})``."""
        return self.pointwise(carry, xp, matmul_t(masked(carry, recurrent_mask), self.weight_hh))

    fusable = True
    pointwise_sums_hw = True
    """`pointwise` reads ``hw`` only through ``xp[..., :G] + hw`` (see `recurrax.scan._fused_scan`)."""
    """Runs on `recurrax.scan._fused_scan`: the step is the recurrent matmul and then `pointwise`."""

    def pointwise(self, carry: Array, xp: Array, hw: Array) -> tuple[Array, Array]:
        """``act(xp_t + hw)`` with ``hw = h_{t-1} W_hh^T``."""
        h_new = NONLINEARITIES[self.nonlinearity](xp + hw)
        return h_new, h_new
