"""The implementations timed: recurrax and its peers, each as a pair of zero-argument callables.

Every builder returns ``(fwd_bwd, fwd)``: ``fwd_bwd()`` runs loss = sum of the top layer's outputs ``[B, T, H]``
(in float32) and its gradients w.r.t. all weights, and returns ``(loss, gradients)`` (JAX: a pytree like the
parameters; torch: the loss, gradients left in ``.grad``); ``fwd()`` runs the forward pass only. Both wait
for the device. JAX functions are jitted with the weights as arguments (no constant folding).

Peers: torch ``nn.LSTM`` (oneDNN on CPU, cuDNN on GPU), ``jax.experimental.rnn.lstm`` (cuDNN), flax
``OptimizedLSTMCell`` + ``nn.RNN`` and equinox ``LSTMCell`` (vmap over the batch inside a ``lax.scan``).
torch and flax are imported only when their builder runs; when missing, the builder raises `Unavailable`
and the table shows ``n/a``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ..models import LSTM, RNNStack
from ..scan import vendor_kernels
from ._configs import Config, Plan
from ._timing import Unavailable

Pair = tuple[Callable[[], Any], Callable[[], Any]]


def _require(package: str) -> Any:
    """``import package``, or `Unavailable` naming the extra that installs it."""
    try:
        return __import__(package)
    except ImportError as err:
        raise Unavailable(f"{package} is not installed (pip install 'recurrax[bench]')") from err


class EquinoxLSTM(eqx.Module):
    """A stack of ``eqx.nn.LSTMCell``: vmap over the batch inside a `lax.scan` over time; ``[B, T, D]`` in."""

    cells: tuple[eqx.nn.LSTMCell, ...]

    def __init__(self, inputs: int, hidden: int, layers: int, *, key):
        keys = jax.random.split(key, layers)
        self.cells = tuple(eqx.nn.LSTMCell(inputs if i == 0 else hidden, hidden, key=k) for i, k in enumerate(keys))

    def __call__(self, xs):
        xs = jnp.swapaxes(xs, 0, 1)
        for cell in self.cells:
            zeros = jnp.zeros((xs.shape[1], cell.hidden_size), xs.dtype)
            step = jax.vmap(cell)

            def body(carry, x, step=step):
                carry = step(x, carry)
                return carry, carry[0]

            _, xs = jax.lax.scan(body, (zeros, zeros), xs)
        return jnp.swapaxes(xs, 0, 1)


def cast(tree, dtype):
    """Every inexact array of ``tree`` as ``dtype``."""
    return jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)


def jax_pair(apply: Callable, params, xs) -> Pair:
    """fwd+bwd (loss and gradients w.r.t. ``params``) and forward of ``apply(params, xs) -> ys``, jitted anew."""
    grad = jax.jit(jax.value_and_grad(lambda p, x: jnp.sum(apply(p, x).astype(jnp.float32))))
    fwd = jax.jit(apply)
    return (lambda: jax.block_until_ready(grad(params, xs))), (lambda: jax.block_until_ready(fwd(params, xs)))


def module_pair(model: eqx.Module, call: Callable, xs) -> Pair:
    """`jax_pair` of an equinox module: gradients w.r.t. its inexact arrays (a pytree like ``model``)."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    return jax_pair(lambda p, x: call(eqx.combine(p, static), x), params, xs)


def recurrax_pair(model: RNNStack, xs) -> Pair:
    """The timed functions of a recurrax stack on ``xs`` ``[B, T, D]``: the loss is the sum of ``model(xs)[0]``."""
    return module_pair(model, lambda m, x: m(x)[0], xs)


def jax_inputs(cfg: Config, key):
    return jax.random.normal(key, (cfg.batch, cfg.steps, cfg.inputs), cfg.dtype)


def build_recurrax(cfg: Config, key, **options) -> Pair:
    try:
        model = LSTM(cfg.inputs, cfg.hidden, cfg.layers, key=key, **options)
    except TypeError as err:
        if "fused" in str(err):
            raise Unavailable("rx.LSTM has no `fused` option") from err
        raise
    return recurrax_pair(cast(model, cfg.dtype), jax_inputs(cfg, key))


