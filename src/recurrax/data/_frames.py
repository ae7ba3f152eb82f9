"""Long frames on disk: ``.csv`` or ``.parquet`` files, read and written by pandas (parquet through pyarrow).

The layout is the long one of Nixtla's libraries: one row per observation, columns ``unique_id``, ``ds``
(dates, or integers for an index) and ``y`` (and any others). `future_stamps` dates the steps after a series.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._extras import require

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
