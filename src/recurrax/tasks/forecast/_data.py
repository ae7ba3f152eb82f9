"""Series data for global forecasting models: a long frame or arrays -> `SeriesSet`; scalers; windows.

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

Missing = Literal["error", "ffill", "interpolate"]
ScalerName = Literal["standard", "robust", "meanabs", "last", "none"]


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
        import pandas as pd

        from ._covariates import calendar_features, covariate_names, numeric_columns, static_values

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


@dataclass
class Scaler:
    """Per-series affine scaling ``z = (y - loc) / scale`` with ``loc``, ``scale`` ``[N]`` fitted on history.

    - ``standard``: mean and standard deviation; ``robust``: median and interquartile range;
    - ``meanabs``: ``loc = 0``, ``scale = mean |y|`` (as DeepAR's mean scaling, Salinas et al. 2020);
    - ``last``: ``loc = 0``, ``scale = |y_n|``, the last value (the level that ES-RNN divides by, Smyl 2020:
      forecasts become ratios to the last value, and 1 is the naive forecast);
    - ``none``: ``loc = 0``, ``scale = 1``. A zero scale is replaced by 1.
    """

    loc: np.ndarray
    scale: np.ndarray
    method: str = "standard"

    @classmethod
    def fit(cls, values: Sequence[np.ndarray], method: ScalerName = "standard") -> Scaler:
        if method == "standard":
            loc = np.array([v.mean() for v in values])
            scale = np.array([v.std() for v in values])
        elif method == "robust":
            loc = np.array([np.median(v) for v in values])
            scale = np.array([np.subtract(*np.percentile(v, [75, 25])) for v in values])
        elif method == "meanabs":
            loc = np.zeros(len(values))
            scale = np.array([np.abs(v).mean() for v in values])
        elif method == "last":
            loc = np.zeros(len(values))
            scale = np.array([abs(v[-1]) for v in values])
        elif method == "none":
            loc, scale = np.zeros(len(values)), np.ones(len(values))
        else:
            raise ValueError(f"unknown scaler {method!r}; expected standard, robust, meanabs, last or none")
        return cls(loc, np.where(scale > 0, scale, 1.0), method)

    def transform(self, values: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [(v - m) / s for v, m, s in zip(values, self.loc, self.scale)]

    def inverse(self, scaled: np.ndarray, index: np.ndarray | None = None) -> np.ndarray:
        """Scaled values ``[N, ...]`` (rows ``index`` of the fitted series when given) back to data units."""
        loc, scale = (self.loc, self.scale) if index is None else (self.loc[index], self.scale[index])
        shape = (-1,) + (1,) * (np.ndim(scaled) - 1)
        return np.asarray(scaled) * scale.reshape(shape) + loc.reshape(shape)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "loc": self.loc.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scaler:
        return cls(np.asarray(data["loc"], np.float64), np.asarray(data["scale"], np.float64), data["method"])


@dataclass
class Windows:
    """Training windows: ``inputs`` ``[W, L]`` (the last ``lengths[w] <= L`` history values, left-aligned,
    zero after ``lengths``), ``lengths`` ``[W]``, ``targets`` ``[W, H]`` (the next ``H`` values),
    ``series`` ``[W]`` (the index of the series each window comes from) and, with covariates, ``past``
    ``[W, L, K]`` (those of the input steps, aligned as ``inputs``) and ``future`` ``[W, H, K]`` (those of
    the target steps)."""

    inputs: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray
    series: np.ndarray
    past: np.ndarray | None = None
    future: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lengths)


def left_aligned(history: np.ndarray, input_size: int) -> tuple[np.ndarray, int]:
    """The last ``input_size`` values of ``history`` ``[n, ...]`` left-aligned in a zero row ``[input_size, ...]``,
    and their count."""
    tail = history[-input_size:]
    row = np.zeros((input_size, *history.shape[1:]))
    row[: len(tail)] = tail
    return row, len(tail)


def make_windows(
    values: Sequence[np.ndarray],
    input_size: int,
    horizon: int,
    *,
    stride: int = 1,
    min_input: int = 1,
    max_windows: int | None = None,
    covariates: Sequence[np.ndarray] | None = None,
) -> Windows:
    """Every window of each series whose ``horizon`` targets are observed, at forecast origins ``t`` (the
    first target index) from ``n - horizon`` backwards every ``stride`` steps while ``t >= min_input``, at
    most ``max_windows`` of them per series (the latest); the input is ``y[max(0, t - input_size):t]``
    (shorter near the start: see `Windows`). ``covariates`` (``[n_i, K]`` per series) give the windows'
    ``past`` and ``future``. The windows of a series are consecutive, latest first."""
    if input_size < 1 or horizon < 1 or stride < 1 or min_input < 1 or (max_windows is not None and max_windows < 1):
        raise ValueError("input_size, horizon, stride, min_input and max_windows must be >= 1")
    if covariates is not None:
        check_covariates(values, covariates)
    inputs, lengths, targets, series, past, future = [], [], [], [], [], []
    for index, y in enumerate(values):
        for t in list(range(y.size - horizon, min_input - 1, -stride))[:max_windows]:
            row, count = left_aligned(y[:t], input_size)
            inputs.append(row)
            lengths.append(count)
            targets.append(y[t : t + horizon])
            series.append(index)
            if covariates is not None:
                past.append(left_aligned(covariates[index][:t], input_size)[0])
                future.append(covariates[index][t : t + horizon])
    if not inputs:
        raise ValueError(f"no series is long enough for a window (min_input={min_input}, horizon={horizon})")
    extra = {} if covariates is None else {"past": np.stack(past), "future": np.stack(future)}
    return Windows(np.stack(inputs), np.asarray(lengths), np.stack(targets), np.asarray(series), **extra)


def check_covariates(values: Sequence[np.ndarray], covariates: Sequence[np.ndarray]) -> None:
    """A clear error unless ``covariates`` are ``N`` finite arrays ``[n_i, K]`` (one ``K``) for ``values``."""
    if len(covariates) != len(values):
        raise ValueError(f"got covariates for {len(covariates)} series and {len(values)} series")
    widths = {np.shape(c)[-1] if np.ndim(c) == 2 else -1 for c in covariates}
    for i, (y, c) in enumerate(zip(values, covariates)):
        if np.ndim(c) != 2 or len(c) != len(y) or len(widths) != 1:
            raise ValueError(f"series {i}: covariates must be [n_i, K] with one K for all, got shape {np.shape(c)} "
                             f"for {len(y)} values")  # fmt: skip
        if not np.isfinite(c).all():
            raise ValueError(f"series {i}: covariates hold NaN or inf")


def last_inputs(values: Sequence[np.ndarray], input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The inputs ``[N, L]`` and lengths ``[N]`` to forecast after the end of each series."""
    rows = [left_aligned(y, input_size) for y in values]
    return np.stack([r for r, _ in rows]), np.asarray([c for _, c in rows])
