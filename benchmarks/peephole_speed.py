"""The peephole LSTM and Greff et al.'s gate ablations (NIG, NFG, NOG: peepholes on the other gates, the removed
gate saturated; CIFG: the input gate as the forget gate's blocks negated) on oneDNN against the plain LSTM, and
each against its run on recurrax's fused XLA kernels.

    python benchmarks/peephole_speed.py [--cells lstm peephole nig nfg nog cifg] > benchmarks/results/peephole_speed_cpu.txt

fwd+bwd (loss = sum of outputs, gradients w.r.t. every weight), one layer, median ms of 11 rounds after two
warm-up calls, at c1 (B32 T100 D64 H128) and c2 (B64 T200 D128 H256); the XLA rows under
``vendor_kernels(False)``. Pause other work on the machine first.
"""

import argparse

import jax
from _cpu_timing import median_ms, stack_functions

import recurrax as rx
from recurrax.scan import vendor_kernels

CELLS = {"lstm": {}, "peephole": {"peepholes": ("i", "f", "o")}, "nig": None, "nfg": None, "nog": None, "cifg": None}
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
cells = parser.parse_args().cells

for B, T, D, H in [(32, 100, 64, 128), (64, 200, 128, 256)]:
    out = {}
    for cell in cells:
        name, opts = ("lstm", CELLS[cell]) if CELLS[cell] is not None else (cell, {})
        model = rx.RNNStack(D, H, 1, key=jax.random.key(0), cell=name, **opts)
        x = jax.random.normal(jax.random.key(1), (B, T, D))
        for vendor in (True, False):
            with vendor_kernels(vendor):
                fwd_bwd, _, params = stack_functions(model)
                out[f"{cell} {'onednn' if vendor else 'xla'}"] = round(median_ms(fwd_bwd, params, x, rounds=11), 2)
    print(f"B{B} T{T} D{D} H{H} fwd+bwd ms", out, flush=True)
