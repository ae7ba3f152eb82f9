"""The depth-gated LSTM of Yao et al. 2015: a gated linear connection between the memory cells of stacked layers."""

from __future__ import annotations

from typing import Any, ClassVar

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


class DepthGatedLSTMCell(AbstractCell):
    r"""Depth-gated LSTM (Yao, Cohn, Vylomova, Duh & Dyer 2015, "Depth-Gated LSTM").

    An LSTM (gate order **i, f, g, o**, carry **(h, c)**) whose memory cell also receives the memory cell
    ``c^{low}_t`` of the layer below, at the same time step, through a depth gate ``d_t``::

        i, f, g, o = split(W_ih x_t + W_hh h_{t-1} + b)
        d_t = σ(W_id x_t + w_cd ⊙ c_{t-1} + w_ld ⊙ c^{low}_t + b_d)         depth gate
        c_t = d_t ⊙ c^{low}_t + σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)
        h_t = σ(o) ⊙ tanh(c_t)

    The paper's LSTM has peepholes on i, f, o; here, as in the plain `LSTMCell`, it has none.

    Wiring across depth: a cell built with ``emit_memory=True`` outputs ``y_t = concat(h_t, c_t)``
    (``[B, 2H]``, ``output_size = 2H``); a cell built with ``lower_memory=True`` reads its input as that
    concatenation from the layer below, ``x = concat(h^{low}_t, c^{low}_t)`` with ``input_size = 2H``:
    ``W_ih`` and ``W_id`` apply to the ``h^{low}`` half, the ``c^{low}`` half feeds the depth gate. Without
    ``lower_memory`` there is no depth gate and the cell is a plain LSTM. In ``rx.RNNStack(cell="depth_gated")``
    layer ``l`` has ``lower_memory = l > 0`` and ``emit_memory = l < L - 1``, so the stack outputs ``h`` of
    the top layer; the stack cannot be bidirectional (the two directions' memories do not line up).

    Everything that depends on ``x_t`` alone (``W_ih x_t + b``, ``W_id x_t + w_ld ⊙ c^{low}_t + b_d`` and
    ``c^{low}_t`` itself) is hoisted out of the scan by `project_input`. ``recurrent_mask`` is
    shaped like ``h`` (``[B, H]``) as for every cell and multiplies ``h_{t-1}`` before ``W_hh``.

    Parameters: ``weight_ih`` ``[4H (+H), D_h]`` (glorot uniform; the extra ``H`` rows are ``W_id``, and
    ``D_h = input_size - H`` with lower memory), ``weight_hh`` ``[4H, H]`` (one orthogonal block per gate),
    ``bias`` ``[4H (+H)]`` (zero except the forget gate's ``forget_bias = 1.0``), and with lower memory the
    diagonal depth weights ``weight_depth_cell`` (``w_cd``) and ``weight_depth_lower`` (``w_ld``) ``[H]``
    (init 0, like peepholes). Row blocks of ``weight_ih`` and ``bias`` are in the order i, f, g, o, then
    ``d`` (``W_id``, ``b_d``) with lower memory; of ``weight_hh`` i, f, g, o.

    Args:
        input_size: features per step ``D`` (``2H``, ``concat(h^{low}, c^{low})``, with lower memory).
        hidden_size: cell units ``H``.
        key: PRNG key for the initial weights (keyword-only, required).
        lower_memory: read the layer below's memory and add the depth gate, default False.
        emit_memory: output ``concat(h_t, c_t)`` ``[B, 2H]`` for the layer above, default False.
        bias: with ``bias`` (and ``b_d``), default True.
        forget_bias: initial forget-gate block of ``bias``, default 1.0.
        dtype: parameter dtype, default None (float32).

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> model = rx.RNNStack(3, 5, num_layers=3, cell="depth_gated", key=jax.random.key(0))
        >>> ys, (h_n, c_n) = model(jnp.ones((2, 7, 3)))
        >>> ys.shape, model.layers[0].output_size, c_n.shape
        ((2, 7, 5), 10, (3, 2, 5))
    """

    supports_bidirectional: ClassVar[bool] = False
    """Read by `RNNStack`: the memories of the two directions of a layer below would not line up."""

    weight_ih: Array
    weight_hh: Array
    bias: Array | None
    weight_depth_cell: Array | None
    weight_depth_lower: Array | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    lower_memory: bool = eqx.field(static=True)
    emit_memory: bool = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        key: Array,
        lower_memory: bool = False,
        emit_memory: bool = False,
        bias: bool = True,
        forget_bias: float = 1.0,
        dtype: Any = None,
    ):
        check_sizes(input_size, hidden_size)
        if lower_memory and input_size != 2 * hidden_size:
            raise ValueError(
                "lower_memory=True reads concat(h_lower, c_lower) from a layer of the same hidden size: "
                f"input_size must be 2 * hidden_size = {2 * hidden_size}, got {input_size}"
            )
        dtype = default_dtype(dtype)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.lower_memory, self.emit_memory = bool(lower_memory), bool(emit_memory)
        blocks = 5 if self.lower_memory else 4
        k_ih, k_hh = jax.random.split(key)
        self.weight_ih = glorot_uniform(k_ih, (blocks * hidden_size, self.features), dtype)
        self.weight_hh = orthogonal_blocks(k_hh, 4, hidden_size, hidden_size, dtype)
        if bias:
            self.bias = jnp.zeros((blocks, hidden_size), dtype).at[1].set(forget_bias).reshape(-1)
        else:
            self.bias = None
        if self.lower_memory:
            self.weight_depth_cell = jnp.zeros((hidden_size,), dtype)
            self.weight_depth_lower = jnp.zeros((hidden_size,), dtype)
        else:
            self.weight_depth_cell = self.weight_depth_lower = None

    @property
    def output_size(self) -> int:
        return 2 * self.hidden_size if self.emit_memory else self.hidden_size

    @property
    def features(self) -> int:
        """Width of the part of the input that ``W_ih`` reads (the ``h^{low}`` half with lower memory)."""
        return self.input_size - self.hidden_size if self.lower_memory else self.input_size

    def project_input(self, x: Array) -> Array:
        """``[..., D] -> [..., G]``: ``W_ih x + b`` (``4H``), then with lower memory the depth gate's input
        term ``W_id x + w_ld ⊙ c^{low} + b_d`` (``H``) and ``c^{low}`` (``H``): ``G = 4H`` or ``6H``."""
        check_input_size(self, x)
        x, c_lower = x[..., : self.features], x[..., self.features :]
        xp = matmul_t(x, self.weight_ih)
        if self.bias is not None:
            xp = xp + broadcast_to_rank(self.bias, xp)
        if not self.lower_memory:
            return xp
        gates, depth = xp[..., : 4 * self.hidden_size], xp[..., 4 * self.hidden_size :]
        depth = depth + broadcast_to_rank(self.weight_depth_lower, c_lower) * c_lower
        return jnp.concatenate([gates, depth, c_lower], axis=-1)

    def init_carry(self, batch_size: int, dtype: Any = None):
        """``(h, c)`` zeros, each ``[B, H]``."""
        dtype = self.weight_hh.dtype if dtype is None else dtype
        zeros = jnp.zeros((batch_size, self.hidden_size), dtype)
        return zeros, zeros

    def step(self, carry, xp: Array, recurrent_mask: Array | None = None):
        """``(h, c), xp_t -> (h, c), y_t`` with ``y_t = concat(h_t, c_t)`` when emitting memory, else ``h_t``."""
        return self.pointwise(carry, xp, matmul_t(masked(carry[0], recurrent_mask), self.weight_hh))

    fusable = False
    """Runs on the generic scan where the native kernel does not (`recurrax.scan._native`: on CPU, with lower
    memory): `recurrax.scan._fused_scan` took 1.19x / 1.13x its fwd+bwd time at c1 / c2
    (`benchmarks/variant_speed.py`, 2026-12-07; docs/benchmarks.md section 9)."""

    def pointwise(self, carry, xp: Array, hw: Array):
        """The step after its recurrent matmul ``hw = h_{t-1} W_hh^T`` ``[B, 4H]``."""
        h, c = carry
        H = self.hidden_size
        z = xp[..., : 4 * H] + hw
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        if self.lower_memory:
            d = jax.nn.sigmoid(xp[..., 4 * H : 5 * H] + broadcast_to_rank(self.weight_depth_cell, c) * c)
            c_new = c_new + d * xp[..., 5 * H :]
        h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
        y = jnp.concatenate([h_new, c_new], axis=-1) if self.emit_memory else h_new
        return (h_new, c_new), y
