"""Rolling-origin backtesting (Tashman 2000): forecast from several origins, each seeing only its past."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ...metrics import mae, mase, rmse, smape


def point_scores(
    actual: np.ndarray, forecast: np.ndarray, histories: Sequence[np.ndarray], period: int = 1
) -> dict[str, float]:
    """``mae``, ``rmse``, ``smape`` over all series of ``actual`` and ``forecast`` ``[N, H]``, and ``mase``:
    the mean over series of each one's MASE scaled by its history ``histories[i]`` with seasonal ``period``."""
    scaled = [mase(a, f, h, period) for a, f, h in zip(actual, forecast, histories)]
    return {"mae": mae(actual, forecast), "rmse": rmse(actual, forecast), "smape": smape(actual, forecast),
            "mase": float(np.mean(scaled))}  # fmt: skip


def backtest(
    forecaster: Callable[[list[np.ndarray]], np.ndarray],
    values: Sequence[np.ndarray],
    horizon: int,
    *,
    origins: int = 3,
    step: int | None = None,
    period: int = 1,
) -> list[dict[str, float]]:
    """Scores at ``origins`` forecast origins, the last one ``horizon`` steps before each series' end and
    each earlier one ``step`` (default ``horizon``) steps before the next.

    ``forecaster(histories) -> [N, horizon]`` gets each series cut at the origin (refit inside it, or not,
    as the caller decides: a baseline, or a closure over `fit_forecast` and `predict`). One row per origin
    (oldest first): ``origin`` (steps before the end), ``mae``, ``rmse``, ``smape`` over all series and
    ``mase`` (the mean of the per-series MASE with seasonal ``period``).

    Example:
        >>> from recurrax.tasks.forecast import forecast_baseline
        >>> y = [np.arange(1.0, 11.0)]
        >>> rows = backtest(lambda h: forecast_baseline("naive", h, 2), y, 2, origins=2)
        >>> [(r["origin"], r["mae"]) for r in rows]
        [(4, 1.5), (2, 1.5)]
    """
    step = horizon if step is None else step
    if origins < 1 or step < 1:
        raise ValueError("origins and step must be >= 1")
    rows = []
    for k in range(origins - 1, -1, -1):
        cut = horizon + k * step
        if any(y.size - cut < 2 for y in values):
            raise ValueError(f"a series is too short for {origins} origins {step} steps apart (horizon {horizon})")
        histories = [np.asarray(y[:-cut], np.float64) for y in values]
        actual = np.stack([y[y.size - cut : y.size - cut + horizon] for y in values])
        forecast = np.asarray(forecaster(histories), np.float64)
        rows.append({"origin": cut, **point_scores(actual, forecast, histories, period)})
    return rows
