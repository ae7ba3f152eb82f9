"""MUT1, MUT2, MUT3: the three architectures found by evolutionary search in Jozefowicz, Zaremba & Sutskever
2015, "An Empirical Exploration of Recurrent Network Architectures".

All three share the GRU-like skeleton (update gate ``z``, reset gate ``r``, candidate through ``W_hh (r ⊙ h)``)
and differ in where ``x`` and ``h`` enter the gates; `AbstractMUTCell` holds the skeleton, each subclass the
two places where it differs (`_input_terms`, `_gate_recurrence`).
"""

from __future__ import annotations

import abc
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


class AbstractMUTCell(AbstractCell):
    r"""The shared skeleton of the MUT cells; the carry is the bare ``h`` ``[B, H]``, also the output::

        z_t = σ(zx_t + zh_t + b_z)                          update gate
        r_t = σ(rx_t + rh_t + b_r)                          reset gate
        h_t = tanh(W_hh (r_t ⊙ h_{t-1}) + hx_t + b_h) ⊙ z_t + h_{t-1} ⊙ (1 - z_t)

    where the input terms ``zx, rx, hx`` depend on ``x_t`` only (hoisted out of the scan with the biases) and
    the recurrent terms ``zh, rh`` on ``h_{t-1}``; each subclass defines them.

    Parameters: ``weight_ih`` ``[k H, D]``, the input kernels of `input_kernels` stacked in that order;
    ``weight_hh_gates`` ``[m H, H]``, the gates' recurrent kernels of `recurrent_kernels`; ``weight_hh``
    ``[H, H]``, the candidate's ``W_hh``; ``bias`` ``[3H]`` (``b_z; b_r; b_h``, None with ``bias=False``).
    ``recurrent_mask`` multiplies ``h_{t-1}`` before it enters any recurrent term (also inside MUT3's
    ``tanh(h)``), not in the final blend. Defaults: glorot-uniform ``weight_ih``, orthogonal recurrent
    kernels (one block per gate), zero bias.

    MUT1 and MUT2 add ``x`` itself (or ``tanh(x)``) to a hidden-sized vector, which in the paper is the
    ``H``-wide embedding of a token. With ``input_size != hidden_size`` that term reads ``e_t = W_e x_t``
    instead, ``weight_embed`` ``[H, D]`` (glorot-uniform; None when ``D == H``, the paper's cell exactly), so
    a cell, or the first layer of a stack, takes any input size.

    Args:
        input_size: features per step ``D``.
        hidden_size: hidden units ``H``.
        key: PRNG key for the initial weights (keyword-only, required).
        bias: with ``bias``, default True.
        dtype: parameter dtype, default None (float32).
    """

    weight_ih: Array
    weight_hh_gates: Array
    weight_hh: Array
    bias: Array | None
    weight_embed: Array | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)

    input_kernels: ClassVar[tuple[str, ...]]
    """Which of ``z, r, h`` have an input kernel ``W_x*`` in ``weight_ih``, in order."""
    recurrent_kernels: ClassVar[tuple[str, ...]]
    """Which of ``z, r`` have a recurrent kernel ``W_h*`` in ``weight_hh_gates``, in order."""
    adds_raw_input: ClassVar[bool]
    """Whether ``x`` or ``tanh(x)`` is added to a hidden-sized vector (embedded by ``weight_embed`` when
    ``input_size != hidden_size``)."""

    def __init__(self, input_size: int, hidden_size: int, *, key: Array, bias: bool = True, dtype: Any = None):
        check_sizes(input_size, hidden_size)
        dtype = default_dtype(dtype)
        self.input_size, self.hidden_size = input_size, hidden_size
        k_ih, k_gates, k_hh = jax.random.split(key, 3)
        self.weight_ih = glorot_uniform(k_ih, (len(self.input_kernels) * hidden_size, input_size), dtype)
        gate_blocks = len(self.recurrent_kernels)
        self.weight_hh_gates = orthogonal_blocks(k_gates, gate_blocks, hidden_size, hidden_size, dtype)
        self.weight_hh = orthogonal_blocks(k_hh, 1, hidden_size, hidden_size, dtype)
        self.bias = jnp.zeros((3 * hidden_size,), dtype) if bias else None
        embeds = self.adds_raw_input and input_size != hidden_size
        k_embed = jax.random.fold_in(key, 1)  # the other weights are drawn as without an embedding
        self.weight_embed = glorot_uniform(k_embed, (hidden_size, input_size), dtype) if embeds else None

    @abc.abstractmethod
    def _input_terms(self, x: Array, projected: dict[str, Array]) -> tuple[Array, Array, Array]:
        """``(zx, rx, hx)`` from ``x`` (``H`` wide: embedded by ``weight_embed`` when there is one) and
        ``projected`` (``x W_x*^T`` for each of `input_kernels`, on the raw input)."""

    @abc.abstractmethod
    def _gate_recurrence(self, h: Array) -> tuple[Array | None, Array]:
        """``(zh, rh)`` from the (masked) ``h_{t-1}``; ``zh`` is None where ``z`` has no recurrent term."""

    def _recurrent_kernel(self, gate: str) -> Array:
        """The ``[H, H]`` block ``W_h<gate>`` of ``weight_hh_gates``."""
        k, hidden = self.recurrent_kernels.index(gate), self.hidden_size
        return self.weight_hh_gates[k * hidden : (k + 1) * hidden]

    def project_input(self, x: Array) -> Array:
        """``[..., D] -> [..., 3H]``: ``(zx + b_z, rx + b_r, hx + b_h)``."""
        check_input_size(self, x)
        kernels = jnp.split(matmul_t(x, self.weight_ih), len(self.input_kernels), axis=-1)
        wide = x if self.weight_embed is None else matmul_t(x, self.weight_embed)
        xp = jnp.concatenate(self._input_terms(wide, dict(zip(self.input_kernels, kernels))), axis=-1)
        return xp if self.bias is None else xp + broadcast_to_rank(self.bias, xp)

    def init_carry(self, batch_size: int, dtype: Any = None) -> Array:
        """``h`` zeros ``[B, H]``."""
        dtype = self.weight_hh.dtype if dtype is None else dtype
        return jnp.zeros((batch_size, self.hidden_size), dtype)

    def step(self, carry: Array, xp: Array, recurrent_mask: Array | None = None) -> tuple[Array, Array]:
        """``h, xp_t -> h, h`` by the equations in the class docstring."""
        h = carry
        h_in = masked(h, recurrent_mask)
        x_z, x_r, x_h = jnp.split(xp, 3, axis=-1)
        h_z, h_r = self._gate_recurrence(h_in)
        z = jax.nn.sigmoid(x_z if h_z is None else x_z + h_z)
        r = jax.nn.sigmoid(x_r + h_r)
        candidate = jnp.tanh(matmul_t(r * h_in, self.weight_hh) + x_h)
        h_new = candidate * z + h * (1.0 - z)
        return h_new, h_new