def build_recurrax_xla(cfg: Config, key) -> Pair:
    """`build_recurrax` with vendor kernels forbidden while its functions trace: recurrax's own XLA kernel."""
    pair = build_recurrax(cfg, key)

    def without_vendor(fn: Callable) -> Callable:
        def call():
            with vendor_kernels(False):
                return fn()

        return call

    return without_vendor(pair[0]), without_vendor(pair[1])


def build_cell(name: str, cfg: Config, key) -> Pair:
    model = RNNStack(cfg.inputs, cfg.hidden, cfg.layers, key=key, cell=name)
    return recurrax_pair(cast(model, cfg.dtype), jax_inputs(cfg, key))


def build_equinox(cfg: Config, key) -> Pair:
    model = cast(EquinoxLSTM(cfg.inputs, cfg.hidden, cfg.layers, key=key), cfg.dtype)
    return module_pair(model, lambda m, x: m(x), jax_inputs(cfg, key))


def build_flax(cfg: Config, key) -> Pair:
    _require("flax")
    import flax.linen as fnn

    class FlaxLSTM(fnn.Module):
        hidden: int
        layers: int
        dtype: Any = jnp.float32

        @fnn.compact
        def __call__(self, xs):
            for _ in range(self.layers):
                xs = fnn.RNN(fnn.OptimizedLSTMCell(self.hidden, dtype=self.dtype))(xs)
            return xs

    module = FlaxLSTM(cfg.hidden, cfg.layers, jnp.dtype(cfg.dtype))
    xs = jax_inputs(cfg, key)
    params = cast(module.init(key, xs.astype(jnp.float32)), cfg.dtype)  # fp32 init: bf16 QR is unsupported
    return jax_pair(module.apply, params, xs)


def build_jax_cudnn(cfg: Config, key) -> Pair:
    from jax.experimental import rnn

    weights = rnn.init_lstm_weight(key, cfg.inputs, cfg.hidden, cfg.layers, False).astype(cfg.dtype)
    zeros = jnp.zeros((cfg.layers, cfg.batch, cfg.hidden), cfg.dtype)
    lengths = jnp.full((cfg.batch,), cfg.steps, jnp.int32)

    def apply(w, x):
        return rnn.lstm(x, zeros, zeros, w, lengths, cfg.inputs, cfg.hidden, cfg.layers, 0.0, False)[0]

    return jax_pair(apply, weights, jax_inputs(cfg, key))


def torch_pair(model, xs) -> Pair:
    """The timed functions of a ``torch.nn.LSTM(batch_first=True)`` on ``xs``: fwd_bwd returns the loss."""
    import torch

    sync = torch.cuda.synchronize if xs.is_cuda else (lambda: None)

    def fwd_bwd():
        model.zero_grad(set_to_none=True)
        loss = model(xs)[0].float().sum()
        loss.backward()
        sync()
        return loss.detach()

    def fwd():
        with torch.no_grad():
            model(xs)
        sync()

    return fwd_bwd, fwd


def build_torch(cfg: Config, device: str) -> Pair:
    torch = _require("torch")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("this torch has no CUDA")
    dtype = getattr(torch, cfg.dtype)
    torch.manual_seed(0)
    model = torch.nn.LSTM(cfg.inputs, cfg.hidden, cfg.layers, batch_first=True).to(device=device, dtype=dtype)
    return torch_pair(model, torch.randn(cfg.batch, cfg.steps, cfg.inputs, device=device, dtype=dtype))


def builders(plan: Plan) -> dict[str, Callable[[Config, Any], Pair]]:
    """The JAX builders ``(cfg, key) -> (fwd_bwd, fwd)`` of the plan's implementations (torch is timed apart)."""
    every = {
        "jax_cudnn": build_jax_cudnn,
        "flax": build_flax,
        "equinox": build_equinox,
        "recurrax": build_recurrax,
        "recurrax_xla": build_recurrax_xla,
        "recurrax_bf16": lambda cfg, key: build_recurrax(cfg, key, matmul_dtype="bfloat16"),
        "recurrax_generic": lambda cfg, key: build_recurrax(cfg, key, fused=False),
    }
    return {name: every[name] for name in plan.impls if name != "torch"}
