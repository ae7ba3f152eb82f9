"""The human side of a language-modelling run: ``loss_curve.png`` and ``report.md``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._config import LMConfig


def write_loss_curve(history: list[dict[str, Any]], path: Path) -> None:
    """Training and validation loss (nats per token) against the step, from the metrics rows."""
    figure = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for split, style in (("train", "-"), ("valid", "o-")):
        rows = [r for r in history if r.get("split") == split and math.isfinite(r.get("loss", math.nan))]
        if rows:
            axes.plot([r["step"] for r in rows], [r["loss"] for r in rows], style, label=split, markersize=3)
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy (nats per token)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


def write_report(
    path: Path,
    *,
    cfg: LMConfig,
    metrics: dict[str, dict[str, float]],
    steps: int,
    parameters: int,
    vocab_size: int,
    sizes: dict[str, int],
    bzip2: float,
    sample: str,
    sample_note: str,
) -> None:
    """``report.md``: the setup, the final metrics per split, bzip2's bpc on the validation text, a sample."""
    data = cfg.data.path or cfg.data.dataset
    model = cfg.model
    per = "character" if cfg.data.level == "char" else "word"
    lines = [
        f"# Language model: {data} ({cfg.data.level} level)",
        "",
        f"- Model: {model.num_layers} x {model.cell} ({model.hidden_size} units), embedding {model.embed_size}"
        f"{', tied read-out' if model.tie_weights else ''}, dropout {model.dropout}; {parameters:,} parameters",
        f"- Data: vocabulary {vocab_size}; characters per split: "
        + ", ".join(f"{split} {count:,}" for split, count in sizes.items()),
        f"- Training: {steps} steps, batch {cfg.data.batch_size} x {cfg.data.seq_len} (truncated BPTT), "
        f"{cfg.optim.name} lr {cfg.optim.lr}, clip {cfg.optim.clip_norm}, seed {cfg.train.seed}",
        "",
        "## Results",
        "",
        f"| split | loss (nats per {per}) | perplexity (per {per}) | bits per character |",
        "|---|---:|---:|---:|",
        *(f"| {split} | {m['loss']:.4f} | {m['perplexity']:.3f} | {m['bpc']:.4f} |" for split, m in metrics.items()),
        "",
        f"bzip2 -9 compresses the validation text to {bzip2:.4f} bits per character (a compressor baseline).",
        "",
        "![loss curve](loss_curve.png)",
        "",
        f"## Sample ({sample_note})",
        "",
        "```text",
        sample,
        "```",
        "",
    ]
    path.write_text("\n".join(lines))
