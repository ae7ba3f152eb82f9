"""Character-level language modelling on tinyshakespeare: quality within a time budget, and a cell study.

    python benchmarks/lm_tinyshakespeare.py quality --config configs/lm_tinyshakespeare.toml --out runs/bench-lm
    python benchmarks/lm_tinyshakespeare.py cells --steps 1500 --out runs/bench-cells

``quality`` trains the given config (the usual split: first 90% train, last 10% validation) and prints the
validation loss in nats/char and bits/char beside bzip2's bits/char on the same validation text, the wall
time, and a sample. ``cells`` trains the same small model with vanilla RNN, GRU, LSTM, peephole LSTM and LSTM
with forget-gate bias 0 vs 1 for the same number of steps (the same tokens: a budget that load on the machine
cannot skew) and prints a table of validation loss per cell. Both print markdown for docs/benchmarks.md and
name the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from recurrax.config import load_config
from recurrax.tasks import lm

CELL_STUDY = {
    "vanilla RNN (tanh)": ["model.cell=rnn_tanh"],
    "GRU": ["model.cell=gru"],
    "LSTM (forget bias 1)": ["model.cell=lstm"],
    "LSTM (forget bias 0)": ["model.cell=lstm", "model.forget_bias=0.0"],
    "peephole LSTM": ["model.cell=peephole"],
}
STUDY_BASE = [
    "model.embed_size=64", "model.hidden_size=256", "model.num_layers=1", "data.seq_len=64", "data.batch_size=32",
    "optim.lr=0.003", "optim.clip_norm=5.0", "train.eval_every=0", "train.log_every=50",
]  # fmt: skip


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def quality(args: argparse.Namespace) -> None:
    cfg = load_config(lm.LMConfig, args.config, args.set or [])
    start = time.perf_counter()
    run = lm.fit_lm(cfg, args.out, data_dir=args.data_dir, progress=not args.no_progress)
    minutes = (time.perf_counter() - start) / 60
    valid = run.metrics["valid"]
    corpus = lm.load_corpus(cfg.data, args.data_dir)
    bzip2 = lm.bzip2_bpc("\n".join(corpus.splits["valid"]))
    print(f"\nMachine: {machine()}")
    print("| config | steps | wall time | valid loss (nats/char) | valid bits/char | bzip2 bits/char |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| {args.config} | {run.fit.step} | {minutes:.1f} min | {valid['loss']:.4f} | {valid['bpc']:.3f} "
        f"| {bzip2:.3f} |"
    )
    print(f"\nSample:\n\n{run.sample}")


def cells(args: argparse.Namespace) -> None:
    rows = []
    for name, overrides in CELL_STUDY.items():
        cfg = load_config(lm.LMConfig, None, [*STUDY_BASE, f"train.steps={args.steps}", *overrides])
        start = time.perf_counter()
        run = lm.fit_lm(cfg, args.out / name.replace(" ", "_").replace("(", "").replace(")", ""),
                        data_dir=args.data_dir, progress=not args.no_progress)  # fmt: skip
        rows.append((name, run.metrics["valid"], (time.perf_counter() - start) / 60))
        print(f"{name}: valid loss {run.metrics['valid']['loss']:.4f}", flush=True)
    print(f"\nMachine: {machine()}; each model: {' '.join(STUDY_BASE)} train.steps={args.steps}")
    print("| cell | valid loss (nats/char) | valid bits/char | wall time |")
    print("|---|---:|---:|---:|")
    for name, valid, minutes in rows:
        print(f"| {name} | {valid['loss']:.4f} | {valid['bpc']:.3f} | {minutes:.1f} min |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["quality", "cells"])
    parser.add_argument("--config", type=Path, default=Path("configs/lm_tinyshakespeare.toml"))
    parser.add_argument("--set", action="append", help="config overrides for quality, section.key=value")
    parser.add_argument("--steps", type=int, default=1500, help="training steps per cell (cells)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-lm"))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    quality(args) if args.mode == "quality" else cells(args)


if __name__ == "__main__":
    main()
