"""GRU speed on CPU: recurrax on oneDNN's lbr_gru, recurrax's fused XLA kernel, torch ``nn.GRU``.

    python benchmarks/gru_speed.py > benchmarks/results/gru_speed_cpu.txt

fwd+bwd (loss = sum of outputs, gradients w.r.t. every weight) and forward, median ms of 15 rounds after two
warm-up calls, at c1 (B32 T100 D64 H128) and c2 (B64 T200 D128 H256), one layer. The two recurrax rows run
in this process (the XLA one under ``vendor_kernels(False)``); torch runs in a child process with
``OMP_WAIT_POLICY=ACTIVE`` (see `recurrax.bench._torch_process` for why not in this one). Pause other work
on the machine first.
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

CFGS = {"c1": (32, 100, 64, 128), "c2": (64, 200, 128, 256)}
TORCH = r"""
import torch, time, statistics, json, sys
B,T,D,H = map(int, sys.argv[1:5]); torch.manual_seed(0)
m = torch.nn.GRU(D, H, batch_first=True); x = torch.randn(B, T, D)
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
for name, (B, T, D, H) in CFGS.items():
    m = rx.RNNStack(D, H, 1, key=jax.random.key(0), cell="gru")
    x = jax.random.normal(jax.random.key(1), (B, T, D))
    p, s = eqx.partition(m, eqx.is_inexact_array)
    row = {}
    for vk in (True, False):
        with vendor_kernels(vk):
            g = jax.jit(jax.value_and_grad(lambda p, x: eqx.combine(p, s)(x)[0].sum()))
            f = jax.jit(lambda p, x: eqx.combine(p, s)(x)[0])
            for lab, fn in (("fwd_bwd", g), ("fwd", f)):
                jax.block_until_ready(fn(p, x))
                jax.block_until_ready(fn(p, x))
                ts = []
                for _ in range(15):
                    t0 = time.perf_counter()
                    jax.block_until_ready(fn(p, x))
                    ts.append(time.perf_counter() - t0)
                row[("onednn" if vk else "xla") + "_" + lab] = 1000 * statistics.median(ts)
    env = {"OMP_WAIT_POLICY": "ACTIVE", "PATH": "/usr/bin:/bin"}
    torch_row = json.loads(
        subprocess.run(
            [sys.executable, "-c", TORCH, str(B), str(T), str(D), str(H)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    print(
        name,
        f"B{B} T{T} D{D} H{H}",
        {k: round(v, 2) for k, v in row.items()},
        "torch",
        {k: round(v, 2) for k, v in torch_row.items()},
        flush=True,
    )
