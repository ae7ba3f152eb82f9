"""Fwd+bwd time of every cell variant: the default path (``RNN(cell)``: oneDNN's kernels on CPU where they apply,
the native kernels of `recurrax.scan._native` for NIAF, NOAF, the layer-norm and depth-gated LSTMs and MUT1-3,
else `recurrax.scan._fused_scan` or `_fused_lstm` for the plain LSTM, else the generic scan) against plain
autodiff of the generic scan (``RNN(cell, fused=False)``), and each against the plain LSTM's default path, in
one process.

    nice -n 10 python benchmarks/variant_speed.py [--configs c1 c2] [--variants ...] [--rounds N] [--out F.json]
        [--markdown F.md]

One `RNN` layer on batch-major ``[B, T, D]``; loss = sum of the outputs; gradients w.r.t. every cell
parameter and the inputs (one jitted call). Every (variant, path) runs once per round, interleaved, so load
from other processes hits them alike; a time is the median over rounds, and a ratio is the median over
rounds of the per-round ratio (``fused x`` = unfused / fused time; ``vs lstm`` = plain fused LSTM time / this
variant's fused time, above 1 faster than the plain LSTM). FGR has neither a fused nor a vendor or native kernel:
its default path is the generic scan (``fused x`` about 1); the MGU runs oneDNN's Cho GRU, gates tied.
``depth_gated`` is a middle layer of a stack (it reads the lower layer's ``[h, c]``: ``D = 2H``); ``lstm_middle`` is
the plain LSTM in that place (it reads the lower layer's ``h``: ``D = H``), and ``depth_gated vs middle`` under the
table is its time over the depth-gated layer's (the same recurrence; input weights ``5H x H`` against ``4H x H``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import jax
import jax.numpy as jnp
from _cpu_timing import write_results

import recurrax as rx
from recurrax._host import cpu_name

CONFIGS = {"c1": (32, 100, 64, 128), "c2": (64, 200, 128, 256)}  # B, T, D, H (those of lstm_speed.py)
ROUNDS = {"c1": 15, "c2": 7}
VARIANTS = (
    "lstm", "peephole", "nig", "nfg", "nog", "niaf", "noaf", "cifg", "fgr",
    "gru", "gru_cho", "rnn_tanh", "mgu", "mut1", "mut2", "mut3", "layernorm_lstm", "depth_gated", "lstm_middle",
)  # fmt: skip


def _cell(name: str, inputs: int, hidden: int, key):
    if name == "depth_gated":
        return rx.cells.make_cell(name, 2 * hidden, hidden, key=key, layer=1, num_layers=3)
    if name == "lstm_middle":
        return rx.cells.make_cell("lstm", hidden, hidden, key=key)
    return rx.cells.make_cell(name, inputs, hidden, key=key)


def _grad_fn(fused: bool):
    def loss(cell, xs):
        return jnp.sum(rx.RNN(cell, fused=fused)(xs)[0])

    return jax.jit(jax.grad(loss, argnums=(0, 1)))


def run_config(name: str, rounds: int, variants: tuple[str, ...] = VARIANTS) -> dict:
    """Every variant of ``variants`` (the plain ``lstm`` first, the reference, added when missing) at ``name``."""
    variants = ("lstm", *(v for v in variants if v != "lstm"))
    batch, steps, inputs, hidden = CONFIGS[name]
    key = jax.random.key(0)
    runs = {}
    for variant in variants:
        cell = _cell(variant, inputs, hidden, key)
        xs = jax.random.normal(jax.random.fold_in(key, 1), (batch, steps, cell.input_size), jnp.float32)
        for fused in (True, False):
            fn = _grad_fn(fused)
            jax.block_until_ready(fn(cell, xs))  # compile
            jax.block_until_ready(fn(cell, xs))  # warm up
            runs[(variant, fused)] = (fn, cell, xs)
    times: dict = {k: [] for k in runs}
    for _ in range(rounds):
        for k, (fn, cell, xs) in runs.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(cell, xs))
            times[k].append(time.perf_counter() - start)
    lstm = times[("lstm", True)]
    rows = []
    for variant in variants:
        fused, unfused = times[(variant, True)], times[(variant, False)]
        rows.append(
            dict(
                variant=variant,
                fused_ms=1e3 * statistics.median(fused),
                unfused_ms=1e3 * statistics.median(unfused),
                fused_x=statistics.median(u / f for u, f in zip(unfused, fused)),
                vs_lstm=statistics.median(r / b for r, b in zip(lstm, fused)),
            )
        )
    result = dict(config=name, size=dict(zip("BTDH", CONFIGS[name])), rounds=rounds, rows=rows)
    if {"lstm_middle", "depth_gated"} <= set(variants):
        middle, depth = times[("lstm_middle", True)], times[("depth_gated", True)]
        result["depth_gated_vs_middle"] = statistics.median(m / d for m, d in zip(middle, depth))
    return result


def markdown(results: list[dict]) -> str:
    cols = [f"{r['config']} B{r['size']['B']} T{r['size']['T']} D{r['size']['D']} H{r['size']['H']}" for r in results]
    lines = ["| variant | " + " | ".join(f"{c}: fused ms / unfused ms / fused x / vs lstm" for c in cols) + " |"]
    lines.append("|---" * (len(cols) + 1) + "|")
    for i, variant in enumerate(row["variant"] for row in results[0]["rows"]):
        cells = []
        for r in results:
            row = r["rows"][i]
            cells.append(
                f"{row['fused_ms']:.1f} / {row['unfused_ms']:.1f} / {row['fused_x']:.2f}x / {row['vs_lstm']:.2f}x"
            )
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    if "depth_gated_vs_middle" in results[0]:
        middle = ", ".join(f"{r['config']} {r['depth_gated_vs_middle']:.2f}x" for r in results)
        lines += ["", f"depth_gated vs middle (lstm_middle time / depth_gated time): {middle}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                        help="the variants to time (the plain lstm, the reference, always)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=0, help="timed rounds per config (default 15 c1, 7 c2)")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--markdown", help="write the markdown table here")
    args = parser.parse_args(argv)
    header = f"CPU: {cpu_name()}, jax {jax.__version__}, {jax.device_count()} device(s)\n\n"
    results = []
    for name in args.configs:
        results.append(run_config(name, args.rounds or ROUNDS[name], tuple(args.variants)))
        print(f"{name} done", file=sys.stderr, flush=True)
    write_results(header + markdown(results), dict(cpu=cpu_name(), jax=jax.__version__, results=results), args.out,
                  args.markdown)  # fmt: skip


if __name__ == "__main__":
    main()
