"""Covariates of a long frame: calendar features from ``ds``, known-future exogenous columns, static columns.

Every series carries a covariate matrix ``[n_i, K]`` aligned with its values (`SeriesSet.covariates`), its
``K`` channels in the order of `covariate_names`:

- calendar features (``DataConfig.calendar``): for each name, ``sin(2 pi u / m)`` and ``cos(2 pi u / m)`` of
  the stamp's position ``u`` in a cycle of ``m`` (`CALENDAR`): ``month`` (u = month - 1, m = 12), ``quarter``
  (4), ``dayofweek`` (Monday 0, 7), ``dayofyear`` (365.25), ``hour`` (24), ``minute`` (60). Pick the ones
  of the data's frequency, e.g. ``("month",)`` for monthly, ``("dayofweek", "dayofyear")`` for daily,
  ``("hour", "dayofweek")`` for hourly data;
- exogenous columns (``DataConfig.exogenous``): numeric columns known in advance (prices, holidays,
  forecasts of the weather), needed for the forecast steps as well (`future_covariates`);
- static columns (``DataConfig.static``): one value per series (constant in the frame), repeated at every step.

Exogenous and static columns are used as given: scale them to a few units (the values ``y`` are scaled).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...data import future_stamps

CALENDAR: dict[str, tuple[str, float]] = {
    "month": ("month", 12.0),
    "quarter": ("quarter", 4.0),
    "dayofweek": ("day_of_week", 7.0),
    "dayofyear": ("day_of_year", 365.25),
    "hour": ("hour", 24.0),
    "minute": ("minute", 60.0),
}
ZERO_BASED = ("dayofweek", "hour", "minute")  # the others count from 1


def covariate_names(calendar: Sequence[str], exogenous: Sequence[str], static: Sequence[str]) -> list[str]:
    """The ``K`` channel names: ``<name>_sin``, ``<name>_cos`` per calendar feature, then the columns."""
    unknown = [name for name in calendar if name not in CALENDAR]
    if unknown:
        raise ValueError(f"unknown calendar features {unknown}; expected some of {', '.join(CALENDAR)}")
    return [f"{name}_{f}" for name in calendar for f in ("sin", "cos")] + list(exogenous) + list(static)


def calendar_features(ds: Any, calendar: Sequence[str]) -> np.ndarray:
    """``[n, 2 * len(calendar)]``: sine and cosine of each feature's cycle position at the stamps ``ds``."""
    covariate_names(calendar, (), ())
    if not calendar:
        return np.zeros((len(ds), 0))
    if pd.api.types.is_numeric_dtype(np.asarray(ds).dtype):
        raise ValueError("calendar features need date stamps in ds, got numbers")
    index = pd.DatetimeIndex(ds)
    columns = []
    for name in calendar:
        attribute, cycle = CALENDAR[name]
        position = np.asarray(getattr(index, attribute), np.float64) - (0 if name in ZERO_BASED else 1)
        angle = 2 * np.pi * position / cycle
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=-1)


def numeric_columns(frame: pd.DataFrame, columns: Sequence[str], kind: str) -> np.ndarray:
    """``[n, len(columns)]`` float64 of ``frame``'s ``columns``; a clear error when one is absent or not numeric."""
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"the frame lacks the {kind} columns {absent}")
    for column in columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise ValueError(f"the {kind} column {column!r} is not numeric ({frame[column].dtype})")
    return frame[list(columns)].to_numpy(np.float64).reshape(len(frame), len(columns))


def static_values(group: pd.DataFrame, static: Sequence[str], uid: Any) -> np.ndarray:
    """``[S]``: the static columns of one series, which must hold one value each."""
    values = numeric_columns(group, static, "static")
    varying = [c for c, col in zip(static, values.T) if np.unique(col).size > 1]
    if varying:
        raise ValueError(f"series {uid!r}: the static columns {varying} change over time")
    return values[0] if len(values) else np.zeros(len(static))


def future_covariates(
    series: Any,
    horizon: int,
    *,
    calendar: Sequence[str] = (),
    exogenous: Sequence[str] = (),
    static: Sequence[str] = (),
    future: pd.DataFrame | None = None,
    freq: str | None = None,
) -> np.ndarray | None:
    """``[N, H, K]``: the covariates of the ``H`` steps after the end of each of ``series`` (a `SeriesSet`
    with ``ds`` and ``covariates``), or None when there are none (``K = 0``).

    Calendar features come from `future_stamps`; static ones repeat each series' own; exogenous columns come
    from the long frame ``future`` (``unique_id``, ``ds``, the columns), which must hold every series at
    every forecast stamp (extra rows are ignored)."""
    names = covariate_names(calendar, exogenous, static)
    if not names:
        return None
    if series.covariates is None or series.ds is None:
        raise ValueError("the series carry no covariates; read them with the data config's covariate columns")
    if exogenous and future is None:
        raise ValueError(f"the model uses the known-future columns {list(exogenous)}: give their values for the "
                         f"{horizon} forecast steps of every series (a future frame: unique_id, ds, columns)")  # fmt: skip
    rows = []
    lookup = None
    if future is not None:
        absent = [c for c in ("unique_id", "ds") if c not in future.columns]
        if absent:
            raise ValueError(f"the future frame lacks the columns {absent}")
        lookup = future.assign(unique_id=future["unique_id"].astype(str)).set_index(["unique_id", "ds"]).sort_index()
    for uid, ds, own in zip(series.ids, series.ds, series.covariates):
        stamps = future_stamps(ds, horizon, freq)
        parts = [calendar_features(stamps, calendar)]
        if exogenous:
            parts.append(_future_rows(lookup, uid, stamps, exogenous))
        parts.append(np.repeat(own[-1:, own.shape[1] - len(static) :], horizon, axis=0))
        rows.append(np.concatenate(parts, axis=-1))
    return np.stack(rows)


def _future_rows(lookup: pd.DataFrame, uid: str, stamps: np.ndarray, exogenous: Sequence[str]) -> np.ndarray:
    keys = pd.MultiIndex.from_arrays([[uid] * len(stamps), stamps])
    present = keys.isin(lookup.index)
    if not present.all():
        missing = [str(pd.Timestamp(s).date()) if not np.issubdtype(np.asarray(stamps).dtype, np.number) else str(s)
                   for s in np.asarray(stamps)[~present]]  # fmt: skip
        raise ValueError(f"future covariates: series {uid!r} lacks rows for {missing} (the forecast steps)")
    values = numeric_columns(lookup.loc[keys].reset_index(), exogenous, "exogenous")
    if np.isnan(values).any():
        raise ValueError(f"future covariates: series {uid!r} has missing values in {list(exogenous)}")
    return values
