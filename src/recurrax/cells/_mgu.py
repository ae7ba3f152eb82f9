"""The minimal gated unit: a GRU with one gate."""

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


class MGUCell(AbstractCell):
    r"""Minimal gated unit (Zhou et al. 2016, "Minimal Gated Unit for Recurrent Neural Networks").

    One forget gate ``f`` does the work of the GRU's reset and update gates; the carry is the bare ``h``
    ``[B, H]``, also the output::

        f_t = σ(W_f x_t + U_f h_{t-1} + b_f)                       forget gate
        ñ_t = tanh(W_n x_t + U_n (f_t ⊙ h_{t-1}) + b_n)            candidate
        h_t = (1 - f_t) ⊙ h_{t-1} + f_t ⊙ ñ_t

    Fused parameters, blocks in the order f, n: ``weight_ih`` ``[2H, D]`` (``W_f; W_n``), ``weight_hh``
    ``[2H, H]`` (``U_f; U_n``), ``bias`` ``[2H]`` (``b_f; b_n``, None with ``bias=False``), folded into the
    hoisted input projection. ``recurrent_mask`` multiplies ``h_{t-1}`` where it enters ``U_f`` and ``U_n``,
    not in the final blend.

    Defaults: glorot-uniform ``weight_ih``, one orthogonal block per gate in ``weight_hh``, zero bias.

    Args:
        input_size: features per step ``D``.
        hidden_size: hidden units ``H``.
        key: PRNG key for the initial weights (keyword-only, required).
        bias: with ``bias``, default True.
        dtype: parameter dtype, default None (float32).

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> cell = rx.MGUCell(3, 5, key=jax.random.key(0))
        >>> h, y = cell(cell.init_carry(2), jnp.ones((2, 3)))
        >>> h.shape
        (2, 5)
    """

    weight_ih: Array
    weight_hh: Array
    bias: Array | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)

    def __init__(self, input_size: int, hidden_size: int, *, key: Array, bias: bool = True, dtype: Any = None):
        check_sizes(input_size, hidden_size)
        dtype = default_dtype(dtype)
        self.input_size, self.hidden_size = input_size, hidden_size
        k_ih, k_hh = jax.random.split(key)
        self.weight_ih = glorot_uniform(k_ih, (2 * hidden_size, input_size), dtype)
        self.weight_hh = orthogonal_blocks(k_hh, 2, hidden_size, hidden_size, dtype)
        self.bias = jnp.zeros((2 * hidden_size,), dtype) if bias else None

    def project_input(self, x: Array) -> Array:
        """``[..., D] -> [..., 2H]``: ``x W_ih^T + b``."""
        check_input_size(self, x)
        xp = matmul_t(x, self.weight_ih)
        return xp if self.bias is None else xp + broadcast_to_rank(self.bias, xp)

    def init_carry(self, batch_size: int, dtype: Any = None) -> Array:
        """``h`` zeros ``[B, H]``."""
        dtype = self.weight_hh.dtype if dtype is None else dtype
        return jnp.zeros((batch_size, self.hidden_size), dtype)

    def step(self, carry: Array, xp: Array, recurrent_mask: Array | None = None) -> tuple[Array, Array]:
        """``h, xp_t -> h, h`` by the equations in the class docstring."""
        h = carry
        h_in = masked(h, recurrent_mask)
        x_f, x_n = jnp.split(xp, 2, axis=-1)
        u_f, u_n = jnp.split(self.weight_hh, 2, axis=0)
        f = jax.nn.sigmoid(x_f + matmul_t(h_in, u_f))
        n = jnp.tanh(x_n + matmul_t(f * h_in, u_n))
        h_new = (1.0 - f) * h + f * n
        return h_new, h_new
