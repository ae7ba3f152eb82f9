"""`onednn_lstm`: the plain LSTM layer on oneDNN's LSTM primitives (torch ``nn.LSTM``'s CPU kernel), on CPU.

The same layer and contract as `recurrax.scan._fused_lstm.fused_lstm` (time-major, PyTorch gate order
``i, f, g, o``, one combined bias), run by three XLA FFI custom calls of `recurrax.native`: inference (oneDNN's
brgemm kernel) when the layer is not differentiated, and, under `jax.grad`, a training forward that writes
oneDNN's workspace and the backward primitive that reads it (``dX``, ``dh0``, ``dc0``, ``dW_ih``, ``dW_hh``,
``db``). `fused_lstm` dispatches here when `onednn_applies` (CPU backend, float32 everywhere, no lengths, no
bfloat16 matmuls, concrete non-zero sizes, the library built) and `vendor_kernels` is on; otherwise it runs
its own XLA kernel. Exported modules (`recurrax.serve`) are traced with `vendor_kernels(False)`, so an
artifact never calls a library that the serving machine may not have.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax._src import config as jax_config  # private: a trace-time switch that is part of jit's cache key
from jaxtyping import Array

from ..native import load_onednn_lstm

_VENDOR_KERNELS = jax_config.bool_state(
    "recurrax_vendor_kernels",
    True,
    "Allow recurrax's vendor kernels (oneDNN's LSTM on CPU) in traced code.",
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
    return load_onednn_lstm() is not None


def _f32(shape: tuple[int, ...]) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(shape, jnp.float32)


def _call(target: str, results: tuple[jax.ShapeDtypeStruct, ...], *args: Array) -> tuple[Array, ...]:
    return jax.ffi.ffi_call(target, results, vmap_method="sequential")(*args)


@jax.custom_vjp
def onednn_lstm(
    weight_ih: Array, weight_hh: Array, bias: Array, xs: Array, h0: Array, c0: Array
) -> tuple[Array, tuple[Array, Array]]:
    """One LSTM layer over ``xs [T, B, D]`` from ``(h0, c0) [B, H]``; ``weight_ih [4H, D]``, ``weight_hh [4H, H]``,
    ``bias [4H]`` (``bias_ih + bias_hh``; zeros for none). Returns ``ys [T, B, H], (h_T, c_T)``, float32."""
    steps, batch, _ = xs.shape
    hidden = weight_hh.shape[1]
    state = _f32((batch, hidden))
    ys, h, c = _call("recurrax_onednn_lstm_inference", (_f32((steps, batch, hidden)), state, state),
                     xs, h0, c0, weight_ih, weight_hh, bias)  # fmt: skip
    return ys, (h, c)


def _forward(weight_ih, weight_hh, bias, xs, h0, c0):
    steps, batch, input_size = xs.shape
    hidden = weight_hh.shape[1]
    size = load_onednn_lstm().recurrax_onednn_lstm_workspace_bytes(steps, batch, input_size, hidden)
    if size < 0:
        raise RuntimeError(f"oneDNN has no LSTM for T={steps} B={batch} D={input_size} H={hidden}")
    state = _f32((batch, hidden))
    results = (_f32((steps, batch, hidden)), state, state, jax.ShapeDtypeStruct((size,), jnp.uint8))
    ys, h, c, workspace = _call("recurrax_onednn_lstm_forward", results, xs, h0, c0, weight_ih, weight_hh, bias)
    return (ys, (h, c)), (weight_ih, weight_hh, bias, xs, h0, c0, ys, h, c, workspace)


def _backward(residuals, cotangents):
    weight_ih, weight_hh, bias, xs, h0, c0, ys, h, c, workspace = residuals
    dys, (dh, dc) = cotangents
    state = _f32(h0.shape)
    results = (_f32(xs.shape), state, state, _f32(weight_ih.shape), _f32(weight_hh.shape), _f32(bias.shape))
    dxs, dh0, dc0, d_weight_ih, d_weight_hh, d_bias = _call(
        "recurrax_onednn_lstm_backward", results, xs, h0, c0, weight_ih, weight_hh, bias, ys, h, c, workspace, dys,
        dh, dc,
    )  # fmt: skip
    return d_weight_ih, d_weight_hh, d_bias, dxs, dh0, dc0


onednn_lstm.defvjp(_forward, _backward)
