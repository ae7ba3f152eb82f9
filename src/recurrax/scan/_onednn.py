"""`onednn_lstm`, `onednn_peephole_layer`, `onednn_projection_layer`, `onednn_gru_layer`, `onednn_mgu_layer`: LSTM,
peephole LSTM, LSTMP, GRU and MGU layers on oneDNN's primitives (the LSTM's is torch ``nn.LSTM``'s CPU kernel;
torch's CPU GRU and LSTMP do not use oneDNN), on CPU.

`onednn_lstm` has the contract of `recurrax.scan._fused_lstm.fused_lstm` (time-major, PyTorch gate order ``i, f, g,
o``, one combined bias); `onednn_peephole_layer` runs an `LSTMCell` whose only departures from the plain LSTM are
diagonal peepholes on any subset of i, f, o (oneDNN takes all three rows: absent ones are zeros, which autodiff
leaves without gradient), a removed i, f or o gate (Greff et al.'s NIG, NFG, NOG: zero weights and a saturated
bias, `lstm_blocks`) and/or the input gate coupled to the forget gate (CIFG: its blocks negated);
`onednn_projection_layer` runs an `LSTMCell` that is the plain LSTM but for the recurrent projection of LSTMP
(``proj_size``: oneDNN's ``weights_projection``); `onednn_gru_layer` runs a `recurrax.cells.GRUCell` (the PyTorch
form on oneDNN's ``lbr_gru``, bias ``(b_z, b_r, b_in, b_hn)``; Cho's form on its ``gru``, bias ``(b_z, b_r, b_in +
b_hn)``; gates reordered from r, z, n to oneDNN's u = z, r, n, by ordinary JAX ops that autodiff maps back). Each
runs three XLA FFI custom calls of `recurrax.native`: inference (oneDNN's brgemm kernel) when the layer is not
differentiated, and, under `jax.grad`, a training forward that writes oneDNN's workspace and the backward primitive
that reads it (``dX``, ``dh0`` (``dc0``), ``dW_ih``, ``dW_hh`` (``dW_hr``), ``db``). Each takes ``batch_first``:
forward layers of `recurrax.scan.RNN` pass their batch-major ``xs [B, T, D]``, which oneDNN's inference reads in
place (3-12% faster than transposing it), while the training kernels, slower on that layout, get it transposed.
`fused_lstm` and `recurrax.scan.RNN` dispatch here when `onednn_applies` (CPU backend, float32 everywhere, no
lengths, no bfloat16 matmuls, concrete non-zero sizes, the library built) and `vendor_kernels` is on; otherwise
they run the XLA kernels. Exported modules (`recurrax.serve`) are traced with `vendor_kernels(False)`, so an
artifact never calls a library that the serving machine may not have.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax._src import config as jax_config  # private: a trace-time switch that is part of jit's cache key
from jaxtyping import Array

from ..native import load_onednn, onednn_unavailable_reason

_VENDOR_KERNELS = jax_config.bool_state(
    "recurrax_vendor_kernels",
    True,
    "Allow recurrax's vendor kernels (oneDNN's LSTM and GRU on CPU) in traced code.",
    include_in_jit_key=True,
    include_in_trace_context=True,
)


def vendor_kernels(enabled: bool) -> Any:
    """A context manager: allow (True, the default) or forbid vendor kernels in what is traced inside it.

    A JAX config state included in jit's cache key, so a function jitted both inside and outside the block
    traces twice instead of reusing the other trace; ``RECURRAX_VENDOR_KERNELS=0`` sets the default off."""
    return _VENDOR_KERNELS(enabled)


def onednn_applies(arrays: tuple[Array, ...], valid: Array | None, matmul_dtype: str | None) -> bool:
    """Whether the oneDNN kernel can run this layer call (see the module docstring)."""
    if not _VENDOR_KERNELS.value or valid is not None or matmul_dtype is not None or jax.default_backend() != "cpu":
        return False
    if any(a.dtype != jnp.float32 for a in arrays):
        return False
    if not all(isinstance(d, int) and d > 0 for a in arrays for d in a.shape):  # symbolic (export) or empty
        return False
    return load_onednn() is not None


MIN_STEPS, MIN_ROWS = 2, 128


def worth_a_vendor_call(steps: int, batch: int) -> bool:
    """Whether a layer call of ``steps`` steps of ``batch`` rows repays a vendor or native kernel's fixed cost per
    call (200-400 µs on the 2-core Xeon: primitive creation, weight reorder). A single step, or fewer than
    `MIN_ROWS` rows ``T B``, ran faster on the XLA kernels in 75 of 80 pairs (`benchmarks/vendor_crossover.py`,
    forward and fwd+bwd, four cells): a B1 H128 LSTM step forward 15 against 195 µs, fwd+bwd 53 against 528; B1 T64
    forward 293 against 450; B1024 T1 1243 against 1315. From 128 rows on the kernels won or tied in 25 of 32 (B256
    T2 forward 1086 on XLA against 775). A served stream's steps and token-by-token sampling are such small calls."""
    return steps >= MIN_STEPS and steps * batch >= MIN_ROWS


