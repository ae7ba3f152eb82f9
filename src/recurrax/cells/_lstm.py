"""The LSTM cell with peepholes, recurrent projection and the ablations of Greff et al. 2017."""

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
    default_dtype,
    glorot_uniform,
    masked,
    matmul_t,
    orthogonal_blocks,
)

SIGMOID_GATES = ("i", "f", "o")


class LSTMCell(AbstractCell):
    r"""Long short-term memory cell (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000).

    Gate order in the fused weights is **i, f, g, o** and the carry is **(h, c)**, PyTorch's layout::

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi + p_i ⊙ c_{t-1})     input gate
        f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf + p_f ⊙ c_{t-1})     forget gate
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)                  input node
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                                    cell state
        o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho + p_o ⊙ c_t)         output gate
        h_t = o_t ⊙ tanh(c_t)            (then h_t = W_hr h_t with a projection)

    Peepholes ``p_*`` are diagonal (Gers & Schmidhuber 2000) and present only on the gates named in
    ``peepholes`` (any subset of ``"i", "f", "o"``). ``proj_size > 0`` adds the recurrent projection of LSTMP
    (Sak et al. 2014; torch's ``proj_size``): ``h_t`` and ``y_t`` are ``[B, proj_size]``.

    The switches reproduce the eight ablations of Greff et al. 2017, "LSTM: A Search Space Odyssey":
    ``input_gate=False`` (NIG, i = 1), ``forget_gate=False`` (NFG, f = 1), ``output_gate=False`` (NOG, o = 1),
    ``input_activation=False`` (NIAF, g without tanh), ``output_activation=False`` (NOAF, h = o ⊙ c),
    ``coupled=True`` (CIFG, i = 1 - f), ``full_gate_recurrence=True`` (FGR: the previous step's i, f, o
    activations feed every gate through an extra matrix ``R``; the carry becomes ``(h, c, gates)``), and
    no peepholes (NP). Absent gates have no weights: the fused blocks hold only the computed gates, in the
    order i, f, g, o.

    Defaults: glorot-uniform ``weight_ih``, one orthogonal block per gate in ``weight_hh``, zero biases except
    the forget gate's ``forget_bias = 1.0`` in ``bias_ih`` (Jozefowicz et al. 2015), zero peepholes and ``R``.

    Weights (``G = len(gate_layout)``: 4 for the full cell, one less per removed gate, 3 with CIFG;
    ``R_h = proj_size or H``)::

        weight_ih               [G*H, D]      row blocks in gate_layout order, i, f, g, o as torch
        weight_hh               [G*H, R_h]    same blocks
        bias_ih, bias_hh        [G*H]         None with bias=False
        weight_peephole         [len(peepholes), H]   rows p_i, p_f, p_o of the gates in peepholes, in that order
        weight_hr               [proj_size, H]        W_hr of LSTMP; None when proj_size = 0
        weight_gate_recurrence  [S*H, S*H]    FGR's R, S = len(sigmoid_gates), blocks in i, f, o order

    Args:
        input_size: features per step ``D``.
        hidden_size: cell units ``H``.
        key: PRNG key for the initial weights (keyword-only, required).
        peepholes: gates with a diagonal peephole, any subset of ``("i", "f", "o")``, default ``()``.
        proj_size: recurrent projection size of LSTMP, 0 for none, default 0.
        bias: with ``bias_ih`` and ``bias_hh``, default True.
        forget_bias: initial forget-gate bias in ``bias_ih``, default 1.0.
        input_gate: compute ``i`` (False: NIG, i = 1), default True.
        forget_gate: compute ``f`` (False: NFG, f = 1), default True.
        output_gate: compute ``o`` (False: NOG, o = 1), default True.
        coupled: CIFG, ``i = 1 - f``, no input-gate weights, default False.
        input_activation: ``tanh`` on ``g`` (False: NIAF), default True.
        output_activation: ``tanh`` on ``c_t`` before ``o`` (False: NOAF), default True.
        full_gate_recurrence: FGR, previous gate activations feed every gate through ``R``, default False.
        dtype: parameter dtype, default None (float32).

    Example:
        >>> import jax, jax.numpy as jnp, recurrax as rx
        >>> cell = rx.LSTMCell(3, 5, key=jax.random.key(0), peepholes=("i", "f", "o"))
        >>> carry = cell.init_carry(2)
        >>> carry, y = cell(carry, jnp.ones((2, 3)))
        >>> y.shape, carry[1].shape
        ((2, 5), (2, 5))
        >>> cifg = rx.LSTMCell(3, 5, key=jax.random.key(0), coupled=True)
        >>> cifg.gate_layout, cifg.weight_ih.shape, cifg.weight_hh.shape
        (('f', 'g', 'o'), (15, 3), (15, 5))
    """

    weight_ih: Array
    weight_hh: Array
    bias_ih: Array | None
    bias_hh: Array | None
    weight_peephole: Array | None
    weight_hr: Array | None
    weight_gate_recurrence: Array | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    proj_size: int = eqx.field(static=True)
    peepholes: tuple[str, ...] = eqx.field(static=True)
    input_gate: bool = eqx.field(static=True)
    forget_gate: bool = eqx.field(static=True)
    output_gate: bool = eqx.field(static=True)
    coupled: bool = eqx.field(static=True)
    input_activation: bool = eqx.field(static=True)
    output_activation: bool = eqx.field(static=True)
    full_gate_recurrence: bool = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        key: Array,
        peepholes: tuple[str, ...] | list[str] = (),
        proj_size: int = 0,
        bias: bool = True,
        forget_bias: float = 1.0,
        input_gate: bool = True,
        forget_gate: bool = True,
        output_gate: bool = True,
        coupled: bool = False,
        input_activation: bool = True,
        output_activation: bool = True,
        full_gate_recurrence: bool = False,
        dtype: Any = None,
    ):
        dtype = default_dtype(dtype)
        peepholes = tuple(peepholes)
        unknown = sorted(set(peepholes) - set(SIGMOID_GATES))
        if unknown:
            raise ValueError(f"peepholes must be a subset of ('i', 'f', 'o'), got unknown {unknown}")
        if coupled and not forget_gate:
            raise ValueError("coupled=True (CIFG, i = 1 - f) needs the forget gate")
        if coupled and not input_gate:
            raise ValueError("coupled=True already removes the input gate's weights; leave input_gate=True")
        if input_size <= 0 or hidden_size <= 0 or proj_size < 0:
            raise ValueError(f"sizes must be positive, got input {input_size}, hidden {hidden_size}")
        self.input_size, self.hidden_size, self.proj_size = input_size, hidden_size, proj_size
        self.input_gate, self.forget_gate, self.output_gate = input_gate, forget_gate, output_gate
        self.coupled, self.full_gate_recurrence = coupled, full_gate_recurrence
        self.input_activation, self.output_activation = input_activation, output_activation
        self.peepholes = tuple(g for g in SIGMOID_GATES if g in peepholes)
        for gate in self.peepholes:
            if gate not in self.sigmoid_gates:
                raise ValueError(f"peephole on gate {gate!r}, but that gate is removed in this variant")

        k_ih, k_hh, k_hr = jax.random.split(key, 3)
        blocks, rec = len(self.gate_layout), self.output_size
        self.weight_ih = glorot_uniform(k_ih, (blocks * hidden_size, input_size), dtype)
        self.weight_hh = orthogonal_blocks(k_hh, blocks, hidden_size, rec, dtype)
        if bias:
            bias_ih = jnp.zeros((blocks, hidden_size), dtype)
            if forget_gate:
                bias_ih = bias_ih.at[self.gate_layout.index("f")].set(forget_bias)
            self.bias_ih = bias_ih.reshape(-1)
            self.bias_hh = jnp.zeros((blocks * hidden_size,), dtype)
        else:
            self.bias_ih = self.bias_hh = None
        self.weight_peephole = jnp.zeros((len(self.peepholes), hidden_size), dtype) if self.peepholes else None
        self.weight_hr = glorot_uniform(k_hr, (proj_size, hidden_size), dtype) if proj_size else None
        n_sig = len(self.sigmoid_gates) * hidden_size
        self.weight_gate_recurrence = jnp.zeros((n_sig, n_sig), dtype) if full_gate_recurrence else None

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    @property
    def sigmoid_gates(self) -> tuple[str, ...]:
        """The sigmoid gates this variant computes, in order (CIFG computes no ``i``)."""
        present = {"i": self.input_gate and not self.coupled, "f": self.forget_gate, "o": self.output_gate}
        return tuple(g for g in SIGMOID_GATES if present[g])

    @property
    def gate_layout(self) -> tuple[str, ...]:
        """The blocks of the fused weights, in order: the computed subset of ``i, f, g, o``."""
        return tuple(g for g in ("i", "f", "g", "o") if g == "g" or g in self.sigmoid_gates)

    def project_input(self, x: Array) -> Array:
        """``[..., D] -> [..., G]``: ``x W_ih^T + b_ih + b_hh`` with ``G = len(gate_layout) * H``."""
        check_input_size(self, x)
        xp = matmul_t(x, self.weight_ih)
        if self.bias_ih is not None:
            xp = xp + broadcast_to_rank(self.bias_ih + self.bias_hh, xp)
        return xp

    def init_carry(self, batch_size: int, dtype: Any = None):
        """``(h, c)`` zeros ``[B, output_size]`` and ``[B, H]`` (plus previous gates ``[B, 3H]`` for FGR)."""
        dtype = self.weight_hh.dtype if dtype is None else dtype
        h = jnp.zeros((batch_size, self.output_size), dtype)
        c = jnp.zeros((batch_size, self.hidden_size), dtype)
        if self.full_gate_recurrence:
            return h, c, jnp.zeros((batch_size, len(self.sigmoid_gates) * self.hidden_size), dtype)
        return h, c

    def _peephole(self, gate: str) -> Array | None:
        return self.weight_peephole[self.peepholes.index(gate)] if gate in self.peepholes else None

    pointwise_sums_hw = True
    """`pointwise` reads ``hw`` only through ``xp + hw`` (see `recurrax.scan._fused_scan`)."""

    @property
    def fusable(self) -> bool:
        """Whether `recurrax.scan._fused_scan` runs this variant: every one whose step is the recurrent matmul
        and then `pointwise` (not the recurrent projection, not FGR's second recurrent matmul)."""
        return self.proj_size == 0 and not self.full_gate_recurrence

    def step(self, carry, xp: Array, recurrent_mask: Array | None = None):
        """``(h, c), xp_t -> (h, c), h`` by the equations in the class docstring."""
        return self.pointwise(carry, xp, matmul_t(masked(carry[0], recurrent_mask), self.weight_hh))

    def pointwise(self, carry, xp: Array, hw: Array):
        """The step after its recurrent matmul ``hw = h_{t-1} W_hh^T`` ``[B, G]``."""
        c = carry[1]
        z = xp + hw
        pre = dict(zip(self.gate_layout, jnp.split(z, len(self.gate_layout), axis=-1)))
        if self.full_gate_recurrence:
            extra = matmul_t(carry[2], self.weight_gate_recurrence)
            for gate, r in zip(self.sigmoid_gates, jnp.split(extra, len(self.sigmoid_gates), axis=-1)):
                pre[gate] = pre[gate] + r

        def sigmoid_gate(gate: str, cell_state: Array) -> Array:
            peep = self._peephole(gate)
            return jax.nn.sigmoid(pre[gate] if peep is None else pre[gate] + broadcast_to_rank(peep, cell_state) * cell_state)

        g = jnp.tanh(pre["g"]) if self.input_activation else pre["g"]
        f = sigmoid_gate("f", c) if self.forget_gate else None
        if self.coupled:
            i = 1.0 - f
        else:
            i = sigmoid_gate("i", c) if self.input_gate else None
        c_new = (c if f is None else f * c) + (g if i is None else i * g)
        o = sigmoid_gate("o", c_new) if self.output_gate else None
        out = jnp.tanh(c_new) if self.output_activation else c_new
        h_new = out if o is None else o * out
        if self.weight_hr is not None:
            h_new = matmul_t(h_new, self.weight_hr)
        if self.full_gate_recurrence:
            computed = {"i": i, "f": f, "o": o}
            gates = jnp.concatenate([computed[gate] for gate in self.sigmoid_gates], axis=-1)
            return (h_new, c_new, gates), h_new
        return (h_new, c_new), h_new
