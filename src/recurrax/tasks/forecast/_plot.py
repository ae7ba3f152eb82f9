"""``write_forecast_plot``: history, forecast, prediction interval and actuals of a few series, one PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def write_forecast_plot(
    path: str | Path,
    histories: Sequence[np.ndarray],
    forecasts: np.ndarray,
    *,
    actuals: np.ndarray | None = None,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    titles: Sequence[str] | None = None,
    max_series: int = 6,
) -> Path:
    """One panel per series (the first ``max_series``): the history, the forecast ``[N, H]`` after it, the
    band ``lower``..``upper`` ``[N, H]`` and the ``actuals`` ``[N, H]`` when given. Returns ``path``."""
    count = min(len(histories), max_series)
    figure = Figure(figsize=(8, 2.4 * count), dpi=90)
    FigureCanvasAgg(figure)
    for i in range(count):
        axes = figure.add_subplot(count, 1, i + 1)
        n, h = len(histories[i]), forecasts.shape[1]
        future = np.arange(n, n + h)
        axes.plot(np.arange(n), histories[i], color="black", lw=1, label="history")
        if lower is not None and upper is not None:
            axes.fill_between(future, lower[i], upper[i], color="tab:blue", alpha=0.25, label="interval")
        axes.plot(future, forecasts[i], color="tab:blue", lw=1.5, label="forecast")
        if actuals is not None:
            axes.plot(future, actuals[i], "o", color="tab:red", ms=3, label="actual")
        if titles is not None:
            axes.set_title(titles[i], fontsize=9)
        axes.grid(alpha=0.3)
        if i == 0:
            axes.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    return path
