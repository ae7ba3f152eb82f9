"""GRU speed on CPU: recurrax on oneDNN's lbr_gru, recurrax's fused XLA kernel, torch ``nn.GRU``; with
``--cells gru_cho`` also Cho et al.'s form on oneDNN's ``gru`` against its XLA scan (torch has no such GRU).

    python benchmarks/gru_speed.py [--cells gru gru_cho] > benchmarks/results/gru_speed_cpu.txt

fwd+bwd (loss = sum of outputs, gradients w.r.t. every weight) and forward, median ms of 15 rounds after two
warm-up calls, at c1 (B32 T100 D64 H128) and c2 (B64 T200 D128 H256), one layer. The two recurrax rows run
in this process (the XLA one under ``vendor_kernels(False)``); torch runs in a child process with
``OMP_WAIT_POLICY=ACTIVE`` (`_cpu_timing.torch_ms`). Pause other work on the machine first.
"""

import argparse

import jax
from _cpu_timing import median_ms, stack_functions, torch_ms

import recurrax as rx
from recurrax.scan import vendor_kernels

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--cells", nargs="+", default=["gru"], choices=["gru", "gru_cho"])
cells = parser.parse_args().cells
CFGS = {"c1": (32, 100, 64, 128), "c2": (64, 200, 128, 256)}
for name, (B, T, D, H) in CFGS.items():
    x = jax.random.normal(jax.random.key(1), (B, T, D))
    row = {}
    for cell in cells:
        model = rx.RNNStack(D, H, 1, key=jax.random.key(0), cell=cell)
        for vendor in (True, False):
            with vendor_kernels(vendor):
                fwd_bwd, forward, params = stack_functions(model)
                for label, fn in (("fwd_bwd", fwd_bwd), ("fwd", forward)):
                    row[f"{cell}_{'onednn' if vendor else 'xla'}_{label}"] = median_ms(fn, params, x)
    torch_row = torch_ms("torch.nn.GRU(D, H, batch_first=True)", B, T, D, H) if "gru" in cells else {}
    print(name, f"B{B} T{T} D{D} H{H}", {k: round(v, 2) for k, v in row.items()}, "torch",
          {k: round(v, 2) for k, v in torch_row.items()}, flush=True)  # fmt: skip
