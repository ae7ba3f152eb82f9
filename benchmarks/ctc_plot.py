"""The learning-curve figure of docs/ctc.md: valid CER (greedy) against the step for protocol runs.

    python benchmarks/ctc_plot.py runs/ctc/clean-seed0 runs/ctc/captcha-seed0 --out docs/ctc_valid_cer.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from recurrax.train import read_metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    figure = Figure(figsize=(6, 3.5))
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    for run in args.runs:
        rows = [row for row in read_metrics(run / "metrics.jsonl") if row["split"] == "valid"]
        axis.plot([r["step"] for r in rows], [100 * max(r["cer"], 1e-5) for r in rows], marker="o", label=run.name)
    axis.axhline(2.0, color="grey", linestyle="--", linewidth=1, label="goal: 2%")
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("valid CER (%), greedy; 0 drawn at 0.001")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.out, dpi=90)


if __name__ == "__main__":
    main()