def _f32(shape: tuple[int, ...]) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(shape, jnp.float32)


def _outputs(xs: Array, hidden: int) -> jax.ShapeDtypeStruct:
    """The layer output ``ys``: ``[T, B, H]`` or ``[B, T, H]``, the leading axes of ``xs``."""
    return _f32((*xs.shape[:2], hidden))


def _time_major(a: Array, batch_first: bool) -> Array:
    """``[B, T, ...]`` <-> ``[T, B, ...]`` when ``batch_first``: oneDNN's training forward and backward ran 4-14%
    slower on batch-major buffers than on time-major ones with XLA's transposes (the CPU bench sizes), so only
    its inference reads the batch-major layout itself."""
    return jnp.swapaxes(a, 0, 1) if batch_first else a


def _workspace(cell: str, xs: Array, hidden: int, recurrent: int) -> jax.ShapeDtypeStruct:
    """The ``uint8`` buffer that oneDNN's training forward of ``cell`` (`recurrax.native.CELLS`)
    writes for time-major ``xs [T, B, D]``; ``recurrent`` is the width of ``h`` (LSTMP's ``P``, else ``hidden``)."""
    steps, batch, input_size = xs.shape
    size = getattr(load_onednn(), f"recurrax_onednn_{cell}_workspace_bytes")(steps, batch, input_size, hidden,
                                                                              recurrent)  # fmt: skip
    if size < 0:
        raise RuntimeError(f"oneDNN has no {cell} layer for T={steps} B={batch} D={input_size} H={hidden} "
                           f"R={recurrent}")  # fmt: skip
    return jax.ShapeDtypeStruct((size,), jnp.uint8)


def _call(target: str, results: tuple[jax.ShapeDtypeStruct, ...], *args: Array, **attributes: Any) -> tuple[Array, ...]:
    """The FFI call ``target``; under `jax.vmap` (ensemble members) one call per member, unrolled: in a
    ``while`` loop (``"sequential"``) XLA copied each member's slice of the stacked workspace in and out, and a
    3-member fwd+bwd (T 72, B 256, H 64) took 400 ms against 113 ms unrolled and 37 ms for one member alone
    (`benchmarks/onednn_lengths.py`). Builds and registers the library first if no layer did (a direct call)."""
    if load_onednn() is None:
        raise RuntimeError(f"{target} is unavailable: {onednn_unavailable_reason()}")
    return jax.ffi.ffi_call(target, results, vmap_method="sequential_unrolled")(*args, **attributes)


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def onednn_lstm(
    weight_ih: Array, weight_hh: Array, bias: Array, xs: Array, h0: Array, c0: Array, batch_first: bool = False
) -> tuple[Array, tuple[Array, Array]]:
    """One LSTM layer over ``xs [T, B, D]`` (``[B, T, D]`` with ``batch_first``) from ``(h0, c0) [B, H]``;
    ``weight_ih [4H, D]``, ``weight_hh [4H, H]``, ``bias [4H]`` (``bias_ih + bias_hh``; zeros for none). Returns
    ``ys [T, B, H]`` (``[B, T, H]``), ``(h_T, c_T)``, float32. Not differentiated, oneDNN reads and writes the
    batch-major layout itself (no transposes)."""
    state = _f32(h0.shape)
    ys, h, c = _call("recurrax_onednn_lstm_inference", (_outputs(xs, state.shape[1]), state, state),
                     xs, h0, c0, weight_ih, weight_hh, bias, batch_first=bool(batch_first))  # fmt: skip
    return ys, (h, c)


