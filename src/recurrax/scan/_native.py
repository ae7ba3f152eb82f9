"""The native kernels of ``recurrax/native`` on CPU: the cells that oneDNN has no primitive for, and the training of
small layers that it has one for.

`native_lstm_layer` (Greff et al.'s NIAF and NOAF, with any peepholes) and `native_depth_gated_layer` (Yao et
al.'s depth gate) run ``lstm_variants.cc``, `native_layernorm_layer` (Ba et al.'s layer-norm LSTM)
``layernorm_lstm.cc``, `native_mut_layer` (Jozefowicz et al.'s MUT1-3: two or three recurrent matmuls a step)
``mut.cc``. `four_gate_lstm_layer` (the plain and peephole LSTMs, with Greff's removed or coupled gates) and
`gru_layer` (the PyTorch-form GRU) run oneDNN, but train small layers (`trains_natively`) on ``lstm_variants.cc``
and ``gru.cc``: custom VJPs whose primal is oneDNN's inference and whose forward and backward are the native
kernel's.

Each kernel runs the recurrence alone, forward and backward: per step the recurrent matmuls on oneDNN and the
cell's step as a vectorised C++ loop, the batch rows split over the OpenMP threads, from the input terms computed
outside (``project_input``: one large matmul). Each custom VJP here takes the backward kernel's gradients of
those input terms (for the LSTMs, the gate pre-activations ``dz``), of the initial state and of the
per-unit parameters (peepholes, depth weight, normalisation gains and shifts); the recurrent weights' gradients
(``dW_hh = Σ_t dz_tᵀ h_{t-1}``) are one transposed matmul over every step after it (`_outer`), and autodiff or the
custom VJP carries the input terms' gradient into ``dW_ih``, the bias and ``dx`` (``dW_ih`` on the same sgemm:
`input_projection`, also inside the cells' ``project_input`` through
`recurrax.cells._base.sequence_projection`). `recurrax.scan.RNN` runs them
under the conditions of oneDNN's layers (`onednn_applies`: CPU, float32, no lengths, no bfloat16 matmuls; no
active recurrent dropout or zoneout).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..cells._base import sequence_projection
from ..cells._gru import GRUCell
from ..cells._mut import MUT1Cell, MUT2Cell, MUT3Cell
from ._onednn import (
    _call,
    _f32,
    _time_major,
    lstm_blocks,
    onednn_gru_arrays,
    onednn_gru_layer,
    onednn_lstm,
    onednn_peephole_layer,
    onednn_peephole_lstm,
    peephole_rows,
)


Depth = tuple[Array, Array, Array]
"""`native_lstm`'s depth gate: ``(lower [T, B, L], depth_cell [H], depth_lower [H])``, the layer's input whose last
``H`` features are the lower layer's memory ``c_low`` (read there by the kernel, not copied into ``xp``) and the
diagonal weights ``w_cd``, ``w_ld``; `no_depth` without the gate."""


def no_depth(hidden: int) -> Depth:
    """`native_lstm`'s ``depth`` argument for a layer without the depth gate (never read)."""
    return jnp.zeros((1, 1, 1), jnp.float32), jnp.zeros((hidden,), jnp.float32), jnp.zeros((hidden,), jnp.float32)


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def native_lstm(
    xp: Array, weight_hh: Array, peephole: Array, depth: Depth, h0: Array, c0: Array,
    variant: tuple[bool, bool, bool, bool],
) -> tuple[Array, Array, tuple[Array, Array]]:
    """The LSTM recurrence over projected inputs ``xp [T, B, X]`` from ``(h0, c0) [B, H]``, ``weight_hh [4H, H]``,
    peepholes ``peephole [3, H]`` (rows i, f, o; zeros for none); ``variant = (input_activation,
    output_activation, depth, bfloat16)`` (``bfloat16``: the recurrent matmuls ``h_{t-1} W_hhᵀ`` and ``dz_t
    W_hh`` on bfloat16 operands, accumulated in float32)::

        z = xp_t[:4H] + h_{t-1} W_hhᵀ;  i = σ(z_i + p_i c_{t-1});  f = σ(z_f + p_f c_{t-1})
        g = tanh(z_g) (input_activation) or z_g;  c_t = f c_{t-1} + i g
        depth (X = 5H, xp_t = [z-part, a_d], c_low = lower_t[L-H:]):
            c_t += σ(a_d + depth_lower ⊙ c_low + depth_cell ⊙ c_{t-1}) c_low
        o = σ(z_o + p_o c_t);  h_t = o tanh(c_t) (output_activation) or o c_t

    Without ``depth`` X = 4H and ``depth`` (`no_depth`) is not read. Returns ``ys [T, B, H]``, the cell states
    ``cs [T, B, H]`` and ``(h_T, c_T)``."""
    return _forward(xp, weight_hh, peephole, depth, h0, c0, variant)[0]


