"""What ``model.kind = "auto"`` chooses with: the candidates' forecasts, their scale-free validation score,
the `Selection` a run keeps, and the plausibility catch on every forecast an auto run makes.

**Score**: the mean over series of each series' MASE (Hyndman & Koehler 2006): the forecast's mean absolute
error divided by the in-sample mean absolute error of the seasonal naive forecast on the history it was made
from (`insample_scale`). It is scale-free (series of any level weigh alike, as the M competitions weigh
them), defined for zero and negative data where sMAPE is not (sMAPE swings when values cross zero), and it
is 1 for a forecaster as good out of sample as seasonal naive in sample. sMAPE is reported beside it.

**Catch** (`catch_implausible`): a forecast row with a value beyond ``K_RANGE`` times its history's range
below its minimum or above its maximum (or not finite) is replaced by the seasonal naive forecast of that
series. Validation scores are those of the caught forecasts, so a candidate is scored as it would forecast.

**Baselines** (`baseline_forecast`): `forecast_baseline` one series at a time, with statsmodels' warnings
silenced; where a method fails or gives a value that is not finite (e.g. ETS on a very short series) that
series takes the naive forecast, and the count is returned.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ...metrics import smape
from ._baselines import forecast_baseline

K_RANGE = 10.0
TRIM = 1.5  # the combination takes the candidates within TRIM times the best validation MASE
COMBINATION_SIZE = 3  # and of those at most the COMBINATION_SIZE best
NEEDS_STATSMODELS = ("theta", "ets")
TIE_ORDER = ("naive", "seasonal_naive", "theta", "ets", "lstm", "combination")  # equal scores: the simpler first


def has_statsmodels() -> bool:
    """Whether statsmodels (the ``[forecast]`` extra, for theta and ets) can be imported."""
    return importlib.util.find_spec("statsmodels") is not None


def baseline_forecast(name: str, values: Sequence[np.ndarray], horizon: int, period: int) -> tuple[np.ndarray, int]:
    """``[N, horizon]`` forecasts of the baseline ``name`` and how many series fell back to the naive one."""
    rows, failed = [], 0
    for y in values:
        y = np.asarray(y, np.float64)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row = forecast_baseline(name, [y], horizon, period)[0]
        except ImportError:
            raise
        except Exception:  # noqa: BLE001 - statsmodels raises many kinds; the series takes the naive forecast
            row = None
        if row is None or not np.isfinite(row).all():
            row, failed = np.full(horizon, y[-1]), failed + 1
        rows.append(row)
    return np.stack(rows), failed


def plausible_range(values: Sequence[np.ndarray], k: float = K_RANGE) -> tuple[np.ndarray, np.ndarray]:
    """``lo``, ``hi`` ``[N]``: ``min - k r`` and ``max + k r`` of each history, ``r`` its range (or, for a
    constant history, ``max(|value|, 1)``)."""
    low = np.array([np.min(y) for y in values], np.float64)
    high = np.array([np.max(y) for y in values], np.float64)
    span = high - low
    span = np.where(span > 0, span, np.maximum(np.abs(high), 1.0))
    return low - k * span, high + k * span


def catch_implausible(
    forecast: np.ndarray, values: Sequence[np.ndarray], period: int, k: float = K_RANGE
) -> tuple[np.ndarray, np.ndarray]:
    """``forecast`` ``[N, H]`` with each row that leaves `plausible_range` (or is not finite) replaced by the
    seasonal naive forecast of its history, and the caught rows ``[N]`` bool.

    Example:
        >>> fixed, caught = catch_implausible(np.array([[5.0, 6.0], [1e6, 2.0]]), [np.arange(4.0)] * 2, 1)
        >>> fixed.tolist(), caught.tolist()
        ([[5.0, 6.0], [3.0, 3.0]], [False, True])
    """
    forecast = np.asarray(forecast, np.float64)
    lo, hi = plausible_range(values, k)
    with np.errstate(invalid="ignore"):
        inside = (forecast >= lo[:, None]) & (forecast <= hi[:, None])
    caught = ~inside.all(axis=1)
    if not caught.any():
        return forecast, caught
    fallback = forecast_baseline("seasonal_naive", [values[i] for i in np.flatnonzero(caught)], forecast.shape[1],
                                 period)  # fmt: skip
    fixed = forecast.copy()
    fixed[caught] = fallback
    return fixed, caught


def insample_scale(y: np.ndarray, period: int) -> float:
    """The in-sample mean absolute error of the seasonal naive forecast of ``y`` (lag ``period``; lag 1 when
    ``y`` is not longer than a period or that error is 0), else ``mean |y|``, else 1: MASE's denominator,
    never 0."""
    y = np.asarray(y, np.float64)
    for lag in (period, 1):
        if y.size > lag:
            scale = float(np.mean(np.abs(y[lag:] - y[:-lag])))
            if scale > 0:
                return scale
    scale = float(np.mean(np.abs(y)))
    return scale if scale > 0 else 1.0


def scores(actual: np.ndarray, forecast: np.ndarray, histories: Sequence[np.ndarray], period: int) -> dict[str, float]:
    """``mase``: the mean over series of ``mean_h |y - f| / insample_scale(history)``; ``smape`` (M3's)."""
    scale = np.array([insample_scale(h, period) for h in histories])
    mase = np.mean(np.abs(np.asarray(actual) - forecast), axis=1) / scale
    return {"mase": float(np.mean(mase)), "smape": smape(actual, forecast)}


def combination_weights(
    validation: dict[str, dict[str, float]], trim: float = TRIM, size: int | None = COMBINATION_SIZE
) -> dict[str, float]:
    """Weights (summing to 1, best first) of the ``size`` best candidates (all with None) among those whose
    validation MASE is within ``trim`` times the best one's, proportional to the inverse of their MASE; a best
    MASE of 0 gives the candidates at 0 equal weights. A candidate far ahead of the rest thus forecasts alone.

    Example:
        >>> scores = {"lstm": {"mase": 1.0}, "theta": {"mase": 1.25}, "ets": {"mase": 1.3}, "naive": {"mase": 2.0}}
        >>> {name: round(w, 4) for name, w in combination_weights(scores, size=2).items()}  # 1 / 1 and 1 / 1.25
        {'lstm': 0.5556, 'theta': 0.4444}
        >>> list(combination_weights(scores, size=None))  # naive is too far behind
        ['lstm', 'theta', 'ets']
    """
    best = min(row["mase"] for row in validation.values())
    if best > 0:
        members = {name: 1 / row["mase"] for name, row in validation.items() if row["mase"] <= trim * best}
    else:
        members = {name: 1.0 for name, row in validation.items() if row["mase"] <= 0}
    order = sorted(members, key=lambda name: (validation[name]["mase"], TIE_ORDER.index(name)))[:size]
    total = sum(members[name] for name in order)
    return {name: members[name] / total for name in order}


def combine(forecasts: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """``sum_c weights[c] forecasts[c]`` (a single candidate of weight 1: its forecast itself)."""
    if len(weights) == 1:
        return forecasts[next(iter(weights))]
    return sum(weight * forecasts[name] for name, weight in weights.items())


@dataclass
class Selection:
    """The choice of an auto run: ``winner`` (``lstm``, a baseline name, or ``combination``: the forecasts of
    the candidates in ``weights`` weighted by those, `combination_weights`), each candidate's ``validation``
    scores (``{name: {"mase", "smape", "caught"}}``: the mean MASE and sMAPE over series of its forecasts
    of the last ``horizon`` values of the training history, and how many of those forecasts the
    plausibility catch replaced), the ``metric`` chosen by, ``notes`` (candidates skipped, fallbacks), and the
    LSTM's validation fit (``validation_fingerprint``, ``validation_windows``: the data it saw and its
    number of training windows; the final LSTM is refit on the whole history) and the ``seconds`` each
    candidate took to fit and forecast the validation window."""

    winner: str
    validation: dict[str, dict[str, float]]
    metric: str = "mase"
    notes: list[str] = field(default_factory=list)
    validation_fingerprint: str | None = None
    validation_windows: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)

    @classmethod
    def choose(cls, validation: dict[str, dict[str, float]], **kwargs: Any) -> Selection:
        """The candidate with the lowest ``mase`` (ties: the simpler one, `TIE_ORDER`), alone."""
        ranked = sorted(validation, key=lambda name: (validation[name]["mase"], TIE_ORDER.index(name)))
        return cls(ranked[0], validation, weights={ranked[0]: 1.0}, **kwargs)

    def describe(self) -> str:
        """What forecasts: the winner's name, or ``a combination of lstm 0.40, theta 0.35, ets 0.25``."""
        if self.winner != "combination":
            return self.winner
        return "a combination of " + ", ".join(f"{name} {weight:.2f}" for name, weight in self.weights.items())

    def ranked(self) -> list[str]:
        """The candidates from best to worst on validation."""
        return sorted(self.validation, key=lambda name: (self.validation[name][self.metric], TIE_ORDER.index(name)))

    def summary(self) -> str:
        """One line: what forecasts and by how much it differs on validation from the runner-up (and from the
        LSTM when the LSTM is not in it), e.g. ``theta won on validation: MASE 0.8123 against 0.8533 for the
        runner-up ets (4.8% lower) and 0.9012 for the LSTM (9.9% lower)``; for a combination its validation
        MASE (in-sample for its weights) against the best single candidate's."""
        best = self.validation[self.winner][self.metric]
        singles = [name for name in self.ranked() if name not in (self.winner, "combination")]
        if self.winner == "combination":
            line = f"{self.describe()} (weights: inverse validation MASE): validation MASE {best:.4f}"
            others = singles[:1] + (["lstm"] if "lstm" not in self.weights and singles[:1] != ["lstm"] else [])
        else:
            line = f"{self.winner} won on validation: MASE {best:.4f}"
            others = singles[:1] + (["lstm"] if self.winner != "lstm" and singles[:1] != ["lstm"] else [])
        parts = []
        for name in others:
            other = self.validation[name][self.metric]
            if name == singles[0]:
                label = "the best single forecaster" if self.winner == "combination" else "the runner-up"
                label = f"{label} {name}"
            else:
                label = "the LSTM"
            change = "lower" if best <= other else "higher"
            share = f" ({100 * abs(other - best) / other:.1f}% {change})" if other > 0 else ""
            parts.append(f"{other:.4f} for {label}{share}")
        return line + (" against " + " and ".join(parts) if parts else "")

    def table(self, holdout: dict[str, dict[str, float]] | None = None) -> list[str]:
        """A markdown table of the candidates, best first: validation MASE, sMAPE, caught forecasts and,
        given ``holdout`` scores per candidate, those too."""
        head = "| forecaster | validation MASE | validation sMAPE | caught |"
        rule = "|---|---:|---:|---:|"
        if holdout is not None:
            head, rule = head + " holdout MASE | holdout sMAPE |", rule + "---:|---:|"
        lines = [head, rule]
        for name in self.ranked():
            row = self.validation[name]
            label = f"**{name}** (chosen)" if name == self.winner else name
            cells = f"| {label} | {row['mase']:.4f} | {row['smape']:.4f} | {int(row['caught'])} |"
            if holdout is not None:
                cells += f" {holdout[name]['mase']:.4f} | {holdout[name]['smape']:.4f} |" if name in holdout else " | |"
            lines.append(cells)
        return lines

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Selection:
        return cls(**data)
