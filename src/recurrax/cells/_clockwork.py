"""The Clockwork RNN of Koutník et al. 2014: modules of hidden units that update at their own periods."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
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

DEFAULT_PERIODS = (1, 2, 4, 8)


class ClockworkRNNCell(AbstractCell):
    r"""Clockwork RNN (Koutník, Greff, Gomez & Schmidhuber 2014, "A Clockwork RNN").

    The ``H`` hidden units form ``g = len(periods)`` equal modules of ``H / g`` units with periods
    ``T_1 < ... < T_g`` (default ``(1, 2, 4, 8)``, the paper's exponential ``2^k``). Module ``i`` updates at
    step ``t`` only when ``t mod T_i == 0`` and keeps its value otherwise; it reads the recurrent state only
    of the modules at least as slow as itself (``T_j >= T_i``), so ``W_hh`` is block-upper-triangular::

        a_t    = act(W_ih x_t + b + (M ⊙ W_hh) h_{t-1})        M[u, v] = 1 iff T(v) >= T(u)
        h_t[u] = a_t[u] if t mod T(u) == 0 else h_{t-1}[u]      T(u): the period of unit u's module

    ``act`` is ``tanh`` (default) or ``relu``; the output is ``h_t``. The carry is **(h, t)**: ``h``
    ``[B, H]`` and ``t`` an int32 ``[B]`` counter of the steps this sequence has read (padded steps leave it
    alone, as they leave every carry leaf). Every unit's activation is computed at every step and the clock
    selects; the mask ``M`` is applied in the forward pass, so the entries of ``weight_hh`` below the block
    diagonal are unused and get zero gradient (they are also initialised to zero).

    ``W_ih x_t + b`` is hoisted out of the scan by `project_input`; ``recurrent_mask`` multiplies ``h_{t-1}``
    before ``W_hh`` (the kept value of a sleeping module is not masked).

    Parameters: ``weight_ih`` ``[H, D]`` (glorot uniform), ``weight_hh`` ``[H, H]`` (orthogonal, then
    masked by ``M``), ``bias`` ``[H]`` (zero; None with ``bias=False``). Rows and columns are grouped by
    module in the order of ``periods``: units ``k H/g ... (k+1) H/g - 1`` have period ``T_{k+1}``.

    Args:
        input_size: features per step ``D``.
        hidden_size: hidden units ``H``, divisible by ``len(periods)``.
        key: PRNG key for the initial weights (keyword-only, required).
        periods: strictly increasing module periods, default ``(1, 2, 4, 8)``.
        nonlinearity: ``"tanh"`` or ``"relu"``, default ``"tanh"``.
        bias: with ``bias``, default True.
        dtype: parameter dtype, default None (float32).

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> cell = rx.ClockworkRNNCell(3, 8, key=jax.random.key(0), periods=(1, 2, 4, 8))
        >>> ys, (h, t) = rx.RNN(cell)(jnp.ones((2, 5, 3)), lengths=jnp.array([5, 3]))
        >>> ys.shape, t.tolist()
        ((2, 5, 8), [5, 3])
    """

    weight_ih: Array
    weight_hh: Array
    bias: Array | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    periods: tuple[int, ...] = eqx.field(static=True)
    nonlinearity: str = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        key: Array,
        periods: Sequence[int] = DEFAULT_PERIODS,
        nonlinearity: str = "tanh",
        bias: bool = True,
        dtype: Any = None,
    ):
        check_sizes(input_size, hidden_size)
        check_nonlinearity(nonlinearity)
        periods = tuple(int(p) for p in periods)
        if not periods or periods[0] < 1 or any(a >= b for a, b in zip(periods, periods[1:])):
            raise ValueError(f"periods must be positive and strictly increasing, got {periods}")
        if hidden_size % len(periods):
            raise ValueError(
                f"hidden_size {hidden_size} must split into {len(periods)} equal modules, one per period "
                f"{periods}; choose a hidden_size divisible by {len(periods)} or other periods"
            )
        dtype = default_dtype(dtype)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.periods, self.nonlinearity = periods, nonlinearity
        k_ih, k_hh = jax.random.split(key)
        self.weight_ih = glorot_uniform(k_ih, (hidden_size, input_size), dtype)
        weight_hh = orthogonal_blocks(k_hh, 1, hidden_size, hidden_size, dtype)
        self.weight_hh = jnp.where(self.block_mask, weight_hh, jnp.zeros_like(weight_hh))
        self.bias = jnp.zeros((hidden_size,), dtype) if bias else None

    @property
    def unit_periods(self) -> np.ndarray:
        """``[H]`` int32: the period of each hidden unit's module."""
        return np.repeat(np.asarray(self.periods, np.int32), self.hidden_size // len(self.periods))

    @property
    def block_mask(self) -> np.ndarray:
        """``[H, H]`` booleans ``M``: unit ``u`` (row) reads unit ``v`` (column) iff ``T(v) >= T(u)``."""
        return self.unit_periods[None, :] >= self.unit_periods[:, None]

    def project_input(self, x: Array) -> Array:
        """``[..., D] -> [..., H]``: ``x W_ih^T + b``."""
        check_input_size(self, x)
        xp = matmul_t(x, self.weight_ih)
        return xp if self.bias is None else xp + broadcast_to_rank(self.bias, xp)

    def init_carry(self, batch_size: int, dtype: Any = None):
        """``(h, t)``: ``h`` zeros ``[B, H]``, ``t`` int32 zeros ``[B]``."""
        dtype = self.weight_hh.dtype if dtype is None else dtype
        return jnp.zeros((batch_size, self.hidden_size), dtype), jnp.zeros((batch_size,), jnp.int32)

    def step(self, carry, xp: Array, recurrent_mask: Array | None = None):
        """``(h, t), xp_t -> (h, t + 1), h`` by the equations in the class docstring."""
        h, t = carry
        weight_hh = jnp.where(self.block_mask, self.weight_hh, jnp.zeros_like(self.weight_hh))
        candidate = NONLINEARITIES[self.nonlinearity](xp + matmul_t(masked(h, recurrent_mask), weight_hh))
        active = t[:, None] % jnp.asarray(self.unit_periods)[None, :] == 0
        h_new = jnp.where(active, candidate, h)
        return (h_new, t + 1), h_new