def _forward(xp, weight_hh, peephole, depth, h0, c0, variant):
    steps, batch, _ = xp.shape
    hidden = h0.shape[1]
    state, sequence = _f32(h0.shape), _f32((steps, batch, hidden))
    results = (sequence, state, state, _f32(xp.shape), sequence)
    ys, h, c, activations, cells = _call(
        "recurrax_lstm_variant_forward", results, xp, depth[0], h0, c0, weight_hh, peephole, *depth[1:],
        **_attributes(variant),
    )  # fmt: skip
    return (ys, cells, (h, c)), (weight_hh, peephole, depth, h0, c0, ys, activations, cells)


def _backward(variant, residuals, cotangents):
    weight_hh, peephole, (lower, *depth_weights), h0, c0, ys, activations, cells = residuals
    dys, d_cells, (dh, dc) = cotangents
    d_lower_shape = cells.shape if variant[2] else lower.shape
    results = tuple(_f32(shape) for shape in (activations.shape, d_lower_shape, h0.shape, c0.shape, peephole.shape))
    dxp, d_low, dh0, dc0, d_peephole, *d_depth_weights = _call(
        "recurrax_lstm_variant_backward", (*results, *(_f32(w.shape) for w in depth_weights)), activations, cells,
        lower, c0, weight_hh, peephole, *depth_weights, dys, d_cells, dh, dc, **_attributes(variant),
    )  # fmt: skip
    hidden = h0.shape[1]
    if variant[2]:  # c_low is the last H features of lower: no gradient w.r.t. the others here
        d_lower = jnp.pad(d_low, ((0, 0), (0, 0), (lower.shape[-1] - hidden, 0)))
    else:
        d_lower, d_depth_weights = jnp.zeros_like(lower), [jnp.zeros_like(w) for w in depth_weights]
    d_weight_hh = _outer(dxp, jnp.concatenate([h0[None], ys[:-1]]), columns=weight_hh.shape[0])  # the 4 gates'
    return dxp, d_weight_hh, d_peephole, (d_lower, *d_depth_weights), dh0, dc0


def _outer(d: Array, v: Array, columns: int | None = None) -> Array:
    """``Σ_t d_tᵀ v_t`` for ``d [T, B, O]`` (its first ``columns`` features, default all: ``C``), ``v [T, B, I]``:
    ``[C, I]``, as one matmul over the ``T * B`` rows on oneDNN's sgemm (``recurrax_outer``, ``vᵀ d`` transposed;
    ``d`` read in place, not sliced). On the 2-core Xeon XLA:CPU's ``einsum("tbo,tbi->oi")`` of two materialised
    operands took 59 ms at T200 B64 O1024 I256, its transposed matmul 30 ms, the sgemm 21; at T100 B32 O512 I128 /
    I64 the matmul 2.54 / 1.78 ms, the sgemm 1.47 / 0.73."""
    rows, columns = d.shape[0] * d.shape[1], d.shape[-1] if columns is None else columns
    d_rows, v_rows = d.reshape(rows, d.shape[-1]), v.reshape(rows, v.shape[-1])
    (vd,) = _call("recurrax_outer", (_f32((v.shape[-1], columns)),), d_rows, v_rows, columns=np.int64(columns))
    return vd.T


