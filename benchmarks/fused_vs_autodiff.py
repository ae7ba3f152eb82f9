"""Fwd+bwd time of one LSTM layer: the fused kernel (`recurrax.scan._fused_lstm`) against plain autodiff of
the generic scan (``RNN(cell, fused=False)``), plus variants of the kernel.

Loss = sum of the outputs; gradients w.r.t. every weight and the inputs; batch-major ``[B, T, D]`` in, as
users call `RNN`. The variants run interleaved (one call of each per round) so that load from other
processes hits them alike; the reported ratio is the median over rounds of ``generic time / variant time``
(above 1: faster than plain autodiff).

    python benchmarks/fused_vs_autodiff.py                       # c1 c2 c3, default variants
    python benchmarks/fused_vs_autodiff.py --configs c2 --variants generic fused fused_hoisted --torch

Measured on the 2-core AMD EPYC (Zen 4, avx512_bf16, no AMX) dev machine while other jobs used the cores
(load average 2-10, so absolute times swing 2x between runs); generic / variant, median of rounds, over
two full runs and three earlier runs of the same kernels:

    variant                          c1 B32 T100 D64 H128   c2 B64 T200 D128 H256   c3 B16 T500 D32 H512
    fused (per-step projection)      1.30-1.82x             1.08-1.16x              1.51-1.56x
    fused, hoisted projection        1.22-1.72x             1.06-1.12x              1.10-1.54x
    fused, unroll=2                  1.29-1.65x             1.14-1.19x              1.34-1.53x
    fused, unroll=4                  1.21-1.51x             1.11-1.18x              1.38-1.49x

Per-step projection against hoisted, head to head: 1.05-1.09x (c1), 1.11-1.16x (c2), 1.30x (c3).
torch.nn.LSTM (oneDNN, OMP_WAIT_POLICY=ACTIVE), best of rounds: 13.4 / 244 / 390 ms against the fused
kernel's 29.6 / 492 / 709 ms. At c2 half or more of the fused backward pass is the three matmuls after the loop
(XLA:CPU runs the [T*B, 4H]^T [T*B, H] weight-gradient matmul at ~60-120 GFLOP/s).

Prototypes measured against the fused kernel (not kept): recomputing the gate activations in the backward
pass from two large matmuls instead of saving them, 0.75-0.94x; bf16 operands for the per-step recurrent
matmuls (fp32 accumulation; ~2.5e-3 relative gradient error), 0.97-1.10x: this CPU has no AMX, so no gain
worth the error; saving ``c_{t-1}`` instead of ``c_t``, 0.95-1.01x; the per-step projection as one
``[x_t, h] @ [W_ih; W_hh]^T`` matmul, 1.03-1.07x against the hoisted kernel, below two separate matmuls.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp

import recurrax as rx
from recurrax.scan._fused_lstm import fused_lstm

CONFIGS = {"c1": (32, 100, 64, 128), "c2": (64, 200, 128, 256), "c3": (16, 500, 32, 512)}  # B, T, D, H
ROUNDS = {"c1": 30, "c2": 10, "c3": 6}


def _kernel(cell, xs, **options):
    """The kernel called directly (time-major inside), for options `RNN` does not expose."""
    batch, hidden = xs.shape[0], cell.hidden_size
    zeros = jnp.zeros((batch, hidden), xs.dtype)
    bias = cell.bias_ih + cell.bias_hh
    ys, _ = fused_lstm(cell.weight_ih, cell.weight_hh, bias, jnp.swapaxes(xs, 0, 1), zeros, zeros, **options)
    return jnp.swapaxes(ys, 0, 1)


VARIANTS: dict[str, Callable] = {
    "generic": lambda cell, xs: rx.RNN(cell, fused=False)(xs)[0],
    "fused": lambda cell, xs: rx.RNN(cell)(xs)[0],
    "fused_per_step": lambda cell, xs: _kernel(cell, xs, hoist_input=False),
    "fused_hoisted": lambda cell, xs: _kernel(cell, xs, hoist_input=True),
    "fused_unroll2": lambda cell, xs: rx.RNN(cell, unroll=2)(xs)[0],
    "fused_unroll4": lambda cell, xs: rx.RNN(cell, unroll=4)(xs)[0],
}


def _jax_step(forward: Callable, cell, xs) -> Callable[[], object]:
    grad = jax.jit(jax.grad(lambda c, x: jnp.sum(forward(c, x)), argnums=(0, 1)))
    return lambda: jax.block_until_ready(grad(cell, xs))


def _torch_step(batch: int, steps: int, input_size: int, hidden: int) -> Callable[[], object]:
    """torch.nn.LSTM (oneDNN) for the absolute anchor; set OMP_WAIT_POLICY=ACTIVE (see ANCHORS.md)."""
    import torch

    lstm = torch.nn.LSTM(input_size, hidden, batch_first=True)
    xs = torch.randn(batch, steps, input_size, requires_grad=True)

    def step():
        lstm.zero_grad()
        xs.grad = None
        lstm(xs)[0].sum().backward()

    return step


def measure(config: str, variants: list[str], rounds: int, with_torch: bool) -> dict[str, tuple[float, float, float]]:
    """``{variant: (median ms, min ms, median of per-round generic/variant ratios)}``."""
    batch, steps, input_size, hidden = CONFIGS[config]
    cell = rx.LSTMCell(input_size, hidden, key=jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (batch, steps, input_size), jnp.float32)
    names = ["generic"] + [v for v in variants if v != "generic"]
    steps_by_name = {name: _jax_step(VARIANTS[name], cell, xs) for name in names}
    if with_torch:
        steps_by_name["torch"] = _torch_step(batch, steps, input_size, hidden)
    for step in steps_by_name.values():
        step()
        step()  # compile, then one warm-up call
    times: dict[str, list[float]] = {name: [] for name in steps_by_name}
    for _ in range(rounds):
        for name, step in steps_by_name.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {
        name: (
            1e3 * statistics.median(ts),
            1e3 * min(ts),
            statistics.median(g / t for g, t in zip(times["generic"], ts)),
        )
        for name, ts in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--variants", nargs="+", default=["generic", "fused", "fused_hoisted"], choices=list(VARIANTS))
    parser.add_argument("--rounds", type=int, default=None, help="rounds per config (default: 30, 10, 6)")
    parser.add_argument("--torch", action="store_true", help="also time torch.nn.LSTM")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.default_backend()}; ms per fwd+bwd; x = generic / variant")
    for config in args.configs:
        results = measure(config, args.variants, args.rounds or ROUNDS[config], args.torch)
        cells = [f"{name} {med:.1f} (min {low:.1f}, {ratio:.2f}x)" for name, (med, low, ratio) in results.items()]
        print(f"{config} B,T,D,H={CONFIGS[config]}: " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
