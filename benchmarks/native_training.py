"""Where small layers train faster on recurrax's native kernels than on oneDNN's training primitives: the
measurements behind `recurrax.scan._native.trains_natively`'s thresholds.

    python benchmarks/native_training.py --out benchmarks/results/native_training_cpu

For each layer size, fwd+bwd (loss = sum of outputs, gradients w.r.t. every weight, the input and the initial
state) of one layer trained natively (`lstm_trained_natively`, `gru_trained_natively`) and on oneDNN (`onednn_lstm`,
`onednn_peephole_lstm`, `onednn_gru_arrays`), median ms of interleaved rounds; x = oneDNN time / native time (above
1: native faster). Pause other work on the machine first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from recurrax._host import cpu_name, usable_cores
from recurrax.scan._native import gru_trained_natively, lstm_trained_natively
from recurrax.scan._onednn import onednn_gru_arrays, onednn_lstm, onednn_peephole_lstm

SIZES = [(8, 50, 64, 64), (32, 100, 64, 64), (16, 100, 64, 128), (32, 100, 64, 128), (16, 500, 64, 128),
         (128, 100, 64, 128), (64, 200, 128, 256), (16, 200, 128, 512), (32, 100, 128, 512),
         (64, 100, 128, 512)]  # fmt: skip  (B, T, D, H)


def machine() -> str:
    return f"{cpu_name()}, {usable_cores()} cores, jax {jax.__version__}"


def layer_losses(cell: str, B: int, T: int, D: int, H: int):
    """``(native, onednn)`` jitted gradients of one layer of ``cell`` (``lstm``, ``peephole``, ``gru``) and their
    arguments."""
    gates = 3 if cell == "gru" else 4
    keys = jax.random.split(jax.random.key(0), 5)
    w_ih = 0.1 * jax.random.normal(keys[0], (gates * H, D))
    w_hh = 0.1 * jax.random.normal(keys[1], (gates * H, H))
    bias = 0.1 * jax.random.normal(keys[2], (gates * H,))
    xs = jax.random.normal(keys[3], (B, T, D))
    h0 = 0.1 * jax.random.normal(keys[4], (B, H))
    if cell == "gru":
        native = lambda w_ih, w_hh, b, x, h: gru_trained_natively(w_ih, w_hh, b, b, x, h, True)[0].sum()  # noqa: E731
        vendor = lambda w_ih, w_hh, b, x, h: onednn_gru_arrays(w_ih, w_hh, b, b, x, h, True)[0].sum()  # noqa: E731
    else:
        peep = 0.1 * jnp.ones((3, H)) if cell == "peephole" else jnp.zeros((3, H))

        def native(w_ih, w_hh, b, x, h):
            return lstm_trained_natively(w_ih, w_hh, peep, b, x, h, h, True, cell == "peephole")[0].sum()

        def vendor(w_ih, w_hh, b, x, h):
            if cell == "peephole":
                return onednn_peephole_lstm(w_ih, w_hh, peep, b, x, h, h, True)[0].sum()
            return onednn_lstm(w_ih, w_hh, b, x, h, h, True)[0].sum()

    grad = lambda f: jax.jit(jax.grad(f, argnums=(0, 1, 2, 3, 4)))  # noqa: E731
    return grad(native), grad(vendor), (w_ih, w_hh, bias, xs, h0)


def time_pair(native, vendor, args, rounds: int) -> tuple[float, float]:
    """Median ms of ``rounds`` interleaved calls of each (after two warm-up calls)."""
    times: dict[str, list[float]] = {"native": [], "onednn": []}
    for fn in (native, vendor):
        for _ in range(2):
            jax.block_until_ready(fn(*args))
    for _ in range(rounds):
        for name, fn in (("native", native), ("onednn", vendor)):
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times[name].append(time.perf_counter() - start)
    return 1000 * statistics.median(times["native"]), 1000 * statistics.median(times["onednn"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["lstm", "peephole", "gru"], choices=["lstm", "peephole", "gru"])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.md")
    args = parser.parse_args()
    rows = []
    for B, T, D, H in SIZES:
        for cell in args.cells:
            native, vendor, arrays = layer_losses(cell, B, T, D, H)
            native_ms, onednn_ms = time_pair(native, vendor, arrays, args.rounds)
            row = dict(cell=cell, B=B, T=T, D=D, H=H, log2_BH2=round(float(jnp.log2(B * H * H)), 1),
                       native_ms=round(native_ms, 2), onednn_ms=round(onednn_ms, 2),
                       x=round(onednn_ms / native_ms, 2))  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
    header = f"fwd+bwd, median ms of {args.rounds} interleaved rounds; {machine()}"
    table = ["| cell | B | T | D | H | log2(B H^2) | native ms | oneDNN ms | x (oneDNN / native) |", "|---" * 9 + "|"]
    table += [f"| {r['cell']} | {r['B']} | {r['T']} | {r['D']} | {r['H']} | {r['log2_BH2']} | {r['native_ms']} | "
              f"{r['onednn_ms']} | {r['x']:.2f}x |" for r in rows]  # fmt: skip
    print(header, *table, sep="\n")
    if args.out:
        args.out.with_suffix(".json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1) + "\n")
        args.out.with_suffix(".md").write_text("\n".join([header, "", *table]) + "\n")


if __name__ == "__main__":
    main()
