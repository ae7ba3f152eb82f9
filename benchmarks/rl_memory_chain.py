"""MemoryChain (bsuite, gymnax): recurrent policies against the memoryless MLP over memory lengths.

    nice -n 10 python benchmarks/rl_memory_chain.py [--lengths 5 10 20 40 80] [--cells lstm gru mlp]
        [--set key=value ...] [--runs runs/rl_memory_chain] [--out benchmarks/results/rl_memory_chain.json]

Every (cell, length) trains ``train.seeds`` policies with configs/rl.toml (one vmapped program) and is scored
by `recurrax.tasks.rl.evaluate` on fresh episodes (evaluation seed 10000, disjoint from training's draws):
the mean greedy return per seed (+1 every episode = solved, 0 = chance). The settings are configs/rl.toml's,
fixed before this table and the same for every cell and length. Writes the JSON of every score, the figure
``docs/rl_memory_chain.png`` (final return against the memory length, every seed a dot) and
``docs/rl_learning_curves.png`` (every cell's learning curves at ``--curve-length``, default 40).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from recurrax._host import cpu_name
from recurrax.config import load_config
from recurrax.tasks import rl

ROOT = Path(__file__).resolve().parents[1]


def plot(results: list[dict], path: Path) -> None:
    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for index, cell in enumerate(dict.fromkeys(r["cell"] for r in results)):
        rows = [r for r in results if r["cell"] == cell]
        axes.plot([r["memory_length"] for r in rows], [r["return"] for r in rows], marker="o", label=cell, color=f"C{index}")
        for r in rows:
            axes.scatter([r["memory_length"]] * len(r["return_per_seed"]), r["return_per_seed"], s=10,
                         color=f"C{index}", alpha=0.4)  # fmt: skip
    axes.axhline(0.0, color="grey", lw=0.8, ls="--")
    axes.set_xscale("log", base=2)
    lengths = sorted({r["memory_length"] for r in results})
    axes.set_xticks(lengths, [str(n) for n in lengths])
    axes.set_xlabel("memory length (steps between the cue and the query)")
    axes.set_ylabel("greedy return (1 = solved, 0 = chance)")
    axes.set_title("MemoryChain: PPO, final return per seed")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


def plot_curves(curves: dict[str, list[dict]], title: str, path: Path) -> None:
    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for index, (cell, rows) in enumerate(curves.items()):
        steps = [row["env_steps"] for row in rows]
        per_seed = np.array([[np.nan if v is None else v for v in row["return_per_seed"]] for row in rows])
        axes.plot(steps, per_seed, color=f"C{index}", lw=0.6, alpha=0.4)
        axes.plot(steps, np.nanmean(per_seed, axis=1), color=f"C{index}", lw=2, label=cell)
    axes.set_xlabel("environment steps per seed")
    axes.set_ylabel("training return (episodes ending in the rollout)")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[5, 10, 20, 40, 80])
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "mlp"])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--curve-length", type=int, default=40)
    parser.add_argument("--runs", default="runs/rl_memory_chain")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/rl_memory_chain.json"))
    args = parser.parse_args()
    results, curves = [], {}
    for length in args.lengths:
        for cell in args.cells:
            cfg = load_config(rl.RLConfig, ROOT / "configs/rl.toml",
                              [*args.overrides, f"env.memory_length={length}", f"model.cell={cell}"])  # fmt: skip
            start = time.perf_counter()
            run = rl.train(cfg, Path(args.runs) / f"{cell}-{length}", progress=False)
            row = {"cell": cell, "memory_length": length, **run.scores, "seconds": time.perf_counter() - start}
            results.append(row)
            if length == args.curve_length:
                curves[cell] = run.rows
            seeds = ", ".join(f"{v:+.3f}" for v in row["return_per_seed"])
            print(f"L={length:3d} {cell:5s} return {row['return']:+.3f} ± {row['return_sd']:.3f} ({seeds}) "
                  f"{row['seconds']:.0f} s", flush=True)  # fmt: skip
            Path(args.out).write_text(json.dumps({"machine": cpu_name(), "overrides": args.overrides,
                                                  "results": results}, indent=1))  # fmt: skip
    plot(results, ROOT / "docs/rl_memory_chain.png")
    if curves:
        title = f"MemoryChain, memory length {args.curve_length}: learning curves (thin: seeds)"
        plot_curves(curves, title, ROOT / "docs/rl_learning_curves.png")


if __name__ == "__main__":
    main()