def _projection(a: Array, weight: Array, transposed: bool, bfloat16: bool = False) -> Array:
    """``a [..., K]`` times ``weight`` (``[N, K]`` transposed, else ``[K, N]``): ``[..., N]`` on oneDNN's sgemm
    (``recurrax_matmul``: 10-20% faster than XLA:CPU's dot on the 2-core Xeon, e.g. 3200 x 128 x 640 in 2.00 ms
    against 2.31); with ``bfloat16`` on bfloat16 operands accumulated in float32 (``recurrax_bf16_matmul``:
    oneDNN's matmul, AMX where the CPU has it), which XLA:CPU's bfloat16 dot computes alike but 5x slower."""
    outputs = weight.shape[0 if transposed else 1]
    target = "recurrax_bf16_matmul" if bfloat16 else "recurrax_matmul"
    rows = a.reshape(math.prod(a.shape[:-1]), a.shape[-1])
    (out,) = _call(target, (_f32((rows.shape[0], outputs)),), rows, weight, transposed=transposed)
    return out.reshape(*a.shape[:-1], outputs)


@jax.custom_vjp
def input_projection(x: Array, weight: Array) -> Array:
    """``x [T, B, K]`` times ``weightᵀ`` (``weight [N, K]``): ``[T, B, N]``, the input terms of a native kernel's
    layer, whose weight gradient ``Σ dyᵀ x`` runs on oneDNN's sgemm (`_outer`). Left to autodiff, XLA:CPU formed it
    by copying ``dy`` transposed first: in MUT1's c2 fwd+bwd two such copies took 38 and 27 of about 200 ms (one
    profile; docs/benchmarks.md section 11)."""
    return _projection(x, weight, True)


def _input_projection_forward(x: Array, weight: Array) -> tuple[Array, tuple[Array, Array]]:
    return _projection(x, weight, True), (x, weight)


def _input_projection_backward(saved: tuple[Array, Array], dy: Array) -> tuple[Array, Array]:
    x, weight = saved
    return _projection(dy, weight, False), _outer(dy, x)


input_projection.defvjp(_input_projection_forward, _input_projection_backward)


def _attributes(variant: tuple[bool, bool, bool, bool]) -> dict[str, bool]:
    names = ("input_activation", "output_activation", "depth", "bfloat16")
    return dict(zip(names, map(bool, variant), strict=True))


native_lstm.defvjp(_forward, _backward)


def native_lstm_layer(
    cell: Any, xs: Array, carry: tuple[Array, Array], batch_first: bool = False
) -> tuple[Array, tuple[Array, Array]]:
    """An `recurrax.cells.LSTMCell` without the tanh on ``g`` and/or on ``c_t`` (NIAF, NOAF), with peepholes on
    any subset of i, f, o and the other departures that `lstm_blocks` maps onto four gates (a removed gate, the
    coupled input gate), over ``xs [T, B, D]`` (``[B, T, D]`` with ``batch_first``) from ``(h0, c0)`` on
    `native_lstm`: ``ys`` in the layout of ``xs``, ``(h_T, c_T)``."""
    weight_ih, weight_hh, bias = lstm_blocks(cell)
    xp = input_projection(_time_major(xs, batch_first), weight_ih) + bias[None, None]
    variant = (cell.input_activation, cell.output_activation, False, False)  # no depth gate, float32
    ys, _, carry = native_lstm(xp, weight_hh, peephole_rows(cell), no_depth(cell.hidden_size), *carry, variant)
    return _time_major(ys, batch_first), carry


PLAIN = (True, True, False, False)
"""`native_lstm`'s variant of the LSTM with tanh on g and on c_t and no depth gate, in float32."""


