"""LSTMP speed on CPU: recurrax on oneDNN's projection LSTM, recurrax's generic scan (the XLA path LSTMP takes
without oneDNN), torch ``nn.LSTM(proj_size=P)`` (which oneDNN does not run in torch: it warns "LSTM with
projections is not supported with oneDNN" and takes its native kernel).

    python benchmarks/lstmp_speed.py > benchmarks/results/lstmp_speed_cpu_xeon.txt

fwd+bwd (loss = sum of outputs, gradients w.r.t. every weight) and forward, median ms of 15 rounds after two
warm-up calls, at c1 (B32 T100 D64 H128, P 64) and c2 (B64 T200 D128 H256, P 128), one layer. The recurrax rows
run in this process (the XLA one under ``vendor_kernels(False)``); torch runs in a child process with
``OMP_WAIT_POLICY=ACTIVE`` (`_cpu_timing.torch_ms`). Pause other work on the machine first.
"""

import jax
from _cpu_timing import median_ms, stack_functions, torch_ms

import recurrax as rx
from recurrax.scan import vendor_kernels

CFGS = {"c1": (32, 100, 64, 128, 64), "c2": (64, 200, 128, 256, 128)}
for name, (B, T, D, H, P) in CFGS.items():
    model = rx.RNNStack(D, H, 1, key=jax.random.key(0), cell="lstm", proj_size=P)
    x = jax.random.normal(jax.random.key(1), (B, T, D))
    row = {}
    for vendor in (True, False):
        with vendor_kernels(vendor):
            fwd_bwd, forward, params = stack_functions(model)
            for label, fn in (("fwd_bwd", fwd_bwd), ("fwd", forward)):
                row[("onednn" if vendor else "xla") + "_" + label] = median_ms(fn, params, x)
    torch_row = torch_ms("torch.nn.LSTM(D, H, batch_first=True, proj_size=P)", B, T, D, H, P)
    ratios = {k: round(torch_row[k] / row[f"onednn_{k}"], 2) for k in torch_row}
    print(name, f"B{B} T{T} D{D} H{H} P{P}", {k: round(v, 2) for k, v in row.items()}, "torch",
          {k: round(v, 2) for k, v in torch_row.items()}, "torch / onednn", ratios, flush=True)  # fmt: skip
