"""The peephole LSTM on oneDNN against the plain LSTM and against both on recurrax's fused XLA kernels.

    python benchmarks/peephole_speed.py > benchmarks/results/peephole_speed_cpu.txt

fwd+bwd (loss = sum of outputs, gradients w.r.t. every weight), one layer, median ms of 11 rounds after two
warm-up calls, at c1 (B32 T100 D64 H128) and c2 (B64 T200 D128 H256); the XLA rows under
``vendor_kernels(False)``. Pause other work on the machine first.
"""

import statistics
import time

import equinox as eqx
import jax

import recurrax as rx
from recurrax.scan import vendor_kernels

for B, T, D, H in [(32, 100, 64, 128), (64, 200, 128, 256)]:
    out = {}
    for cell, opts in (("lstm", {}), ("peephole", {"peepholes": ("i", "f", "o")})):
        m = rx.RNNStack(D, H, 1, key=jax.random.key(0), cell="lstm", **opts)
        x = jax.random.normal(jax.random.key(1), (B, T, D))
        p, s = eqx.partition(m, eqx.is_inexact_array)
        for vk in (True, False):
            with vendor_kernels(vk):
                g = jax.jit(jax.value_and_grad(lambda p, x: eqx.combine(p, s)(x)[0].sum()))
                jax.block_until_ready(g(p, x))
                jax.block_until_ready(g(p, x))
                ts = []
                for _ in range(11):
                    t0 = time.perf_counter()
                    jax.block_until_ready(g(p, x))
                    ts.append(time.perf_counter() - t0)
                out[f"{cell} {'onednn' if vk else 'xla'}"] = round(1000 * statistics.median(ts), 2)
    print(f"B{B} T{T} D{D} H{H} fwd+bwd ms", out, flush=True)