def _forward(weight_ih, weight_hh, bias, xs, h0, c0, batch_first):
    xs = _time_major(xs, batch_first)
    state = _f32(h0.shape)
    results = (_outputs(xs, state.shape[1]), state, state, _workspace("lstm", xs, h0.shape[1], h0.shape[1]))
    ys, h, c, workspace = _call("recurrax_onednn_lstm_forward", results, xs, h0, c0, weight_ih, weight_hh, bias)
    residuals = (weight_ih, weight_hh, bias, xs, h0, c0, ys, h, c, workspace)
    return (_time_major(ys, batch_first), (h, c)), residuals


def _backward(batch_first, residuals, cotangents):
    weight_ih, weight_hh, bias, xs, h0, c0, ys, h, c, workspace = residuals
    dys, (dh, dc) = cotangents
    state = _f32(h0.shape)
    results = (_f32(xs.shape), state, state, _f32(weight_ih.shape), _f32(weight_hh.shape), _f32(bias.shape))
    dxs, dh0, dc0, d_weight_ih, d_weight_hh, d_bias = _call(
        "recurrax_onednn_lstm_backward", results, xs, h0, c0, weight_ih, weight_hh, bias, ys, h, c, workspace,
        _time_major(dys, batch_first), dh, dc,
    )  # fmt: skip
    return d_weight_ih, d_weight_hh, d_bias, _time_major(dxs, batch_first), dh0, dc0


onednn_lstm.defvjp(_forward, _backward)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def onednn_gru(
    weight_ih: Array, weight_hh: Array, bias: Array, xs: Array, h0: Array, batch_first: bool = False,
    form: str = "gru",
) -> tuple[Array, Array]:
    """One GRU layer in oneDNN's layout (gate blocks u, r, o; ``weight_ih [3H, D]``, ``weight_hh [3H, H]``) over
    ``xs [T, B, D]`` (``[B, T, D]`` with ``batch_first``, as `onednn_lstm`) from ``h0 [B, H]``; returns ``ys`` in
    the layout of ``xs`` and ``h_T``, float32. ``form``: ``"gru"``, oneDNN's ``lbr_gru`` (PyTorch's form, ``bias
    [4H]``), or ``"cho_gru"``, its ``gru`` (Cho et al.'s form, ``bias [3H]``)."""
    ys, h = _call(f"recurrax_onednn_{form}_inference", (_outputs(xs, h0.shape[1]), _f32(h0.shape)),
                  xs, h0, weight_ih, weight_hh, bias, batch_first=bool(batch_first))  # fmt: skip
    return ys, h


def _gru_forward(weight_ih, weight_hh, bias, xs, h0, batch_first, form):
    xs = _time_major(xs, batch_first)
    results = (_outputs(xs, h0.shape[1]), _f32(h0.shape), _workspace(form, xs, h0.shape[1], h0.shape[1]))
    ys, h, workspace = _call(f"recurrax_onednn_{form}_forward", results, xs, h0, weight_ih, weight_hh, bias)
    return (_time_major(ys, batch_first), h), (weight_ih, weight_hh, bias, xs, h0, ys, h, workspace)


def _gru_backward(batch_first, form, residuals, cotangents):
    weight_ih, weight_hh, bias, xs, h0, ys, h, workspace = residuals
    dys, dh = cotangents
    results = (_f32(xs.shape), _f32(h0.shape), _f32(weight_ih.shape), _f32(weight_hh.shape), _f32(bias.shape))
    dxs, dh0, d_weight_ih, d_weight_hh, d_bias = _call(
        f"recurrax_onednn_{form}_backward", results, xs, h0, weight_ih, weight_hh, bias, ys, h, workspace,
        _time_major(dys, batch_first), dh,
    )  # fmt: skip
    return d_weight_ih, d_weight_hh, d_bias, _time_major(dxs, batch_first), dh0


