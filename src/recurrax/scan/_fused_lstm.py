"""`fused_lstm`: a plain LSTM layer with a hand-written backward pass (`jax.custom_vjp`), cuDNN-style.

Autodiff of a `lax.scan` LSTM accumulates both weight gradients inside the backward loop, every step, and
keeps a dozen residual stacks. This layer instead runs the backward recurrence for the gate gradients only
and forms the rest after the loop as large matmuls, as cuDNN does::

    forward   per step: z_t = x_t W_ih^T + b + h_{t-1} W_hh^T, gates, (h_t, c_t)
              (x_t W_ih^T + b hoisted out of the loop as one [T*B, D] x [D, 4H] matmul, except on CPU:
              see ``hoist_input``)
    backward  per step (reverse): dG_t = d loss / d z_t, dh_{t-1} = dG_t W_hh (plus the cell-state path)
              after the loop: dW_ih = dG^T X, dW_hh = dG^T H_prev, db = sum dG, dX = dG W_ih

Saved for the backward pass (all time-major, written once per step by the forward scan): the gate
activations ``(i, f, g, o)`` ``[T, B, 4H]`` and the carried ``h_t``, ``c_t`` ``[T, B, H]`` each. ``h_t`` is also
the output sequence and gives ``H_prev``; ``c_t`` gives ``c_{t-1}`` and ``tanh(c_t)`` is recomputed (one
elementwise op). Saving the activations instead of recomputing them in the backward pass (two more
``[T*B, *] x [*, 4H]`` matmuls and the non-linearities) measured 6-25% faster on CPU; saving ``c_{t-1}``
instead of ``c_t`` (no copy for ``c_{t-1}``, ``c_t`` recomputed) made no difference. The measurements are in
``benchmarks/fused_vs_autodiff.py``.

Equations (PyTorch gate order **i, f, g, o**, carry **(h, c)**; Hochreiter & Schmidhuber 1997, forget gate
Gers et al. 2000)::

    i_t = σ(z_i)   f_t = σ(z_f)   g_t = tanh(z_g)   o_t = σ(z_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t          h_t = o_t ⊙ tanh(c_t)

and their derivatives, with ``dh = dy_t + dh_t`` and ``dc = dc_t + dh ⊙ o_t ⊙ (1 - tanh²(c_t))``::

    dz_i = dc ⊙ g_t ⊙ i_t (1 - i_t)      dz_f = dc ⊙ c_{t-1} ⊙ f_t (1 - f_t)
    dz_g = dc ⊙ i_t ⊙ (1 - g_t²)         dz_o = dh ⊙ tanh(c_t) ⊙ o_t (1 - o_t)
    dh_{t-1} = dG_t W_hh                 dc_{t-1} = dc ⊙ f_t

Masking (``valid`` ``[T, B]``, see `recurrax.scan._lengths`): at a step where ``valid[t, b]`` is false the
carry of sequence ``b`` is left unchanged and its output is zero; its gradient passes through untouched and
its gate gradient is zero. Reversal is the caller's business (on the inputs and outputs): this kernel only
runs forward in time.

Reduced-precision recurrent matmuls (``matmul_dtype="bfloat16"``): the per-step matmuls ``h_{t-1} W_hh^T``,
``x_t W_ih^T`` and ``dG_t W_hh``, and ``dX = dG W_ih``, take bfloat16 operands and accumulate in the sequence's
dtype (``preferred_element_type``); the gates, the cell state and the weight-gradient sums stay in float32.
On CPUs with bfloat16 dot instructions (AVX512-BF16, AMX) the recurrent matmul alone measured 1.6x faster
at B64 H256 and B16 H512 (AMD EPYC Zen 4, 2 cores; the whole layer: ``benchmarks/lstm_speed.py``, row
``recurrax, bfloat16 matmuls``); outputs move by about 1e-2 relative (bfloat16 keeps 8 bits of mantissa),
bounded in ``tests/test_fused_lstm.py``.

On CPU, a float32 call without lengths runs oneDNN's LSTM instead (`recurrax.scan._onednn`: the kernel of
torch ``nn.LSTM``, as an XLA FFI call built at install), when it was built; everything else runs the kernel
below. ``with vendor_kernels(False):`` forces this one.

Forward-mode differentiation (`jax.jvp`, `jax.jacfwd`) is not available through a `jax.custom_vjp`; use the
generic scan (``RNN(..., fused=False)``) for it.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..cells._base import broadcast_to_rank, matmul_t
from ..cells._lstm import LSTMCell
from ._onednn import onednn_applies, onednn_lstm, worth_a_vendor_call


def is_plain_lstm(cell) -> bool:
    """Whether ``cell`` is exactly the plain LSTM this kernel computes: an `LSTMCell` with all gates, both
    activations, no peepholes, no coupling, no full gate recurrence and no projection (bias or not)."""
    return (
        type(cell) is LSTMCell
        and not cell.peepholes
        and cell.proj_size == 0
        and cell.input_gate
        and cell.forget_gate
        and cell.output_gate
        and not cell.coupled
        and cell.input_activation
        and cell.output_activation
        and not cell.full_gate_recurrence
    )


def fused_lstm(
    weight_ih: Array,
    weight_hh: Array,
    bias: Array | None,
    xs: Array,
    h0: Array,
    c0: Array,
    valid: Array | None = None,
    *,
    unroll: int = 1,
    hoist_input: bool | None = None,
    matmul_dtype: str | None = None,
) -> tuple[Array, tuple[Array, Array]]:
    """Run a plain LSTM over a time-major sequence; differentiable in reverse mode with a fused backward pass.

    Args:
        weight_ih: ``[4H, D]``, gate blocks ``i, f, g, o`` (PyTorch's ``weight_ih_l0``).
        weight_hh: ``[4H, H]``.
        bias: ``[4H]`` (``bias_ih + bias_hh``) or None.
        xs: ``[T, B, D]``, time-major.
        h0, c0: ``[B, H]``, the initial carry.
        valid: ``[T, B]`` booleans or None (all valid); padded steps freeze the carry and output zero.
        unroll: passed to both `jax.lax.scan` loops.
        hoist_input: compute ``X W_ih^T + b`` for all steps as one matmul before the scan (True) or inside
            each step (False). None picks by backend: per step on CPU, where it measured 5-30% faster
            fwd+bwd, hoisted elsewhere (GPU), where the large matmul is what makes the scan competitive.
        matmul_dtype: ``"bfloat16"`` for bfloat16 operands in the per-step and input matmuls (see the module
            docstring), None for the dtype of ``xs``.

    Returns:
        ``ys [T, B, H], (h_T, c_T)``, all in the dtype of ``xs``.

    Example:
        >>> import jax.numpy as jnp
        >>> from recurrax.scan._fused_lstm import fused_lstm
        >>> ys, (h, c) = fused_lstm(jnp.ones((8, 3)), jnp.ones((8, 2)), None, jnp.ones((5, 4, 3)),
        ...                         jnp.zeros((4, 2)), jnp.zeros((4, 2)))
        >>> ys.shape, h.shape
        ((5, 4, 2), (4, 2))
    """
    steps, batch, input_size = xs.shape
    gates, hidden = weight_hh.shape
    if weight_ih.shape != (gates, input_size) or gates != 4 * hidden:
        raise ValueError(
            f"expected weight_ih [4H, D] = [{4 * hidden}, {input_size}] and weight_hh [4H, H], got "
            f"{tuple(weight_ih.shape)} and {tuple(weight_hh.shape)}"
        )
    if bias is not None and bias.shape != (gates,):
        raise ValueError(f"expected bias [4H] = [{gates}], got {tuple(bias.shape)}")
    if h0.shape != (batch, hidden) or c0.shape != (batch, hidden):
        raise ValueError(f"expected h0 and c0 [B, H] = [{batch}, {hidden}], got {h0.shape} and {c0.shape}")
    if valid is not None and valid.shape != (steps, batch):
        raise ValueError(f"expected valid [T, B] = [{steps}, {batch}], got {tuple(valid.shape)}")
    arrays = (weight_ih, weight_hh, xs, h0, c0) + (() if bias is None else (bias,))
    if onednn_applies(arrays, valid, matmul_dtype) and worth_a_vendor_call(steps, batch):
        bias = jnp.zeros((gates,), xs.dtype) if bias is None else bias
        return onednn_lstm(weight_ih, weight_hh, bias, xs, h0, c0)
    if hoist_input is None:
        hoist_input = jax.default_backend() != "cpu"
    config = (int(unroll), bool(hoist_input), check_matmul_dtype(matmul_dtype))
    return _fused_lstm(config, weight_ih, weight_hh, bias, xs, h0, c0, valid)


MATMUL_DTYPES = (None, "bfloat16")


def check_matmul_dtype(matmul_dtype: str | None) -> str | None:
    """``matmul_dtype`` if it is one of `MATMUL_DTYPES`, else a ValueError naming them."""
    if matmul_dtype not in MATMUL_DTYPES:
        raise ValueError(f"matmul_dtype must be None or 'bfloat16', got {matmul_dtype!r}")
    return matmul_dtype


def _dot(a: Array, b: Array, dtype: str | None, matmul: Any = jnp.matmul) -> Array:
    """``matmul(a, b)`` (``a @ b``, or `matmul_t`'s ``a b^T``); with ``dtype``, on operands of that dtype,
    accumulated in ``a``'s dtype."""
    if dtype is None:
        return matmul(a, b)
    return matmul(a.astype(dtype), b.astype(dtype), preferred_element_type=a.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _fused_lstm(config, weight_ih, weight_hh, bias, xs, h0, c0, valid):
    out, _ = _forward(config, weight_ih, weight_hh, bias, xs, h0, c0, valid, save=False)
    return out


def _gates(z: Array) -> Array:
    """Pre-activations ``[..., 4H]`` -> activations ``(σ(z_i), σ(z_f), tanh(z_g), σ(z_o))`` ``[..., 4H]``."""
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)
    return jnp.concatenate([jax.nn.sigmoid(zi), jax.nn.sigmoid(zf), jnp.tanh(zg), jax.nn.sigmoid(zo)], axis=-1)


def _forward(config, weight_ih, weight_hh, bias, xs, h0, c0, valid, save: bool):
    """The forward scan; with ``save`` it also returns the residuals ``(acts, hs, cs)``."""
    unroll, hoist_input, dtype = config
    if dtype is not None:  # cast once, outside the loop
        weight_ih, weight_hh = weight_ih.astype(dtype), weight_hh.astype(dtype)
    if xs.shape[1] == 1:  # one stream: `matmul_t` reads each weight where it lies, no transposed copy per call
        w_ih, w_hh, dot = weight_ih, weight_hh, functools.partial(_dot, matmul=matmul_t)
    else:  # W^T formed once, outside the loop (h W^T inside it: c1's forward 10-25% slower)
        w_ih, w_hh, dot = weight_ih.T, weight_hh.T, _dot
    scanned = {"x": xs}
    if hoist_input:
        scanned = {"xp": dot(xs, w_ih, dtype)}  # [T, B, 4H]: one matmul for all steps
        if bias is not None:
            scanned["xp"] = scanned["xp"] + broadcast_to_rank(bias, scanned["xp"])
    if valid is not None:
        scanned["valid"] = valid

    def step(carry, inputs):
        h, c = carry
        if hoist_input:
            z = inputs["xp"] + dot(h, w_hh, dtype)
        else:
            z = dot(inputs["x"], w_ih, dtype) + dot(h, w_hh, dtype)
            z = z if bias is None else z + broadcast_to_rank(bias, z)
        acts = _gates(z)
        i, f, g, o = jnp.split(acts, 4, axis=-1)
        c_new = f * c + i * g
        h_new = o * jnp.tanh(c_new)
        if "valid" in inputs:
            keep = inputs["valid"][:, None]
            h_new, c_new = jnp.where(keep, h_new, h), jnp.where(keep, c_new, c)
        return (h_new, c_new), ((acts, h_new, c_new) if save else h_new)

    final, stacked = jax.lax.scan(step, (h0, c0), scanned, unroll=unroll)
    hs = stacked[1] if save else stacked
    ys = hs if valid is None else jnp.where(valid[:, :, None], hs, jnp.zeros_like(hs))
    return (ys, final), (stacked if save else None)


def _fused_lstm_fwd(config, weight_ih, weight_hh, bias, xs, h0, c0, valid):
    out, (acts, hs, cs) = _forward(config, weight_ih, weight_hh, bias, xs, h0, c0, valid, save=True)
    return out, (weight_ih, weight_hh, bias, xs, h0, c0, valid, acts, hs, cs)


def _fused_lstm_bwd(config, residuals, cotangents):
    unroll, _, dtype = config
    weight_ih, weight_hh, bias, xs, h0, c0, valid, acts, hs, cs = residuals
    w_hh = weight_hh if dtype is None else weight_hh.astype(dtype)
    dys, (dh_final, dc_final) = cotangents
    c_prev = jnp.concatenate([c0[None], cs], axis=0)[:-1]  # c_{t-1} for every t (also when T == 0)

    def step(carry, inputs):
        dh, dc = carry
        i, f, g, o = jnp.split(inputs["acts"], 4, axis=-1)
        tanh_c = jnp.tanh(inputs["c"])
        dh_total = dh + inputs["dy"]
        dc_total = dc + dh_total * o * (1 - tanh_c * tanh_c)
        dgates = jnp.concatenate(
            [
                dc_total * g * i * (1 - i),
                dc_total * inputs["c_prev"] * f * (1 - f),
                dc_total * i * (1 - g * g),
                dh_total * tanh_c * o * (1 - o),
            ],
            axis=-1,
        )
        dc_prev = dc_total * f
        if "valid" in inputs:
            keep = inputs["valid"][:, None]
            dgates = jnp.where(keep, dgates, jnp.zeros_like(dgates))
            dc_prev = jnp.where(keep, dc_prev, dc)
            dh_prev = jnp.where(keep, _dot(dgates, w_hh, dtype), dh)
        else:
            dh_prev = _dot(dgates, w_hh, dtype)
        return (dh_prev, dc_prev), dgates

    scanned = {"acts": acts, "c": cs, "c_prev": c_prev, "dy": dys}
    if valid is not None:
        scanned["valid"] = valid
    (dh0, dc0), dgates = jax.lax.scan(step, (dh_final, dc_final), scanned, reverse=True, unroll=unroll)

    # Everything that does not feed the recurrence, as large matmuls over all T * B rows.
    h_prev = jnp.concatenate([h0[None], hs], axis=0)[:-1]
    # einsum over both leading axes, not a reshape to [T * B, 4H] and a transposed matmul: 1.1-1.45x faster
    # for these two matmuls on XLA:CPU (c1 7.8 -> 5.4 ms, c2 94 -> 84 ms)
    d_weight_ih = jnp.einsum("tbg,tbd->gd", dgates, xs)
    d_weight_hh = jnp.einsum("tbg,tbh->gh", dgates, h_prev)
    d_bias = None if bias is None else dgates.sum(axis=(0, 1))
    dxs = _dot(dgates, weight_ih, dtype)
    return d_weight_ih, d_weight_hh, d_bias, dxs, dh0, dc0, None


_fused_lstm.defvjp(_fused_lstm_fwd, _fused_lstm_bwd)
