"""Plots as PNG: ``write_forecast_plot`` (history, forecast, prediction interval and actuals of a few series) and
``write_backtest_plot`` (the scores of a rolling-origin backtest per origin, for one method or several)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
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


BACKTEST_METRICS = ("mae", "rmse", "smape", "mase")


def write_backtest_plot(
    path: str | Path,
    results: pd.DataFrame | list[dict] | Mapping[str, pd.DataFrame | list[dict]],
    *,
    metrics: Sequence[str] = BACKTEST_METRICS,
) -> Figure:
    """One panel per metric of ``metrics`` against the origin (steps before the end, the latest origin on the
    right), one line per method; write the PNG ``path`` and return the figure.

    ``results``: the rows of `backtest` (one per origin), their `backtest_table` (its ``all`` row is left
    out), or ``{name: rows or table}`` to set several methods side by side (a legend names them)."""
    methods = dict(results) if isinstance(results, Mapping) else {"": results}
    if not methods:
        raise ValueError("no backtest results to plot")
    frames = {name: _origin_rows(rows) for name, rows in methods.items()}
    missing = sorted({m for f in frames.values() for m in metrics if m not in f.columns})
    if missing:
        raise ValueError(f"the backtest rows lack the metrics {missing}")
    figure = Figure(figsize=(3.2 * len(metrics), 3), dpi=90)
    FigureCanvasAgg(figure)
    for j, metric in enumerate(metrics):
        axes = figure.add_subplot(1, len(metrics), j + 1)
        for name, frame in frames.items():
            axes.plot(frame["origin"], frame[metric], "o-", ms=4, lw=1.5, label=name or None)
        axes.invert_xaxis()
        axes.set_title(metric, fontsize=10)
        axes.set_xlabel("origin (steps before the end)", fontsize=8)
        axes.grid(alpha=0.3)
        if j == 0 and any(name for name in frames):  # named methods
            axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(Path(path))
    return figure


def _origin_rows(rows: pd.DataFrame | list[dict]) -> pd.DataFrame:
    """The per-origin rows (no ``all`` row) with integer ``origin``, oldest origin first."""
    frame = pd.DataFrame(rows)
    if "origin" not in frame.columns or frame.empty:
        raise ValueError("backtest rows need an origin column and at least one row")
    frame = frame[frame["origin"].astype(str) != "all"]
    return frame.astype({"origin": int}).sort_values("origin", ascending=False, ignore_index=True)