onednn_gru.defvjp(_gru_forward, _gru_backward)


def onednn_gru_layer(cell: Any, xs: Array, h0: Array, batch_first: bool = False) -> tuple[Array, Array]:
    """A `recurrax.cells.GRUCell` over ``xs [T, B, D]`` (``[B, T, D]`` with ``batch_first``) from ``h0 [B, H]`` on
    `onednn_gru` (the PyTorch form on ``lbr_gru``, Cho's on ``gru``; `onednn_gru_arrays`): ``ys`` in the layout of
    ``xs``, ``h_T``."""
    return onednn_gru_arrays(cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh, xs, h0, batch_first, cell.cho)


def onednn_gru_arrays(
    weight_ih: Array, weight_hh: Array, bias_ih: Array | None, bias_hh: Array | None, xs: Array, h0: Array,
    batch_first: bool = False, cho: bool = False,
) -> tuple[Array, Array]:
    """`onednn_gru_layer` from a GRU cell's arrays (gate blocks r, z, n; None for no bias). The weights' gate blocks
    go from r, z, n to u = z, r, n; the bias becomes ``(b_iz + b_hz, b_ir + b_hr, b_in, b_hn)``, Cho's ``(b_iz +
    b_hz, b_ir + b_hr, b_in + b_hn)`` (zeros without bias)."""
    hidden = h0.shape[1]
    r, z, n = slice(0, hidden), slice(hidden, 2 * hidden), slice(2 * hidden, 3 * hidden)
    to_onednn = lambda w: jnp.concatenate([w[z], w[r], w[n]])  # noqa: E731
    if bias_ih is None:
        bias = jnp.zeros(((3 if cho else 4) * hidden,), xs.dtype)
    else:
        candidate = [bias_ih[n] + bias_hh[n]] if cho else [bias_ih[n], bias_hh[n]]
        bias = jnp.concatenate([bias_ih[z] + bias_hh[z], bias_ih[r] + bias_hh[r], *candidate])
    form = "cho_gru" if cho else "gru"
    return onednn_gru(to_onednn(weight_ih), to_onednn(weight_hh), bias, xs, h0, batch_first, form)


def onednn_mgu_layer(cell: Any, xs: Array, h0: Array, batch_first: bool = False) -> tuple[Array, Array]:
    """A `recurrax.cells.MGUCell` over ``xs [T, B, D]`` (``[B, T, D]`` with ``batch_first``) on oneDNN's Cho GRU
    (`onednn_gru_arrays`): the reset gate is the forget gate ``r = f = σ(a_f)`` and the update gate its complement
    ``z = 1 - f = σ(-a_f)`` (the forget gate's blocks negated; autodiff adds both blocks' gradients into ``W_f``,
    ``U_f``, ``b_f``), so ``h_t = z h_{t-1} + (1 - z) tanh(W_n x + U_n (r h_{t-1}) + b_n)`` is the MGU's step. Its
    recurrent matmul is ``3H x H`` where the MGU's is ``2H x H``; it still ran faster than the generic scan
    (docs/benchmarks.md section 13). ``ys`` in the layout of ``xs``, ``h_T``."""
    f, n = slice(0, cell.hidden_size), slice(cell.hidden_size, 2 * cell.hidden_size)
    as_gru = lambda w: jnp.concatenate([w[f], -w[f], w[n]])  # noqa: E731 - blocks r, z, n
    bias = None if cell.bias is None else as_gru(cell.bias)
    no_bias = None if bias is None else jnp.zeros_like(bias)
    return onednn_gru_arrays(as_gru(cell.weight_ih), as_gru(cell.weight_hh), bias, no_bias, xs, h0, batch_first,
                             cho=True)  # fmt: skip