@functools.partial(jax.custom_vjp, nondiff_argnums=(7, 8, 9))
def lstm_trained_natively(
    weight_ih: Array, weight_hh: Array, peephole: Array, bias: Array, xs: Array, h0: Array, c0: Array,
    batch_first: bool = False, peepholes: bool = True, bfloat16: bool = False,
) -> tuple[Array, tuple[Array, Array]]:
    """One four-gate LSTM layer with the contract of `recurrax.scan._onednn.onednn_peephole_lstm` (without
    ``peepholes``, `onednn_lstm`'s, ``peephole`` then unread): oneDNN's inference kernel when the layer is not
    differentiated, and under `jax.grad` the native kernel's forward and backward, which train faster than
    oneDNN's where `trains_natively` says so (docs/benchmarks.md section 9); the projection's gradients (``dW_ih``,
    the bias, ``dx``) are large matmuls after the backward kernel.

    ``bfloat16`` (a plain LSTM with ``matmul_dtype="bfloat16"``, without ``peepholes``): the native kernel
    differentiated or not, with the contract of `recurrax.scan._fused_lstm`'s bfloat16 matmuls: the input
    projection ``x W_ihᵀ``, ``dx = dz W_ih`` and the recurrent matmuls on bfloat16 operands accumulated in float32
    (the recurrent ones on oneDNN, on AMX where the CPU has it: `recurrax.native.bfloat16_matmuls`); gates, cell
    state and the weight gradients in float32."""
    if bfloat16:
        return _trained_forward(weight_ih, weight_hh, peephole, bias, xs, h0, c0, batch_first, peepholes, True)[0]
    if peepholes:
        return onednn_peephole_lstm(weight_ih, weight_hh, peephole, bias, xs, h0, c0, batch_first)
    return onednn_lstm(weight_ih, weight_hh, bias, xs, h0, c0, batch_first)


def _trained_forward(weight_ih, weight_hh, peephole, bias, xs, h0, c0, batch_first, peepholes, bfloat16):
    x = _time_major(xs, batch_first)
    xp = _projection(x, weight_ih, True, bfloat16) + bias[None, None]
    variant = (*PLAIN[:3], bfloat16)
    (ys, _, carry), residuals = _forward(xp, weight_hh, peephole, no_depth(h0.shape[1]), h0, c0, variant)
    return (_time_major(ys, batch_first), carry), (residuals, x, weight_ih)


def _trained_backward(batch_first, peepholes, bfloat16, saved, cotangents):
    residuals, x, weight_ih = saved
    dys, (dh, dc) = cotangents
    no_cells = jnp.zeros_like(residuals[-1])  # the cell states are not an output of this layer
    kernel_cotangents = (_time_major(dys, batch_first), no_cells, (dh, dc))
    dxp, d_weight_hh, d_peephole, _, dh0, dc0 = _backward((*PLAIN[:3], bfloat16), residuals, kernel_cotangents)
    dxs = _time_major(_projection(dxp, weight_ih, False, bfloat16), batch_first)
    return _outer(dxp, x), d_weight_hh, d_peephole, dxp.sum(axis=(0, 1)), dxs, dh0, dc0


lstm_trained_natively.defvjp(_trained_forward, _trained_backward)


def trains_natively(cell: Any, batch: int) -> bool:
    """Whether a layer that oneDNN runs trains faster on the native kernel (`lstm_trained_natively`,
    `gru_trained_natively`): where ``B H^2`` is below ``2^25`` for a four-gate LSTM with peepholes and for the GRU,
    ``2^20`` for the plain LSTM. oneDNN's threads meet at every time step, which small layers do not repay, and its
    peephole LSTM is slower than its plain one. `benchmarks/native_training.py` on the 2-core Xeon with inline CPU
    dispatch (docs/benchmarks.md section 11, session 16), fwd+bwd, oneDNN time / native time: with peepholes
    1.28-1.43x from B8 H64 (2^15) to B128 H128 (2^21), 1.11-1.31x from 2^22 to B64 H512 (2^24); the GRU 1.09-1.57x
    up to 2^21, 1.01-1.29x from 2^22 to 2^24; the plain LSTM 0.98-1.21x up to 2^19, 0.90-1.07x above. Above
    ``2^24`` unmeasured: oneDNN."""
    limit = 2**25 if isinstance(cell, GRUCell) or cell.peepholes else 2**20
    return batch * cell.hidden_size**2 < limit


