"""``write_anomaly_plot``: one PNG of a series' detection — values, scores, threshold, detections, true windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._detectors import sequences_of


def write_anomaly_plot(
    path: str | Path,
    detected: pd.DataFrame,
    values: tuple[str, ...] | list[str],
    *,
    labels: np.ndarray | None = None,
    title: str | None = None,
) -> Path:
    """Two panels over the row index of ``detected`` (a `detection_frame`): the ``values`` columns with the
    detected sequences shaded red and the true anomaly windows (``labels`` ``[T]`` bool) shaded green; the raw
    ``score``, the ``smoothed`` score and the ``threshold``. Returns ``path``."""
    rows = np.arange(len(detected))
    figure = Figure(figsize=(10, 5), dpi=90)
    FigureCanvasAgg(figure)
    top = figure.add_subplot(2, 1, 1)
    bottom = figure.add_subplot(2, 1, 2, sharex=top)
    for name in values:
        top.plot(rows, detected[name].to_numpy(np.float64), lw=0.8, label=name)
    spans = [(sequences_of(detected["is_anomaly"].to_numpy(bool)), "tab:red", 0.25, "detected")]
    if labels is not None:
        spans.append((sequences_of(labels), "tab:green", 0.6, "true anomaly"))
    for runs, color, alpha, name in spans:
        for i, (start, end) in enumerate(runs):
            for axes in (top, bottom):
                axes.axvspan(start - 0.5, end + 0.5, color=color, alpha=alpha, lw=0,
                             label=name if i == 0 and axes is top else None)  # fmt: skip
    bottom.plot(rows, detected["score"].to_numpy(np.float64), color="0.6", lw=0.6, label="score")
    bottom.plot(rows, detected["smoothed"].to_numpy(np.float64), color="tab:blue", lw=1, label="smoothed")
    bottom.plot(rows, detected["threshold"].to_numpy(np.float64), color="black", ls="--", lw=1, label="threshold")
    bottom.set_xlabel("row")
    for axes in (top, bottom):
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="upper left")
    if title:
        top.set_title(title, fontsize=9)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    return path
