"""Series data for global forecasting models: a long frame or arrays -> `SeriesSet` (scalers and windows:
`recurrax.data`).

A `SeriesSet` holds ``N`` univariate series of their own lengths (``values[i]`` ``[n_i]`` float64), their
ids and, from a frame, their time stamps. Missing values are explicit: ``missing="error"`` refuses NaN (and
gaps in a frame's ``ds`` grid are NaN), ``"ffill"`` carries the last value forward (then the first back),
``"interpolate"`` fills linearly between neighbours (the ends take the nearest value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._covariates import calendar_features, covariate_names, numeric_columns, static_values

Missing = Literal["error", "ffill", "interpolate"]


@dataclass
class SeriesSet:
    """``N`` series: ``ids`` ``[N]`` str, ``values`` ``N`` arrays ``[n_i]`` float64, ``ds`` ``N`` arrays of
    time stamps (or None when built from arrays), ``covariates`` ``N`` arrays ``[n_i, K]`` aligned with the
    values (or None; see `recurrax.tasks.forecast._covariates`)."""

    ids: list[str]
    values: list[np.ndarray]
    ds: list[np.ndarray] | None = None
    covariates: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def from_arrays(
        cls, values: Sequence[Any], ids: Sequence[str] | None = None, *, missing: Missing = "error"
    ) -> SeriesSet:
        """A set from 1-D array-likes (one per series); ``ids`` default to ``"0", "1", ...``."""
        arrays = [fill_missing(np.asarray(v, np.float64), missing, name=str(i)) for i, v in enumerate(values)]
        for i, a in enumerate(arrays):
            if a.ndim != 1 or a.size == 0:
                raise ValueError(f"series {i} must be a non-empty 1-D array, got shape {a.shape}")
        names = [str(i) for i in range(len(arrays))] if ids is None else [str(i) for i in ids]
        if len(names) != len(arrays):
            raise ValueError(f"got {len(names)} ids for {len(arrays)} series")
        return cls(names, arrays)

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        *,
        freq: str | None = None,
        missing: Missing = "error",
        calendar: Sequence[str] = (),
        exogenous: Sequence[str] = (),
        static: Sequence[str] = (),
    ) -> SeriesSet:
        """A set from a long pandas DataFrame with columns ``unique_id``, ``ds``, ``y`` (other columns are
        ignored unless named). Each series is sorted by ``ds``; with ``freq`` (a pandas frequency, e.g.
        ``"MS"``) it is put on the regular grid from its first to its last stamp, and the stamps not in the
        frame become missing (``y`` and exogenous columns, filled as ``missing`` says).

        ``calendar``, ``exogenous``, ``static``: the covariates (`recurrax.tasks.forecast._covariates`),
        stored as ``covariates`` ``[n_i, K]`` per series (None when none is asked).

        Refused with a ValueError: a frame without rows (``no rows``), and an infinite value or one beyond
        the float32 range (``|x| > 3.4e38``, which training cannot represent) in ``y`` or a covariate column,
        naming the series, the column and the ``ds``. NaN is missing (see ``missing``)."""
        absent = [c for c in ("unique_id", "ds", "y") if c not in frame.columns]
        if absent:
            raise ValueError(f"the frame lacks the columns {absent} (expected unique_id, ds, y)")
        if len(frame) == 0:
            raise ValueError("no rows")
        wanted = bool(covariate_names(calendar, exogenous, static))
        numeric_columns(frame, exogenous, "exogenous")
        numeric_columns(frame, static, "static")
        _check_range(frame, ["y", *exogenous, *static])
        ids, values, stamps, covariates = [], [], [], []
        for uid, group in frame.groupby("unique_id", sort=True):
            group = group.sort_values("ds")
            if group["ds"].duplicated().any():
                raise ValueError(f"series {uid!r} has repeated ds values")
            table = group.set_index("ds")[["y", *exogenous]].astype(np.float64)
            if freq is not None:
                table = table.reindex(pd.date_range(table.index[0], table.index[-1], freq=freq))
            ids.append(str(uid))
            values.append(fill_missing(table["y"].to_numpy(np.float64), missing, name=str(uid)))
            stamps.append(table.index.to_numpy())
            if wanted:
                exog = [fill_missing(table[c].to_numpy(np.float64), missing, name=f"{uid}, column {c}")
                        for c in exogenous]  # fmt: skip
                fixed = np.broadcast_to(static_values(group, static, uid), (len(table), len(static)))
                parts = [calendar_features(table.index, calendar), np.stack(exog, -1) if exog else fixed[:, :0], fixed]
                covariates.append(np.concatenate(parts, axis=-1))
        return cls(ids, values, stamps, covariates if wanted else None)

    def split_last(self, horizon: int) -> tuple[SeriesSet, list[np.ndarray]]:
        """The set without each series' last ``horizon`` values, and those values (the holdout)."""
        short = [i for i, v in zip(self.ids, self.values) if v.size <= horizon]
        if short:
            raise ValueError(f"series {short[:5]} are not longer than the horizon {horizon}")
        ds = None if self.ds is None else [d[:-horizon] for d in self.ds]
        covariates = None if self.covariates is None else [c[:-horizon] for c in self.covariates]
        history = SeriesSet(self.ids, [v[:-horizon] for v in self.values], ds, covariates)
        return history, [v[-horizon:] for v in self.values]

    def last_covariates(self, horizon: int) -> np.ndarray | None:
        """``[N, horizon, K]``: the covariates of each series' last ``horizon`` steps (the future covariates
        of the history that `split_last` leaves), or None without covariates."""
        return None if self.covariates is None else np.stack([c[-horizon:] for c in self.covariates])


def _check_range(frame: Any, columns: Sequence[str]) -> None:
    """Refuse an infinite value, or one beyond float32 (what the model computes in), in the numeric
    ``columns`` of a long ``frame``, naming the series, the column, the ``ds`` and the value."""
    limit = float(np.finfo(np.float32).max)
    for column in columns:
        if frame[column].dtype.kind not in "iuf":
            continue  # text: refused where it is converted
        values = frame[column].to_numpy(np.float64)
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(np.isinf(values) | (np.abs(values) > limit))
        if bad.size:
            row = bad[0]
            raise ValueError(
                f"series {frame['unique_id'].iloc[row]!r}, column {column!r}: {values[row]:g} at ds "
                f"{frame['ds'].iloc[row]} is infinite or beyond the float32 range (|x| <= {limit:.3g}); "
                f"{bad.size} such value(s) in the column"
            )


def fill_missing(y: np.ndarray, missing: Missing, *, name: str = "") -> np.ndarray:
    """``y`` with NaN handled as ``missing`` says (see the module docstring)."""
    nan = np.isnan(y)
    if not nan.any():
        return y
    if missing == "error":
        count = int(nan.sum())
        raise ValueError(f"series {name!r} has {count} missing values; set missing to 'ffill' or 'interpolate'")
    if nan.all():
        raise ValueError(f"series {name!r} has no observed value")
    index = np.arange(y.size)
    if missing == "interpolate":
        return np.interp(index, index[~nan], y[~nan])
    if missing == "ffill":
        last = np.maximum.accumulate(np.where(nan, 0, index))
        filled = y[last]
        first = int(np.argmax(~nan))
        filled[:first] = y[first]
        return filled
    raise ValueError(f"missing must be 'error', 'ffill' or 'interpolate', got {missing!r}")
