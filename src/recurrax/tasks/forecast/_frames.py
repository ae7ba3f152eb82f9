"""Long frames on disk: ``.csv`` or ``.parquet`` files of series in, forecasts with intervals out.

The input is the long layout of Nixtla's libraries: one row per observation, columns ``unique_id``, ``ds``
(dates, or integers for an index) and ``y``. The output of `forecast_frame` is long as well: one row per
series and forecast step with ``unique_id``, ``ds``, ``mean`` and a column ``q<level>`` per quantile level
(``q0.1``, ``q0.9``, ...). `read_frame`, `write_frame` and `future_stamps` live in `recurrax.data`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...data import future_stamps as future_stamps
from ...data import read_frame as read_frame
from ...data import write_frame as write_frame
from ._data import Missing, SeriesSet
from ._predict import Forecast


def read_series(
    path: str | Path,
    *,
    freq: str | None = None,
    missing: Missing = "error",
    calendar: Sequence[str] = (),
    exogenous: Sequence[str] = (),
    static: Sequence[str] = (),
) -> SeriesSet:
    """A `SeriesSet` from the long frame in ``path`` (see `SeriesSet.from_frame` for ``freq``, ``missing``
    and the covariates ``calendar``, ``exogenous``, ``static``).

    Example:
        >>> import tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "y.csv"
        >>> _ = file.write_text("unique_id,ds,y\\na,2024-01-01,1\\na,2024-02-01,2\\nb,2024-01-01,5\\n")
        >>> series = read_series(file)
        >>> series.ids, [v.tolist() for v in series.values]
        (['a', 'b'], [[1.0, 2.0], [5.0]])
    """
    try:
        return SeriesSet.from_frame(read_frame(path), freq=freq, missing=missing, calendar=calendar,
                                    exogenous=exogenous, static=static)  # fmt: skip
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def forecast_frame(series: SeriesSet, forecast: Forecast, *, freq: str | None = None) -> pd.DataFrame:
    """The long frame of ``forecast`` (for the ends of ``series``): ``unique_id``, ``ds`` (`future_stamps`,
    or the step ``1..H`` when ``series`` has no stamps), ``mean`` and ``q<level>`` per quantile level."""
    count, horizon = forecast.mean.shape
    if count != len(series):
        raise ValueError(f"got forecasts for {count} series and {len(series)} series")
    stamps: list[Any] = (
        [np.arange(1, horizon + 1)] * count if series.ds is None
        else [future_stamps(ds, horizon, freq) for ds in series.ds]
    )  # fmt: skip
    columns: dict[str, Any] = {
        "unique_id": np.repeat(series.ids, horizon),
        "ds": np.concatenate(stamps),
        "mean": forecast.mean.reshape(-1),
    }
    if forecast.quantiles is not None and forecast.levels is not None:
        for k, level in enumerate(forecast.levels):
            columns[f"q{level:g}"] = forecast.quantiles[..., k].reshape(-1)
    return pd.DataFrame(columns)