def four_gate_lstm_layer(
    cell: Any, xs: Array, carry: tuple[Array, Array], batch_first: bool = False, bfloat16: bool = False
) -> tuple[Array, tuple[Array, Array]]:
    """A plain `LSTMCell`, or one whose departures oneDNN's (peephole) LSTM computes (`onednn_peephole_layer`), over
    ``xs [T, B, D]`` (``[B, T, D]`` with ``batch_first``): oneDNN alone, or `lstm_trained_natively` where
    `trains_natively` or with ``bfloat16`` (a plain LSTM's ``matmul_dtype="bfloat16"``); ``ys`` in the layout of
    ``xs``, ``(h_T, c_T)``."""
    if not bfloat16 and not trains_natively(cell, xs.shape[0 if batch_first else 1]):
        return onednn_peephole_layer(cell, xs, carry, batch_first)
    weight_ih, weight_hh, bias = lstm_blocks(cell)
    return lstm_trained_natively(weight_ih, weight_hh, peephole_rows(cell), bias, xs, *carry, batch_first,
                                 bool(cell.peepholes), bfloat16)  # fmt: skip


def native_depth_gated_layer(
    cell: Any, xs: Array, carry: tuple[Array, Array], batch_first: bool = False
) -> tuple[Array, tuple[Array, Array]]:
    """A `recurrax.cells.DepthGatedLSTMCell` with ``lower_memory`` (its input ``[h_low, c_low]``) over ``xs [T, B,
    2H]`` (``[B, T, 2H]`` with ``batch_first``) on `native_lstm` with the depth gate: the outputs (``concat(h_t,
    c_t)`` with ``emit_memory``, else ``h_t``) in the layout of ``xs``, ``(h_T, c_T)``. The kernel reads ``c_low``
    in ``xs`` and adds ``w_ld ⊙ c_low`` itself: the cell's `project_input` builds ``[W_ih x + b, a_d, c_low]`` ``[T,
    B, 6H]`` for the generic scan, whose slices, concatenation and their gradients took about 2.6 of 25 ms at c1
    (docs/benchmarks.md section 14)."""
    x = _time_major(xs, batch_first)
    xp = input_projection(x[..., : cell.features], cell.weight_ih)  # [T, B, 5H]: i, f, g, o and d
    xp = xp if cell.bias is None else xp + cell.bias[None, None]
    no_peepholes = jnp.zeros((3, cell.hidden_size), xp.dtype)
    depth = (x, cell.weight_depth_cell, cell.weight_depth_lower)
    variant = (True, True, True, False)  # the depth gate, float32
    ys, cells, carry = native_lstm(xp, cell.weight_hh, no_peepholes, depth, *carry, variant)
    ys = jnp.concatenate([ys, cells], axis=-1) if cell.emit_memory else ys
    return _time_major(ys, batch_first), carry


@functools.partial(jax.custom_vjp, nondiff_argnums=(9,))
def native_layernorm_lstm(
    xw: Array, weight_hh: Array, gain_x: Array, gain_h: Array, shift: Array, gain_c: Array, shift_c: Array,
    h0: Array, c0: Array, eps: float,
) -> tuple[Array, tuple[Array, Array]]:
    """The recurrence of `recurrax.cells.LayerNormLSTMCell` over the projected inputs ``xw = x W_ihᵀ [T, B, 4H]``
    (not normalised: the kernel normalises each row, which XLA did at 6x the matmul's cost) from ``(h0, c0) [B,
    H]``: ``z = γ_x LN(xw_t) + γ_h LN(h_{t-1} W_hhᵀ) + shift`` with ``gain_x``, ``gain_h``, ``shift [4H]`` (the
    sum ``β_x + b + β_h``), the cell state normalised with ``gain_c``, ``shift_c [H]``. Returns ``ys [T, B, H]`` and
    ``(h_T, c_T)``."""
    return _layernorm_forward(xw, weight_hh, gain_x, gain_h, shift, gain_c, shift_c, h0, c0, eps)[0]


