"""The gated recurrent unit, in PyTorch/cuDNN form and in the original form of Cho et al. 2014."""

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


class GRUCell(AbstractCell):
    r"""Gated recurrent unit (Cho et al. 2014), gate order **r, z, n**, carry the bare ``h`` ``[B, H]``.

    The default is the PyTorch/cuDNN form, where the reset gate multiplies the *result* of the recurrent
    matmul of the candidate::

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)              reset gate
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)              update gate
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))    candidate
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    ``cho=True`` is the original form of Cho et al. 2014, "Learning Phrase Representations using RNN
    Encoder-Decoder for Statistical Machine Translation", with the reset gate *before* the matmul and the same
    parameters::

        n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)

    Parameters carry torch's names and layouts (``torch.nn.GRU`` / ``GRUCell``): ``weight_ih`` ``[3H, D]``,
    ``weight_hh`` ``[3H, H]``, ``bias_ih`` and ``bias_hh`` ``[3H]`` (None with ``bias=False``), blocks in the
    order r, z, n. ``b_hr`` and ``b_hz`` (and ``b_hn`` in the Cho form) are folded into the hoisted input
    projection; ``b_hn`` of the default form sits inside ``r_t ⊙ (...)`` and stays in the step.
    ``recurrent_mask`` multiplies ``h_{t-1}`` where it enters the recurrent matmuls, not in the final blend.

    Defaults: glorot-uniform ``weight_ih``, one orthogonal block per gate in ``weight_hh``, zero biases.

    Args:
        input_size: features per step ``D``.
        hidden_size: hidden units ``H``.
        key: PRNG key for the initial weights (keyword-only, required).
        bias: with ``bias_ih`` and ``bias_hh``, default True.
        cho: the original form of Cho et al. 2014 (reset before the recurrent matmul), default False.
        dtype: parameter dtype, default None (float32).

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> cell = rx.GRUCell(3, 5, key=jax.random.key(0))
        >>> h, y = cell(cell.init_carry(2), jnp.ones((2, 3)))
        >>> h.shape, bool((h == y).all())
        ((2, 5), True)
    """

    weight_ih: Array
    weight_hh: Array
    bias_ih: Array | None
    bias_hh: Array | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    cho: bool = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        key: Array,
        bias: bool = True,
        cho: bool = False,
        dtype: Any = None,
    ):
        check_sizes(input_size, hidden_size)
        dtype = default_dtype(dtype)
        self.input_size, self.hidden_size, self.cho = input_size, hidden_size, bool(cho)
        k_ih, k_hh = jax.random.split(key)
        self.weight_ih = glorot_uniform(k_ih, (3 * hidden_size, input_size), dtype)
        self.weight_hh = orthogonal_blocks(k_hh, 3, hidden_size, hidden_size, dtype)
        if bias:
            self.bias_ih = jnp.zeros((3 * hidden_size,), dtype)
            self.bias_hh = jnp.zeros((3 * hidden_size,), dtype)
        else:
            self.bias_ih = self.bias_hh = None

    def project_input(self, x: Array) -> Array:
        """``[..., D] -> [..., 3H]``: ``x W_ih^T + b_ih`` plus ``b_hr, b_hz`` (and ``b_hn`` when ``cho``)."""
        check_input_size(self, x)
        xp = matmul_t(x, self.weight_ih)
        if self.bias_ih is None:
            return xp
        hidden = self.hidden_size
        if self.cho:
            folded = self.bias_hh
        else:  # b_hn stays inside r * (W_hn h + b_hn), in `step`
            folded = jnp.concatenate([self.bias_hh[: 2 * hidden], jnp.zeros_like(self.bias_hh[2 * hidden :])])
        return xp + broadcast_to_rank(self.bias_ih + folded, xp)

    def init_carry(self, batch_size: int, dtype: Any = None) -> Array:
        """``h`` zeros ``[B, H]``."""
        dtype = self.weight_hh.dtype if dtype is None else dtype
        return jnp.zeros((batch_size, self.hidden_size), dtype)

    @property
    def fusable(self) -> bool:
        """The PyTorch form runs on `recurrax.scan._fused_scan` (its step is one matmul, then `pointwise`);
        the Cho form's second matmul reads ``r_t ⊙ h_{t-1}`` and does not."""
        return not self.cho

    def step(self, carry: Array, xp: Array, recurrent_mask: Array | None = None) -> tuple[Array, Array]:
        """``h, xp_t -> h, h`` by the equations in the class docstring."""
        h = carry
        h_in = masked(h, recurrent_mask)
        if not self.cho:
            return self.pointwise(h, xp, matmul_t(h_in, self.weight_hh))
        x_r, x_z, x_n = jnp.split(xp, 3, axis=-1)
        hidden = self.hidden_size
        h_r, h_z = jnp.split(matmul_t(h_in, self.weight_hh[: 2 * hidden]), 2, axis=-1)
        r, z = jax.nn.sigmoid(x_r + h_r), jax.nn.sigmoid(x_z + h_z)
        n = jnp.tanh(x_n + matmul_t(r * h_in, self.weight_hh[2 * hidden :]))
        h_new = (1.0 - z) * n + z * h
        return h_new, h_new

    def pointwise(self, carry: Array, xp: Array, hw: Array) -> tuple[Array, Array]:
        """The PyTorch form's step after its recurrent matmul ``hw = h_{t-1} W_hh^T`` ``[B, 3H]``."""
        h = carry
        x_r, x_z, x_n = jnp.split(xp, 3, axis=-1)
        h_r, h_z, h_n = jnp.split(hw, 3, axis=-1)
        if self.bias_hh is not None:
            h_n = h_n + broadcast_to_rank(self.bias_hh[2 * self.hidden_size :], h_n)
        r, z = jax.nn.sigmoid(x_r + h_r), jax.nn.sigmoid(x_z + h_z)
        n = jnp.tanh(x_n + r * h_n)
        h_new = (1.0 - z) * n + z * h
        return h_new, h_new
