"""One step of a served model, in microseconds, against torch's ``nn.LSTMCell`` / ``nn.GRUCell`` (issue 17 item 4).

    nice -n 10 python benchmarks/step_latency.py [--calls N] [--out F.json] [--markdown F.md]

A served stream (token by token, point by point) runs one step per call. Three recurrax forms, each a jitted
call timed to its result (median µs over ``--calls`` calls, after warm-up), for `rx.LSTMCell` and `rx.GRUCell`
at batch 1 and 32:

- **served**: what ``recurrax serve`` runs: the layer ``RNN(cell)`` on a one-step sequence, exported with
  `jax.export` (weights an argument, vendor kernels off, as `recurrax.serve.export_run` does), deserialized
  and called through ``jax.jit(exported.call)`` as `recurrax.serve.Artifact` does;
- **cell, weights as arguments**: ``jax.jit(lambda cell, carry, x: cell(carry, x))``;
- **cell, weights compiled in**: the same with the cell closed over (its weights constants of the program).

Each form runs under both of JAX's CPU dispatch modes, each in its own process (JAX reads the mode once):
asynchronous (JAX's default; ``RECURRAX_ASYNC_DISPATCH=1``) and inline (what ``import recurrax`` sets:
`recurrax._dispatch`).
torch runs last, in this process, on one thread under ``torch.no_grad()``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from _cpu_timing import median_us, write_results

SIZES = ((1, 64, 128), (1, 128, 256), (32, 64, 128))  # B, D, H
CELLS = ("lstm", "gru")
FORMS = ("served", "argument", "closed")
MODES = ("asynchronous", "inline")


def recurrax_rows(mode: str, calls: int) -> list[dict]:
    """Every (size, cell) row's three forms, in this process, under dispatch ``mode``."""
    import jax
    import jax.numpy as jnp

    import recurrax as rx
    from recurrax._dispatch import FLAG
    from recurrax.scan import vendor_kernels

    assert jax.config.values[FLAG] == (mode == "asynchronous"), "the mode did not take"

    classes = {"lstm": rx.LSTMCell, "gru": rx.GRUCell}
    rows = []
    for batch, inputs, hidden in SIZES:
        for kind in CELLS:
            cell = classes[kind](inputs, hidden, key=jax.random.key(0))
            carry, x = cell.init_carry(batch), jnp.ones((batch, inputs), jnp.float32)
            xs = x[:, None]  # [B, 1, D]: one step of a sequence
            weights, tree = jax.tree.flatten(cell)  # a list of arrays, as an artifact's weights dict
            layer = lambda w, xs, s, tree=tree: rx.RNN(jax.tree.unflatten(tree, w))(xs, carry=s)
            with vendor_kernels(False):
                exported = jax.export.export(jax.jit(layer))(weights, xs, carry)
            served = jax.jit(jax.export.deserialize(exported.serialize()).call)
            argument = jax.jit(lambda c, s, x: c(s, x))
            closed = jax.jit(lambda s, x, c=cell: c(s, x))
            rows.append(dict(
                cell=kind, B=batch, D=inputs, H=hidden, dispatch=mode,
                served=median_us(lambda: served(weights, xs, carry), calls, warmup=100),
                argument=median_us(lambda: argument(cell, carry, x), calls, warmup=100),
                closed=median_us(lambda: closed(carry, x), calls, warmup=100),
            ))  # fmt: skip
    return rows


def torch_us(kind: str, batch: int, inputs: int, hidden: int, calls: int) -> float:
    import torch

    torch.set_num_threads(1)
    module = (torch.nn.LSTMCell if kind == "lstm" else torch.nn.GRUCell)(inputs, hidden).eval()
    x, zeros = torch.ones(batch, inputs), torch.zeros(batch, hidden)
    state = (zeros, zeros) if kind == "lstm" else zeros
    with torch.no_grad():
        return median_us(lambda: module(x, state), calls, warmup=100)


def markdown(rows: list[dict]) -> str:
    lines = [
        "| cell | B | D | H | served µs, async / inline | cell, weights as arguments, async / inline | "
        "cell, weights compiled in, async / inline | torch µs (1 thread) | x served inline | x best |",
        "|---" * 10 + "|",
    ]
    for r in rows:
        inline = r["inline"]
        best = min(inline.values())
        forms = " | ".join(f"{r['asynchronous'][f]:.1f} / {inline[f]:.1f}" for f in FORMS)
        lines.append(
            f"| {r['cell']} | {r['B']} | {r['D']} | {r['H']} | {forms} | {r['torch']:.1f} | "
            f"{r['torch'] / inline['served']:.2f}x | {r['torch'] / best:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per form")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--markdown", help="write the markdown table here")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)  # one dispatch mode's process
    args = parser.parse_args(argv)
    if args.worker:
        json.dump(recurrax_rows(args.worker, args.calls), sys.stdout)
        return
    by_mode = {}
    for mode in MODES:
        env = {**os.environ, "RECURRAX_ASYNC_DISPATCH": "1" if mode == "asynchronous" else "0"}
        run = subprocess.run([sys.executable, __file__, "--worker", mode, "--calls", str(args.calls)],
                             capture_output=True, text=True, check=True, env=env)  # fmt: skip
        by_mode[mode] = json.loads(run.stdout)
    rows = []
    for asynchronous, inline in zip(*by_mode.values()):
        row = {k: asynchronous[k] for k in ("cell", "B", "D", "H")}
        row.update({mode: {f: r[f] for f in FORMS} for mode, r in zip(MODES, (asynchronous, inline))})
        row["torch"] = torch_us(row["cell"], row["B"], row["D"], row["H"], args.calls)  # after every JAX process
        rows.append(row)
    from recurrax._host import cpu_name

    import jax

    table = f"CPU: {cpu_name()}, jax {jax.__version__}; x = torch time / recurrax time\n\n" + markdown(rows)
    write_results(table, dict(cpu=cpu_name(), jax=jax.__version__, rows=rows), args.out, args.markdown)


if __name__ == "__main__":
    main()
