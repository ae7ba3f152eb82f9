"""The examples figure of a CTC run: rendered lines with their reference and recognised text."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._data import Lines


def write_examples_png(lines: Lines, predicted: list[str], path: str | Path, title: str, count: int = 8) -> None:
    """The first ``count`` lines (ink dark on white, as an image) titled ``reference -> recognised`` (red
    when they differ)."""
    count = min(count, len(lines))
    figure = Figure(figsize=(8, 1.1 * count))
    FigureCanvasAgg(figure)
    axes = figure.subplots(count, 1, squeeze=False)[:, 0]
    for axis, image, text, guess in zip(axes, lines.images, lines.texts, predicted):
        axis.imshow(255 - image.T, cmap="gray", vmin=0, vmax=255, aspect="auto", interpolation="nearest")
        axis.set_title(f"{text!r} -> {guess!r}", fontsize=9, color="black" if text == guess else "red", loc="left")
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(f"{title} lines: reference -> recognised", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
