"""Small layer calls: the vendor / native kernels (oneDNN, `recurrax.scan._native`) against the XLA kernels, in µs.

    nice -n 10 python benchmarks/vendor_crossover.py [--calls N] [--out F.json] [--markdown F.md]

A vendor call pays a fixed cost (primitive creation, weight reorder) that a short or narrow call does not repay:
one stream's step, token-by-token sampling. For each cell and (B, T, H) this times one `RNN` layer's forward and
its fwd+bwd (gradients w.r.t. the cell and the inputs) with vendor kernels allowed but the small-call rule off
(`recurrax.scan._onednn.MIN_STEPS` / `MIN_ROWS` set to 1: what ran before the rule) and under
``vendor_kernels(False)`` (the XLA kernels), one after the other, median over calls, inline CPU dispatch
(what ``import recurrax`` sets: the hand-over to JAX's worker thread would add the same to both). The rule
(`worth_a_vendor_call`: XLA for one step or under 128 rows) is read off this table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recurrax import inline_cpu_dispatch

assert inline_cpu_dispatch(), "JAX started before recurrax was imported"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import recurrax as rx  # noqa: E402
from recurrax._host import cpu_name  # noqa: E402
from recurrax.scan import _onednn, vendor_kernels  # noqa: E402

from _cpu_timing import median_us  # noqa: E402

CELLS = ("lstm", "gru", "peephole", "layernorm_lstm")
SHAPES = ((1, 1, 128), (1, 4, 128), (1, 16, 128), (1, 64, 128), (32, 1, 128), (32, 2, 128), (32, 4, 128),
          (8, 16, 128), (256, 2, 128), (1024, 1, 128), (1, 1, 256), (1, 16, 256), (1, 64, 256),
          (8, 16, 256))  # B, T, H; fmt: skip
INPUTS = 64


def time_pair(fn, cell, xs, calls: int) -> tuple[float, float]:
    """µs of ``fn(cell, xs)`` on the kernels at every size, then on the XLA kernels, each jitted and traced once."""
    rule = _onednn.MIN_STEPS, _onednn.MIN_ROWS
    _onednn.MIN_STEPS, _onednn.MIN_ROWS = 1, 1  # traced as before the rule: every size on the kernels
    vendor = jax.jit(fn)
    jax.block_until_ready(vendor(cell, xs))
    _onednn.MIN_STEPS, _onednn.MIN_ROWS = rule  # not in jit's cache key: the trace above is reused
    kernel = median_us(lambda: vendor(cell, xs), calls)
    with vendor_kernels(False):  # in jit's cache key: traced anew
        xla = jax.jit(fn)
        return kernel, median_us(lambda: xla(cell, xs), calls)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--markdown", help="write the markdown table here")
    args = parser.parse_args(argv)
    forward = lambda c, x: rx.RNN(c)(x)[0]
    train = jax.grad(lambda c, x: rx.RNN(c)(x)[0].sum(), argnums=(0, 1))
    rows = []
    for name in CELLS:
        for batch, steps, hidden in SHAPES:
            cell = rx.cells.make_cell(name, INPUTS, hidden, key=jax.random.key(0))
            xs = jax.random.normal(jax.random.key(1), (batch, steps, INPUTS))
            fwd, bwd = time_pair(forward, cell, xs, args.calls), time_pair(train, cell, xs, args.calls)
            rows.append(dict(cell=name, B=batch, T=steps, H=hidden, forward=fwd, fwd_bwd=bwd))
            print(rows[-1], file=sys.stderr, flush=True)
    lines = [f"CPU: {cpu_name()}, jax {jax.__version__}; µs, kernel / XLA (x = kernel time / XLA time); "
             f"rule: XLA below {_onednn.MIN_STEPS} steps or {_onednn.MIN_ROWS} rows T B\n",
             "| cell | B | T | H | forward | fwd+bwd | rule picks |", "|---" * 7 + "|"]  # fmt: skip
    for r in rows:
        cells = [f"{k:.0f} / {x:.0f} ({k / x:.2f}x)" for k, x in (r["forward"], r["fwd_bwd"])]
        pick = "kernel" if _onednn.worth_a_vendor_call(r["T"], r["B"]) else "XLA"
        lines.append(f"| {r['cell']} | {r['B']} | {r['T']} | {r['H']} | {cells[0]} | {cells[1]} | {pick} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(cpu=cpu_name(), jax=jax.__version__, rows=rows), indent=1))
    if args.markdown:
        Path(args.markdown).write_text(table)


if __name__ == "__main__":
    main()