def _lstm_with_weight(cell: str, doc: str) -> Any:
    """The custom-VJP layer of oneDNN's LSTM with one more weight ``extra`` after ``weight_hh`` (``cell``:
    ``peephole_lstm``, ``[3, H]``; ``projection_lstm``, ``W_hr [P, H]``): arguments ``(weight_ih, weight_hh,
    extra, bias, xs, h0, c0, batch_first=False)``, the contract of `onednn_lstm` otherwise (``h`` is ``P`` wide
    under a projection, ``c`` always ``H``)."""

    def layer(weight_ih, weight_hh, extra, bias, xs, h0, c0, batch_first=False):
        ys, h, c = _call(f"recurrax_onednn_{cell}_inference", (_outputs(xs, h0.shape[1]), _f32(h0.shape),
                         _f32(c0.shape)), xs, h0, c0, weight_ih, weight_hh, extra, bias,
                         batch_first=bool(batch_first))  # fmt: skip
        return ys, (h, c)

    def forward(weight_ih, weight_hh, extra, bias, xs, h0, c0, batch_first):
        xs = _time_major(xs, batch_first)
        workspace = _workspace(cell, xs, c0.shape[1], h0.shape[1])
        results = (_outputs(xs, h0.shape[1]), _f32(h0.shape), _f32(c0.shape), workspace)
        ys, h, c, workspace = _call(f"recurrax_onednn_{cell}_forward", results, xs, h0, c0, weight_ih, weight_hh,
                                    extra, bias)  # fmt: skip
        residuals = (weight_ih, weight_hh, extra, bias, xs, h0, c0, ys, h, c, workspace)
        return (_time_major(ys, batch_first), (h, c)), residuals

    def backward(batch_first, residuals, cotangents):
        weight_ih, weight_hh, extra, bias, xs, h0, c0, ys, h, c, workspace = residuals
        dys, (dh, dc) = cotangents
        shapes = tuple(_f32(a.shape) for a in (xs, h0, c0, weight_ih, weight_hh, extra, bias))
        dxs, dh0, dc0, d_weight_ih, d_weight_hh, d_extra, d_bias = _call(
            f"recurrax_onednn_{cell}_backward", shapes, xs, h0, c0, weight_ih, weight_hh, extra, bias, ys, h, c,
            workspace, _time_major(dys, batch_first), dh, dc,
        )  # fmt: skip
        return d_weight_ih, d_weight_hh, d_extra, d_bias, _time_major(dxs, batch_first), dh0, dc0

    layer.__doc__ = doc
    layer = jax.custom_vjp(layer, nondiff_argnums=(7,))
    layer.defvjp(forward, backward)
    return layer


onednn_peephole_lstm = _lstm_with_weight(
    "peephole_lstm",
    """`onednn_lstm` with diagonal peepholes ``peephole [3, H]`` (rows i, f, o; i and f read ``c_{t-1}``, o reads
    ``c_t``): ``(weight_ih, weight_hh, peephole, bias, xs, h0, c0, batch_first=False)``.""",
)
onednn_projection_lstm = _lstm_with_weight(
    "projection_lstm",
    """LSTMP (Sak et al. 2014; torch's ``proj_size``) on oneDNN's projection LSTM: `onednn_lstm` with
    ``h_t = W_hr (o_t * tanh(c_t))``; ``(weight_ih, weight_hh [4H, P], weight_hr [P, H], bias, xs, h0 [B, P],
    c0 [B, H], batch_first=False)`` -> ``ys [T, B, P]`` (``[B, T, P]`` with ``batch_first``), ``(h_T, c_T)``.""",
)


def lstm_bias(cell: Any) -> Array:
    """The one bias ``[4H]`` of oneDNN's LSTM for an `LSTMCell`: ``bias_ih + bias_hh``, zeros without bias."""
    return jnp.zeros_like(cell.weight_ih[:, 0]) if cell.bias_ih is None else cell.bias_ih + cell.bias_hh


SATURATED = 30.0
"""The pre-activation of an absent gate: ``sigmoid(30) = 1 - 9e-14``, which is 1.0 in float32."""


