"""Series data for global forecasting models: a long frame or arrays -> `SeriesSet`; scalers; windows.

A `SeriesSet` holds ``N`` univariate series of their own lengths (``values[i]`` ``[n_i]`` float64), their
ids and, from a frame, their time stamps. Missing values are explicit: ``missing="error"`` refuses NaN (and
gaps in a frame's ``ds`` grid are NaN), ``"ffill"`` carries the last value forward (then the first back),
``"interpolate"`` fills linearly between neighbours (the ends take the nearest value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

Missing = Literal["error", "ffill", "interpolate"]
ScalerName = Literal["standard", "robust", "meanabs", "none"]


@dataclass
class SeriesSet:
    """``N`` series: ``ids`` ``[N]`` str, ``values`` ``N`` arrays ``[n_i]`` float64, ``ds`` ``N`` arrays of
    time stamps (or None when built from arrays)."""

    ids: list[str]
    values: list[np.ndarray]
    ds: list[np.ndarray] | None = None

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
    def from_frame(cls, frame: Any, *, freq: str | None = None, missing: Missing = "error") -> SeriesSet:
        """A set from a long pandas DataFrame with columns ``unique_id``, ``ds``, ``y`` (other columns are
        ignored). Each series is sorted by ``ds``; with ``freq`` (a pandas frequency, e.g. ``"MS"``) it is put
        on the regular grid from its first to its last stamp, and the stamps not in the frame become missing."""
        import pandas as pd

        absent = [c for c in ("unique_id", "ds", "y") if c not in frame.columns]
        if absent:
            raise ValueError(f"the frame lacks the columns {absent} (expected unique_id, ds, y)")
        ids, values, stamps = [], [], []
        for uid, group in frame.groupby("unique_id", sort=True):
            group = group.sort_values("ds")
            if group["ds"].duplicated().any():
                raise ValueError(f"series {uid!r} has repeated ds values")
            y = pd.Series(group["y"].to_numpy(np.float64), index=group["ds"].to_numpy())
            if freq is not None:
                y = y.reindex(pd.date_range(y.index[0], y.index[-1], freq=freq))
            ids.append(str(uid))
            values.append(fill_missing(y.to_numpy(np.float64), missing, name=str(uid)))
            stamps.append(y.index.to_numpy())
        return cls(ids, values, stamps)

    def split_last(self, horizon: int) -> tuple[SeriesSet, list[np.ndarray]]:
        """The set without each series' last ``horizon`` values, and those values (the holdout)."""
        short = [i for i, v in zip(self.ids, self.values) if v.size <= horizon]
        if short:
            raise ValueError(f"series {short[:5]} are not longer than the horizon {horizon}")
        ds = None if self.ds is None else [d[:-horizon] for d in self.ds]
        return SeriesSet(self.ids, [v[:-horizon] for v in self.values], ds), [v[-horizon:] for v in self.values]


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
        elif method == "none":
            loc, scale = np.zeros(len(values)), np.ones(len(values))
        else:
            raise ValueError(f"unknown scaler {method!r}; expected standard, robust, meanabs or none")
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
    zero after ``lengths``), ``lengths`` ``[W]``, ``targets`` ``[W, H]`` (the next ``H`` values) and
    ``series`` ``[W]`` (the index of the series each window comes from)."""

    inputs: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray
    series: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)


def left_aligned(history: np.ndarray, input_size: int) -> tuple[np.ndarray, int]:
    """The last ``input_size`` values of ``history`` left-aligned in a zero row ``[input_size]``, and their count."""
    tail = history[-input_size:]
    row = np.zeros(input_size)
    row[: tail.size] = tail
    return row, tail.size


def make_windows(
    values: Sequence[np.ndarray], input_size: int, horizon: int, *, stride: int = 1, min_input: int = 1
) -> Windows:
    """Every window of each series whose ``horizon`` targets are observed, at forecast origins ``t`` (the
    first target index) from ``n - horizon`` backwards every ``stride`` steps while ``t >= min_input``; the
    input is ``y[max(0, t - input_size):t]`` (shorter near the start: see `Windows`)."""
    if input_size < 1 or horizon < 1 or stride < 1 or min_input < 1:
        raise ValueError("input_size, horizon, stride and min_input must be >= 1")
    inputs, lengths, targets, series = [], [], [], []
    for index, y in enumerate(values):
        for t in range(y.size - horizon, min_input - 1, -stride):
            row, count = left_aligned(y[:t], input_size)
            inputs.append(row)
            lengths.append(count)
            targets.append(y[t : t + horizon])
            series.append(index)
    if not inputs:
        raise ValueError(f"no series is long enough for a window (min_input={min_input}, horizon={horizon})")
    return Windows(np.stack(inputs), np.asarray(lengths), np.stack(targets), np.asarray(series))


def last_inputs(values: Sequence[np.ndarray], input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The inputs ``[N, L]`` and lengths ``[N]`` to forecast after the end of each series."""
    rows = [left_aligned(y, input_size) for y in values]
    return np.stack([r for r, _ in rows]), np.asarray([c for _, c in rows])
