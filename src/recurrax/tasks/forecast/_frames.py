"""Long frames on disk: ``.csv`` or ``.parquet`` files of series in, forecasts with intervals out.

The input is the long layout of Nixtla's libraries: one row per observation, columns ``unique_id``, ``ds``
(dates, or integers for an index) and ``y``. The output of `forecast_frame` is long as well: one row per
series and forecast step with ``unique_id``, ``ds``, ``mean`` and a column ``q<level>`` per quantile level
(``q0.1``, ``q0.9``, ...). Parquet goes through pyarrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..._extras import require
from ._data import Missing, SeriesSet
from ._predict import Forecast

SUFFIXES = (".csv", ".parquet", ".pq")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path}: expected a .csv or .parquet file, got {suffix or 'no suffix'!r}")
    return suffix


def read_frame(path: str | Path) -> pd.DataFrame:
    """The frame in a ``.csv`` or ``.parquet`` file; a text ``ds`` column is parsed as dates."""
    path = Path(path)
    csv = _suffix(path) == ".csv"
    if not csv:
        require("pyarrow", "reading .parquet files")
    try:
        frame = pd.read_csv(path) if csv else pd.read_parquet(path)
    except (OSError, ValueError) as error:  # pandas' ParserError and pyarrow's ArrowInvalid are ValueErrors
        raise ValueError(f"{path}: cannot read it as {'csv' if csv else 'parquet'} ({error})") from None
    if "ds" in frame.columns and not (
        pd.api.types.is_numeric_dtype(frame["ds"]) or pd.api.types.is_datetime64_any_dtype(frame["ds"])
    ):
        try:
            frame["ds"] = pd.to_datetime(frame["ds"])
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: the ds column is neither numbers nor dates ({error})") from None
    return frame


def write_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as ``.csv`` or ``.parquet`` (by the suffix of ``path``), without the index."""
    path = Path(path)
    if _suffix(path) == ".csv":
        frame.to_csv(path, index=False)
    else:
        require("pyarrow", "writing .parquet files")
        frame.to_parquet(path, index=False)
    return path


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


def future_stamps(ds: np.ndarray, horizon: int, freq: str | None = None) -> np.ndarray:
    """The ``horizon`` time stamps after the last of ``ds`` ``[n]``: dates ``freq`` apart (a pandas
    frequency; None: the one pandas infers from ``ds``), or integers one step (the last difference) apart."""
    if freq is None and pd.api.types.is_numeric_dtype(ds.dtype):
        if ds.size < 2:
            raise ValueError("cannot date the forecasts of a series with one integer stamp")
        return ds[-1] + (ds[-1] - ds[-2]) * np.arange(1, horizon + 1)
    step: Any = freq
    if step is None and ds.size >= 3:
        step = pd.DatetimeIndex(ds, freq="infer").freq
    if step is None:
        raise ValueError("cannot infer the frequency of the ds stamps; set data.freq (e.g. MS, D, h)")
    return pd.date_range(pd.Timestamp(ds[-1]), periods=horizon + 1, freq=step)[1:].to_numpy()


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
