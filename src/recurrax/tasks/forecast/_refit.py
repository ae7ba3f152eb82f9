"""`backtest_refit`: a rolling-origin backtest that trains a fresh model at every origin.

`backtest_run` scores one trained model from every origin, so an origin before its holdout forecasts values
that the model was trained on. Here each origin gets its own `fit_forecast` on the histories cut at that
origin, so no forecast sees a value at or after its origin (Tashman 2000's rolling origin with
re-calibration; Darts' ``historical_forecasts(retrain=True)``). It costs one training run per origin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._auto import fit_auto
from ._backtest import backtest
from ._config import ForecastConfig
from ._data import SeriesSet
from ._holdout import predict_series
from ._run import fit_forecast


def backtest_refit(
    cfg: ForecastConfig,
    series: SeriesSet,
    run_dir: str | Path,
    *,
    origins: int = 3,
    step: int | None = None,
    progress: bool = False,
) -> list[dict]:
    """`backtest` of ``cfg``'s model on ``series``, trained afresh at each origin (its ``horizon`` and ``period``).

    At the origin ``cut`` steps before the end (the origins of `backtest`: the last one ``horizon`` steps
    before the end, each earlier one ``step``, default ``horizon``, before the next) a model is trained with
    `fit_forecast` (`fit_auto` for ``model.kind = "auto"``: the choice is made afresh too) on every series
    without its last ``cut`` values (with ``cfg``'s seed, so it is the run
    one would train by hand on those histories) into ``run_dir/origin_<cut>``, and forecasts the ``horizon``
    steps after them. With covariates, the histories keep their own and the forecast steps take those of
    ``series`` after the cut. One row per origin, oldest first: ``origin``, ``mae``, ``rmse``, ``smape``,
    ``mase`` (as `backtest`). ``progress``: show each training run's progress bar.

    Example:
        >>> cfg = ForecastConfig(data=DataConfig(input_size=12, horizon=4, period=12))      # doctest: +SKIP
        >>> rows = backtest_refit(cfg, series, "runs/refit", origins=3)                      # doctest: +SKIP
        >>> [row["origin"] for row in rows]                                                  # doctest: +SKIP
        [12, 8, 4]
    """
    d, root = cfg.data, Path(run_dir)
    fit_run = fit_auto if cfg.model.kind == "auto" else fit_forecast

    def forecaster(histories: list[np.ndarray]) -> np.ndarray:
        n = [h.size for h in histories]
        cut = series.values[0].size - n[0]
        ds = None if series.ds is None else [s[:k] for s, k in zip(series.ds, n)]
        past = None if series.covariates is None else [c[:k] for c, k in zip(series.covariates, n)]
        known = SeriesSet(series.ids, histories, ds, past)
        run = fit_run(cfg, known, root / f"origin_{cut}", progress=progress)
        if past is None:
            return predict_series(run, known).mean
        future = np.stack([c[k : k + d.horizon] for c, k in zip(series.covariates, n)])
        return predict_series(run, known, future=future).mean

    return backtest(forecaster, series.values, d.horizon, origins=origins, step=step, period=d.period)