def lstm_blocks(cell: Any) -> tuple[Array, Array, Array]:
    """``(weight_ih [4H, D], weight_hh [4H, H], bias [4H])`` of an `LSTMCell` in oneDNN's gate order i, f, g, o.
    A gate that the variant removes (NIG ``i = 1``, NFG ``f = 1``, NOG ``o = 1``) gets zero weights and the bias
    `SATURATED`: its sigmoid is exactly 1 in float32 and its derivative there (9e-14) sends nothing back, so the
    layer computes the variant; the gradients of those constant blocks are dropped (autodiff's `concatenate`).
    CIFG's coupled input gate ``i = 1 - f = sigmoid(-z_f)`` is the forget gate's blocks negated (its peephole
    too, `onednn_peephole_layer`); autodiff adds both blocks' gradients into the forget gate's weights."""
    if len(cell.gate_layout) == 4:  # no gate removed: the cell's own blocks
        return cell.weight_ih, cell.weight_hh, lstm_bias(cell)
    blocks = dict(zip(cell.gate_layout, zip(jnp.split(cell.weight_ih, len(cell.gate_layout)),
                                            jnp.split(cell.weight_hh, len(cell.gate_layout)),
                                            jnp.split(lstm_bias(cell), len(cell.gate_layout)))))  # fmt: skip
    if cell.coupled:
        blocks["i"] = tuple(-block for block in blocks["f"])
    hidden = cell.hidden_size
    absent = (jnp.zeros((hidden, cell.input_size)), jnp.zeros((hidden, hidden)), jnp.full((hidden,), SATURATED))
    order = [blocks.get(gate, absent) for gate in ("i", "f", "g", "o")]
    return tuple(jnp.concatenate(parts) for parts in zip(*order))


def onednn_peephole_layer(
    cell: Any, xs: Array, carry: tuple[Array, Array], batch_first: bool = False
) -> tuple[Array, tuple[Array, Array]]:
    """An `recurrax.cells.LSTMCell` with peepholes on any subset of i, f, o, any of those gates removed (NIG,
    NFG, NOG) and/or the input gate coupled to the forget gate (CIFG; `lstm_blocks`) over ``xs [T, B, D]``
    (``[B, T, D]`` with ``batch_first``) from ``(h0, c0)``: on `onednn_peephole_lstm` with peepholes, else on
    `onednn_lstm`; ``ys`` in the layout of ``xs``, ``(h_T, c_T)``."""
    weight_ih, weight_hh, bias = lstm_blocks(cell)
    if not cell.peepholes:
        return onednn_lstm(weight_ih, weight_hh, bias, xs, *carry, batch_first)
    return onednn_peephole_lstm(weight_ih, weight_hh, peephole_rows(cell), bias, xs, *carry, batch_first)


def peephole_rows(cell: Any) -> Array:
    """The peepholes ``[3, H]`` (rows i, f, o) of an `LSTMCell` on four gates: zeros where the cell has none;
    under CIFG the input gate ``1 - f = sigmoid(-z_f - p_f c)`` gets the forget gate's row negated (an
    input-gate peephole of the cell is never read)."""
    rows = {gate: cell.weight_peephole[k] for k, gate in enumerate(cell.peepholes)}
    zeros = jnp.zeros((cell.hidden_size,), cell.weight_hh.dtype)
    if cell.coupled:
        rows["i"] = -rows.get("f", zeros)
    return jnp.stack([rows.get(gate, zeros) for gate in ("i", "f", "o")])


def onednn_projection_layer(
    cell: Any, xs: Array, carry: tuple[Array, Array], batch_first: bool = False
) -> tuple[Array, tuple[Array, Array]]:
    """An LSTMP `recurrax.cells.LSTMCell` (the plain LSTM with ``proj_size > 0``) over ``xs`` on
    `onednn_projection_lstm`: ``ys`` in the layout of ``xs``, ``(h_T, c_T)``."""
    weights = (cell.weight_ih, cell.weight_hh, cell.weight_hr, lstm_bias(cell))
    return onednn_projection_lstm(*weights, xs, *carry, batch_first)