class MUT1Cell(AbstractMUTCell):
    r"""MUT1 of Jozefowicz, Zaremba & Sutskever 2015 (see `AbstractMUTCell` for parameters and defaults)::

        z_t = σ(W_xz x_t + b_z)
        r_t = σ(W_xr x_t + W_hr h_{t-1} + b_r)
        h_t = tanh(W_hh (r_t ⊙ h_{t-1}) + tanh(x_t) + b_h) ⊙ z_t + h_{t-1} ⊙ (1 - z_t)

    ``tanh(x_t)`` is added to a hidden-sized vector (``tanh(W_e x_t)`` when ``input_size != hidden_size``).
    Kernels: ``weight_ih = [W_xz; W_xr]`` ``[2H, D]``, ``weight_hh_gates = W_hr`` ``[H, H]``.

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> cell = rx.MUT1Cell(4, 4, key=jax.random.key(0))
        >>> h, y = cell(cell.init_carry(2), jnp.ones((2, 4)))
        >>> h.shape
        (2, 4)
    """

    input_kernels = ("z", "r")
    recurrent_kernels = ("r",)
    adds_raw_input = True

    def _input_terms(self, x, projected):
        return projected["z"], projected["r"], jnp.tanh(x)

    def _gate_recurrence(self, h):
        return None, matmul_t(h, self._recurrent_kernel("r"))


class MUT2Cell(AbstractMUTCell):
    r"""MUT2 of Jozefowicz, Zaremba & Sutskever 2015 (see `AbstractMUTCell` for parameters and defaults)::

        z_t = σ(W_xz x_t + W_hz h_{t-1} + b_z)
        r_t = σ(x_t + W_hr h_{t-1} + b_r)
        h_t = tanh(W_hh (r_t ⊙ h_{t-1}) + W_xh x_t + b_h) ⊙ z_t + h_{t-1} ⊙ (1 - z_t)

    ``x_t`` is added to a hidden-sized vector (``W_e x_t`` when ``input_size != hidden_size``). Kernels:
    ``weight_ih = [W_xz; W_xh]`` ``[2H, D]``, ``weight_hh_gates = [W_hz; W_hr]`` ``[2H, H]``.

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> cell = rx.MUT2Cell(4, 4, key=jax.random.key(0))
        >>> h, y = cell(cell.init_carry(2), jnp.ones((2, 4)))
        >>> h.shape
        (2, 4)
    """

    input_kernels = ("z", "h")
    recurrent_kernels = ("z", "r")
    adds_raw_input = True

    def _input_terms(self, x, projected):
        return projected["z"], x, projected["h"]

    def _gate_recurrence(self, h):
        h_z, h_r = jnp.split(matmul_t(h, self.weight_hh_gates), 2, axis=-1)
        return h_z, h_r


class MUT3Cell(AbstractMUTCell):
    r"""MUT3 of Jozefowicz, Zaremba & Sutskever 2015 (see `AbstractMUTCell` for parameters and defaults)::

        z_t = σ(W_xz x_t + W_hz tanh(h_{t-1}) + b_z)
        r_t = σ(W_xr x_t + W_hr h_{t-1} + b_r)
        h_t = tanh(W_hh (r_t ⊙ h_{t-1}) + W_xh x_t + b_h) ⊙ z_t + h_{t-1} ⊙ (1 - z_t)

    Any ``input_size``. Kernels: ``weight_ih = [W_xz; W_xr; W_xh]`` ``[3H, D]``, ``weight_hh_gates =
    [W_hz; W_hr]`` ``[2H, H]``.

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> cell = rx.MUT3Cell(3, 5, key=jax.random.key(0))
        >>> h, y = cell(cell.init_carry(2), jnp.ones((2, 3)))
        >>> h.shape
        (2, 5)
    """

    input_kernels = ("z", "r", "h")
    recurrent_kernels = ("z", "r")
    adds_raw_input = False

    def _input_terms(self, x, projected):
        return projected["z"], projected["r"], projected["h"]

    def _gate_recurrence(self, h):
        return matmul_t(jnp.tanh(h), self._recurrent_kernel("z")), matmul_t(h, self._recurrent_kernel("r"))
