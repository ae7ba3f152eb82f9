"""Timing helpers of the one-lever CPU speed scripts (`gru_speed.py`, `peephole_speed.py`, `lstmp_speed.py`,
`onednn_layout.py`, `step_latency.py`, `vendor_crossover.py`, `anomaly_streaming.py`, `dispatch_training.py`,
`variant_speed.py`): the median of timed calls of a JAX function (in ms, or in µs for one-step latencies), a
recurrax stack's fwd+bwd and forward functions, torch timed in a child process with ``OMP_WAIT_POLICY=ACTIVE``
(see `recurrax.bench._torch_process` for why not in the JAX process), and the results written as JSON and
markdown."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import equinox as eqx
import jax

TORCH = r"""
import json, statistics, sys, time, warnings
import torch
warnings.simplefilter("ignore")
B, T, D, H, P, ROUNDS = map(int, sys.argv[2:8]); torch.manual_seed(0)
m = eval(sys.argv[1]); x = torch.randn(B, T, D)
def fb():
    m.zero_grad(set_to_none=True); m(x)[0].sum().backward()
def f():
    with torch.no_grad(): m(x)
out = {}
for name, fn in (("fwd_bwd", fb), ("fwd", f)):
    for _ in range(3): fn()
    ts = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    out[name] = 1000 * statistics.median(ts)
print(json.dumps(out))
"""


def median_ms(fn: Callable, *args, rounds: int = 15, warmup: int = 2) -> float:
    """Median wall time in ms of ``rounds`` calls of ``fn(*args)`` (waited for) after ``warmup`` calls."""
    for _ in range(warmup):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def write_results(table: str, payload: dict, out: str | None, markdown: str | None) -> None:
    """Print the markdown ``table``; write ``payload`` as JSON to ``out`` and the table to ``markdown`` when given."""
    print(table)
    if out:
        with open(out, "w") as f:
            json.dump(payload, f, indent=1)
    if markdown:
        with open(markdown, "w") as f:
            f.write(table)


def median_us(fn: Callable, calls: int, warmup: int = 5) -> float:
    """`median_ms` of ``fn()`` in µs over ``calls`` calls (one-step latencies); ``fn``'s result is waited for."""
    return 1000 * median_ms(fn, rounds=calls, warmup=warmup)


def stack_functions(model: eqx.Module) -> tuple[Callable, Callable, object]:
    """Jitted fwd+bwd (loss = sum of outputs, gradients w.r.t. every weight) and forward of ``model`` on
    ``(params, x)``, and its params. Jit traces at the first call: call them inside a `vendor_kernels` block."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    fwd_bwd = jax.jit(jax.value_and_grad(lambda p, x: eqx.combine(p, static)(x)[0].sum()))
    forward = jax.jit(lambda p, x: eqx.combine(p, static)(x)[0])
    return fwd_bwd, forward, params


def torch_ms(model: str, batch: int, steps: int, inputs: int, hidden: int, projection: int = 0,
             rounds: int = 15) -> dict[str, float]:  # fmt: skip
    """torch's fwd+bwd and forward median ms (``{"fwd_bwd", "fwd"}``) of the module that the expression
    ``model`` builds (names ``B, T, D, H, P``, e.g. ``"torch.nn.GRU(D, H, batch_first=True)"``), in a child."""
    env = {"OMP_WAIT_POLICY": "ACTIVE", "PATH": "/usr/bin:/bin"}
    sizes = map(str, (batch, steps, inputs, hidden, projection, rounds))
    done = subprocess.run([sys.executable, "-c", TORCH, model, *sizes], env=env, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return json.loads(done.stdout)