def _layernorm_forward(xw, weight_hh, gain_x, gain_h, shift, gain_c, shift_c, h0, c0, eps):
    steps, batch, gates = xw.shape
    state, hidden, rows = _f32(h0.shape), _f32((steps, batch, gates // 4)), _f32((steps, batch))
    results = (hidden, state, state, _f32(xw.shape), _f32(xw.shape), _f32(xw.shape), rows, rows, hidden)
    ys, h, c, *saved = _call(
        "recurrax_layernorm_lstm_forward", results, xw, h0, c0, weight_hh, gain_x, gain_h, shift, gain_c, shift_c,
        eps=np.float32(eps),
    )  # fmt: skip
    return (ys, (h, c)), (weight_hh, gain_x, gain_h, gain_c, shift_c, h0, c0, ys, *saved)


def _layernorm_backward(eps, residuals, cotangents):
    weight_hh, gain_x, gain_h, gain_c, shift_c, h0, c0, ys, activations, *saved = residuals
    dys, (dh, dc) = cotangents
    shapes = (activations, activations, h0, c0, gain_x, gain_h, gain_h, gain_c, shift_c)
    d_xw, d_hw, dh0, dc0, d_gain_x, d_gain_h, d_shift, d_gain_c, d_shift_c = _call(
        "recurrax_layernorm_lstm_backward", tuple(_f32(a.shape) for a in shapes), activations, *saved, c0,
        weight_hh, gain_x, gain_h, gain_c, shift_c, dys, dh, dc, eps=np.float32(eps),
    )  # fmt: skip
    d_weight_hh = _outer(d_hw, jnp.concatenate([h0[None], ys[:-1]]))
    return d_xw, d_weight_hh, d_gain_x, d_gain_h, d_shift, d_gain_c, d_shift_c, dh0, dc0


native_layernorm_lstm.defvjp(_layernorm_forward, _layernorm_backward)


def native_layernorm_layer(
    cell: Any, xs: Array, carry: tuple[Array, Array], batch_first: bool = False
) -> tuple[Array, tuple[Array, Array]]:
    """A `recurrax.cells.LayerNormLSTMCell` over ``xs [T, B, D]`` (``[B, T, D]`` with ``batch_first``) from ``(h0,
    c0)`` on `native_layernorm_lstm`: ``ys`` in the layout of ``xs``, ``(h_T, c_T)``. Its three additive vectors
    ``β_x``, ``b``, ``β_h`` enter as their sum (autodiff hands each the sum's gradient); without them
    (``bias=False``) zeros stand in."""
    shifts = [v for v in (cell.ln_x_bias, cell.bias, cell.ln_h_bias) if v is not None]
    shift = sum(shifts[1:], shifts[0]) if shifts else jnp.zeros_like(cell.ln_h_gain)
    shift_c = jnp.zeros_like(cell.ln_c_gain) if cell.ln_c_bias is None else cell.ln_c_bias
    xw = input_projection(_time_major(xs, batch_first), cell.weight_ih)
    ys, carry = native_layernorm_lstm(xw, cell.weight_hh, cell.ln_x_gain, cell.ln_h_gain, shift, cell.ln_c_gain,
                                      shift_c, *carry, cell.eps)  # fmt: skip
    return _time_major(ys, batch_first), carry


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def native_mut(xp: Array, weight_hh_gates: Array, weight_hh: Array, h0: Array, form: int) -> tuple[Array, Array]:
    """The recurrence of `recurrax.cells.MUT1Cell` (``form`` 1), ``MUT2Cell`` (2) or ``MUT3Cell`` (3) over the
    input terms ``xp [T, B, 3H]`` (``zx + b_z, rx + b_r, hx + b_h``, `project_input`) from ``h0 [B, H]``, the
    cell's ``weight_hh_gates`` (``W_hr``; ``[W_hz; W_hr]``) and ``weight_hh``. Returns ``ys [T, B, H]`` and
    ``h_T``."""
    return _mut_forward(xp, weight_hh_gates, weight_hh, h0, form)[0]


def _mut_forward(xp, weight_hh_gates, weight_hh, h0, form):
    sequence = _f32((*xp.shape[:2], h0.shape[1]))
    ys, h, gates = _call("recurrax_mut_forward", (sequence, _f32(h0.shape), _f32(xp.shape)), xp, h0,
                         weight_hh_gates, weight_hh, form=np.int64(form))  # fmt: skip
    return (ys, h), (weight_hh_gates, weight_hh, h0, ys, gates)


def _mut_backward(form, residuals, cotangents):
    weight_hh_gates, weight_hh, h0, ys, gates = residuals
    dys, dh = cotangents
    dxp, dh0 = _call("recurrax_mut_backward", (_f32(gates.shape), _f32(h0.shape)), gates, ys, h0, weight_hh_gates,
                     weight_hh, dys, dh, form=np.int64(form))  # fmt: skip
    h_prev = jnp.concatenate([h0[None], ys[:-1]])
    d_z, d_r, d_candidate = jnp.split(dxp, 3, axis=-1)
    reset = jnp.split(gates, 3, axis=-1)[1]
    d_weight_hh = _outer(d_candidate, reset * h_prev)
    gate_inputs = {1: [(d_r, h_prev)], 2: [(d_z, h_prev), (d_r, h_prev)], 3: [(d_z, jnp.tanh(h_prev)), (d_r, h_prev)]}
    d_weight_hh_gates = jnp.concatenate([_outer(d, v) for d, v in gate_inputs[form]])
    return dxp, d_weight_hh_gates, d_weight_hh, dh0


native_mut.defvjp(_mut_forward, _mut_backward)


def native_mut_layer(cell: Any, xs: Array, h0: Array, batch_first: bool = False) -> tuple[Array, Array]:
    """A MUT cell over ``xs [T, B, D]`` (``[B, T, D]`` with ``batch_first``) from ``h0 [B, H]`` on `native_mut`:
    ``ys`` in the layout of ``xs``, ``h_T``."""
    form = {MUT1Cell: 1, MUT2Cell: 2, MUT3Cell: 3}[type(cell)]
    with sequence_projection(input_projection):  # its matmuls' weight gradients on the sgemm
        xp = cell.project_input(_time_major(xs, batch_first))
    ys, h = native_mut(xp, cell.weight_hh_gates, cell.weight_hh, h0, form)
    return _time_major(ys, batch_first), h


def _gru_forward(xp, weight_hh, bias_hn, h0):
    """The native GRU kernel's forward over ``xp [T, B, 3H]`` (`GRUCell.project_input`: ``x W_ihᵀ + b_ih`` with
    ``b_hr, b_hz`` folded in; gates r, z, n) from ``h0 [B, H]``, ``weight_hh [3H, H]`` and ``bias_hn [H]``::

        hw = h_{t-1} W_hhᵀ;  r = σ(xp_r + hw_r);  z = σ(xp_z + hw_z);  n = tanh(xp_n + r (hw_n + b_hn))
        h_t = (1 - z) n + z h_{t-1}

    Returns ``(ys [T, B, H], h_T)`` and what `_gru_backward` reads."""
    steps, batch, _ = xp.shape
    results = (_f32((steps, batch, h0.shape[1])), _f32(h0.shape), _f32((steps, batch, 4 * h0.shape[1])))
    ys, h, gates = _call("recurrax_gru_forward", results, xp, h0, weight_hh, bias_hn)
    return (ys, h), (weight_hh, h0, ys, gates)


def _gru_backward(residuals, cotangents):
    """The native GRU kernel's backward: the gradients of ``xp``, ``weight_hh``, ``bias_hn`` and ``h0``."""
    weight_hh, h0, ys, gates = residuals
    dys, dh = cotangents
    gradients = _f32((*ys.shape[:2], weight_hh.shape[0]))
    dxp, d_hw, dh0 = _call("recurrax_gru_backward", (gradients, gradients, _f32(h0.shape)), gates, ys, h0, weight_hh,
                           dys, dh)  # fmt: skip
    d_weight_hh = _outer(d_hw, jnp.concatenate([h0[None], ys[:-1]]))
    return dxp, d_weight_hh, d_hw[..., 2 * h0.shape[1] :].sum(axis=(0, 1)), dh0


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def gru_trained_natively(
    weight_ih: Array, weight_hh: Array, bias_ih: Array, bias_hh: Array, xs: Array, h0: Array, batch_first: bool = False
) -> tuple[Array, Array]:
    """A PyTorch-form GRU layer from its cell's arrays (zeros for no bias) over ``xs [T, B, D]`` (``[B, T, D]`` with
    ``batch_first``) from ``h0 [B, H]``: oneDNN's ``lbr_gru`` inference when not differentiated
    (`onednn_gru_arrays`), the native kernel (`_gru_forward`, `_gru_backward`) under `jax.grad`; the projection's
    gradients are large matmuls after its backward."""
    return onednn_gru_arrays(weight_ih, weight_hh, bias_ih, bias_hh, xs, h0, batch_first)


def _gru_trained_forward(weight_ih, weight_hh, bias_ih, bias_hh, xs, h0, batch_first):
    hidden = h0.shape[1]
    x = _time_major(xs, batch_first)
    folded = bias_ih + jnp.concatenate([bias_hh[: 2 * hidden], jnp.zeros_like(bias_hh[2 * hidden :])])
    xp = _projection(x, weight_ih, True) + folded[None, None]
    (ys, h), residuals = _gru_forward(xp, weight_hh, bias_hh[2 * hidden :], h0)
    return (_time_major(ys, batch_first), h), (residuals, x, weight_ih)


def _gru_trained_backward(batch_first, saved, cotangents):
    residuals, x, weight_ih = saved
    dys, dh = cotangents
    dxp, d_weight_hh, d_bias_hn, dh0 = _gru_backward(residuals, (_time_major(dys, batch_first), dh))
    d_bias_ih = dxp.sum(axis=(0, 1))
    d_bias_hh = jnp.concatenate([d_bias_ih[: 2 * dh.shape[-1]], d_bias_hn])  # b_hr, b_hz enter as b_ir, b_iz do
    dxs = _time_major(_projection(dxp, weight_ih, False), batch_first)
    return _outer(dxp, x), d_weight_hh, d_bias_ih, d_bias_hh, dxs, dh0


gru_trained_natively.defvjp(_gru_trained_forward, _gru_trained_backward)


def gru_layer(cell: Any, xs: Array, h0: Array, batch_first: bool = False) -> tuple[Array, Array]:
    """A `recurrax.cells.GRUCell` that oneDNN runs, over ``xs [T, B, D]`` (``[B, T, D]`` with ``batch_first``):
    oneDNN alone (`onednn_gru_layer`; always for Cho's form), or `gru_trained_natively` where `trains_natively`
    says so for its size; ``ys`` in the layout of ``xs``, ``h_T``."""
    if cell.cho or not trains_natively(cell, xs.shape[0 if batch_first else 1]):
        return onednn_gru_layer(cell, xs, h0, batch_first)
    zeros = jnp.zeros_like(cell.weight_hh[:, 0])
    biases = (zeros, zeros) if cell.bias_ih is None else (cell.bias_ih, cell.bias_hh)
    return gru_trained_natively(cell.weight_ih, cell.weight_hh, *biases, xs, h0, batch_first)
