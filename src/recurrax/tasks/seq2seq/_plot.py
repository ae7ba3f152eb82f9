"""The attention-weight plot: target tokens (rows) against source tokens (columns)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def write_attention_png(weights: np.ndarray, source: Sequence[str], target: Sequence[str], path: str | Path) -> None:
    """``weights`` ``[len(target), >= len(source)]`` as a heat map, cropped to the tokens given."""
    weights = np.asarray(weights)[: len(target), : len(source)]
    figure = Figure(figsize=(max(4.0, 0.45 * len(source) + 2), max(3.0, 0.4 * len(target) + 1.5)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(source)), list(source), rotation=60, ha="right")
    axes.set_yticks(range(len(target)), list(target))
    axes.set_xlabel("source (English)")
    axes.set_ylabel("output (French)")
    figure.tight_layout()
    figure.savefig(path)
