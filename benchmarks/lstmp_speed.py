"""LSTMP speed on CPU: recurrax on oneDNN's projection LSTM, recurrax's generic scan (the XLA path LSTMP takes
without oneDNN), torch ``nn.LSTM(proj_size=P)`` (which oneDNN does not run in torch: it warns "LSTM with
projections is not supported with oneDNN" and takes its native kernel).

    python benchmarks/lstmp_speed.py > benchmarks/results/lstmp_speed_cpu_xeon.txt

fwd+bwd (loss = sum of outputs, gradients w.r.t. every weight) and forward, median ms of 15 rounds after two
warm-up calls, at c1 (B32 T100 D64 H128, P 64) and c2 (B64 T200 D128 H256, P 128), one layer. The recurrax rows
run in this process (the XLA one under ``vendor_kernels(False)``); torch runs in a child process with
``OMP_WAIT_POLICY=ACTIVE`` (see `recurrax.bench._torch_process`). Pause other work on the machine first.
"""

import json
import statistics
import subprocess
import sys
import time

import equinox as eqx
import jax

import recurrax as rx
from recurrax.scan import vendor_kernels

CFGS = {"c1": (32, 100, 64, 128, 64), "c2": (64, 200, 128, 256, 128)}
TORCH = r"""
import torch, time, statistics, json, sys, warnings
warnings.simplefilter("ignore")
B, T, D, H, P = map(int, sys.argv[1:6]); torch.manual_seed(0)
m = torch.nn.LSTM(D, H, batch_first=True, proj_size=P); x = torch.randn(B, T, D)
def fb():
    m.zero_grad(set_to_none=True); m(x)[0].sum().backward()
def f():
    with torch.no_grad(): m(x)
out = {}
for name, fn in (("fwd_bwd", fb), ("fwd", f)):
    for _ in range(3): fn()
    ts = []
    for _ in range(15):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    out[name] = 1000 * statistics.median(ts)
print(json.dumps(out))
"""


def median_ms(fn, *args) -> float:
    jax.block_until_ready(fn(*args))
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(15):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


for name, (B, T, D, H, P) in CFGS.items():
    model = rx.RNNStack(D, H, 1, key=jax.random.key(0), cell="lstm", proj_size=P)
    x = jax.random.normal(jax.random.key(1), (B, T, D))
    params, static = eqx.partition(model, eqx.is_inexact_array)
    row = {}
    for vendor in (True, False):
        with vendor_kernels(vendor):
            grad = jax.jit(jax.value_and_grad(lambda p, x: eqx.combine(p, static)(x)[0].sum()))
            forward = jax.jit(lambda p, x: eqx.combine(p, static)(x)[0])
            for label, fn in (("fwd_bwd", grad), ("fwd", forward)):
                row[("onednn" if vendor else "xla") + "_" + label] = median_ms(fn, params, x)
    env = {"OMP_WAIT_POLICY": "ACTIVE", "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-c", TORCH, *map(str, (B, T, D, H, P))]
    torch_row = json.loads(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)
    ratios = {k: round(torch_row[k] / row[f"onednn_{k}"], 2) for k in torch_row}
    print(name, f"B{B} T{T} D{D} H{H} P{P}", {k: round(v, 2) for k, v in row.items()}, "torch",
          {k: round(v, 2) for k, v in torch_row.items()}, "torch / onednn", ratios, flush=True)  # fmt: skip
