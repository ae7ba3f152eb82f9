"""Drift monitoring of a served model: input drift (PSI, KS test) and prediction-error drift.

Population stability index over ``b`` bins with reference fractions ``r_i`` and current fractions ``c_i``
(Siddiqi 2006, *Credit Risk Scorecards*; Yurdakul 2018)::

    PSI = sum_i (c_i - r_i) * ln(c_i / r_i)

The bins are quantile bins of the reference (``b - 1`` interior edges at the ``k / b`` quantiles, so each
holds about ``1 / b`` of the reference; repeated edges of discrete data are merged), and an empty bin's
fraction is replaced by ``eps`` so that the logarithm stays finite. Usual reading: PSI < 0.1 no significant
shift, 0.1 to 0.25 a moderate shift worth a look, > 0.25 a significant shift (the default alert threshold).
The two-sample Kolmogorov-Smirnov test (`scipy.stats.ks_2samp`) adds a distribution-free test per feature.

Inputs of any rank are read as rows of features: ``[..., D]`` becomes ``[N, D]`` (a ``[B, T, D]`` batch of
windows gives ``B * T`` rows); a 1-d array is one feature. Monitors keep the last ``window`` rows, log a
warning (logger ``recurrax.serve._drift``) once when an alert starts, and report plain JSON-ready dicts that
the service exposes on ``/metrics``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> profile = ReferenceProfile.from_values(rng.normal(size=(5000, 2)))
    >>> monitor = DriftMonitor(profile, window=1000)
    >>> monitor.observe(rng.normal(loc=[0.0, 1.0], size=(1000, 2)))
    >>> [feature["alert"] for feature in monitor.report()["features"]]
    [False, True]
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

logger = logging.getLogger(__name__)

PROFILE_FORMAT = 1


class KSResult(NamedTuple):
    """The two-sample Kolmogorov-Smirnov statistic (largest gap between the empirical CDFs) and p-value."""

    statistic: float
    pvalue: float


def _vector(values: ArrayLike, name: str, allow_empty: bool = False) -> np.ndarray:
    array = np.asarray(values, np.float64).reshape(-1)
    if array.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def _rows(values: ArrayLike, name: str, features: int | None = None, allow_empty: bool = False) -> np.ndarray:
    """``[..., D]`` (or ``[N]`` for one feature) as finite float64 ``[N, D]``."""
    array = np.asarray(values, np.float64)
    array = array.reshape(-1, 1) if array.ndim <= 1 else array.reshape(-1, array.shape[-1])
    if array.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty")
    if features is not None and array.shape[1] != features:
        raise ValueError(f"{name} has {array.shape[1]} features, the reference has {features}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def _quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    return np.unique(np.quantile(reference, np.arange(1, bins) / bins))


def _fractions(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Fractions of ``values`` in the bins ``(-inf, e_1], (e_1, e_2], ..., (e_last, inf)``."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    return counts / values.size


def _psi(reference_fractions: np.ndarray, current_fractions: np.ndarray, eps: float) -> float:
    r, c = np.maximum(reference_fractions, eps), np.maximum(current_fractions, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def psi(reference: ArrayLike, current: ArrayLike, bins: int = 10, *, eps: float = 1e-4) -> float:
    """Population stability index of ``current`` against ``reference`` (1-d samples, any lengths).

    Bins are the quantile bins of ``reference``; empty bins count as fraction ``eps``. 0 means the same
    binned distribution; > 0.25 is usually read as a significant shift.

        >>> round(psi([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 9], bins=2), 6)  # 0.25 ln 1.5 + 0.25 ln 2
        0.274653
    """
    ref, cur = _vector(reference, "reference"), _vector(current, "current")
    edges = _quantile_edges(ref, bins)
    return _psi(_fractions(ref, edges), _fractions(cur, edges), eps)


def ks_test(reference: ArrayLike, current: ArrayLike) -> KSResult:
    """Two-sample Kolmogorov-Smirnov test (two-sided, `scipy.stats.ks_2samp`) of two 1-d samples."""
    result = stats.ks_2samp(_vector(reference, "reference"), _vector(current, "current"))
    return KSResult(float(result.statistic), float(result.pvalue))


@dataclasses.dataclass(frozen=True)
class ReferenceProfile:
    """What a monitor compares against: per feature the quantile bin edges and reference bin fractions for
    PSI, and a bounded random sample ``[S, D]`` of the reference rows for the KS test.

    Saved as plain JSON with `to_dict` / `from_dict`, so an exported artifact can carry it.
    """

    edges: tuple[np.ndarray, ...]
    fractions: tuple[np.ndarray, ...]
    sample: np.ndarray
    names: tuple[str, ...]
    count: int

    @property
    def features(self) -> int:
        """Number of features ``D``."""
        return len(self.names)

    @classmethod
    def from_values(
        cls,
        values: ArrayLike,
        *,
        bins: int = 10,
        sample_size: int = 2000,
        names: list[str] | None = None,
        seed: int = 0,
    ) -> ReferenceProfile:
        """The profile of training-time inputs ``values`` ``[N, D]`` (or ``[..., D]``, or ``[N]``).

        ``sample_size`` rows, drawn without replacement with ``seed`` (all rows when fewer), are kept for KS.
        """
        rows = _rows(values, "values")
        count, features = rows.shape
        names = [f"x{i}" for i in range(features)] if names is None else list(names)
        if len(names) != features:
            raise ValueError(f"got {len(names)} feature names for {features} features")
        edges = tuple(_quantile_edges(rows[:, j], bins) for j in range(features))
        fractions = tuple(_fractions(rows[:, j], e) for j, e in enumerate(edges))
        if count > sample_size:
            rows = rows[np.sort(np.random.default_rng(seed).choice(count, sample_size, replace=False))]
        return cls(edges, fractions, rows, tuple(names), count)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (lists of floats)."""
        return {
            "format": PROFILE_FORMAT,
            "names": list(self.names),
            "count": self.count,
            "edges": [e.tolist() for e in self.edges],
            "fractions": [f.tolist() for f in self.fractions],
            "sample": self.sample.T.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceProfile:
        """The profile saved by `to_dict`; a wrong format or inconsistent lengths is a ValueError."""
        if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
            raise ValueError(f"not a reference profile of format {PROFILE_FORMAT}")
        try:
            names = tuple(str(n) for n in data["names"])
            edges = tuple(np.asarray(e, np.float64).reshape(-1) for e in data["edges"])
            fractions = tuple(np.asarray(f, np.float64).reshape(-1) for f in data["fractions"])
            sample = np.asarray(data["sample"], np.float64).reshape(len(names), -1).T
            count = int(data["count"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"malformed reference profile: {error}") from None
        if not len(names) == len(edges) == len(fractions) or sample.shape[0] == 0:
            raise ValueError("malformed reference profile: names, edges, fractions and sample disagree")
        if any(f.size != e.size + 1 for e, f in zip(edges, fractions, strict=True)):
            raise ValueError("malformed reference profile: each feature needs one more fraction than edges")
        return cls(edges, fractions, sample, names, count)


class _Window:
    """The last ``size`` rows ``[n, D]`` seen, in a ring buffer (order is irrelevant to PSI and KS)."""

    def __init__(self, size: int, features: int):
        if size < 1:
            raise ValueError(f"window must be at least 1, got {size}")
        self.buffer = np.zeros((size, features))
        self.next = 0
        self.count = 0

    def push(self, rows: np.ndarray) -> None:
        size = self.buffer.shape[0]
        rows = rows[-size:]
        self.buffer[(self.next + np.arange(rows.shape[0])) % size] = rows
        self.next = (self.next + rows.shape[0]) % size
        self.count = min(self.count + rows.shape[0], size)

    def values(self) -> np.ndarray:
        return self.buffer[: self.count]


class _Alerts:
    """Remembers which alerts are on, logging a warning when one turns on (once per onset)."""

    def __init__(self, kind: str):
        self.kind = kind
        self.active: set[str] = set()

    def update(self, name: str, on: bool, detail: str) -> None:
        if on and name not in self.active:
            logger.warning("%s drift alert on %s: %s", self.kind, name, detail)
        (self.active.add if on else self.active.discard)(name)


class DriftMonitor:
    """Input drift of served inputs against a `ReferenceProfile`, over the last ``window`` rows.

    Per feature, ``psi_alert`` flags a PSI above ``psi_threshold`` (a large shift) and ``ks_alert`` a KS
    p-value below ``ks_alpha`` (a significant one); the feature alerts when both agree (``ks_alpha=None``:
    on PSI alone). Nothing alerts before ``min_count`` rows were observed. The KS test assumes independent
    rows: on overlapping windows of an autocorrelated series its p-values are too small (with 4 lag features
    of an AR(1) series with phi = 0.5, 29 of 100 fresh in-distribution windows had a KS p-value below 0.01
    while the largest PSI was 0.037), which is why KS alone does not raise the alert.
    """

    def __init__(
        self,
        profile: ReferenceProfile,
        *,
        window: int = 1000,
        psi_threshold: float = 0.25,
        ks_alpha: float | None = 0.01,
        min_count: int = 100,
        eps: float = 1e-4,
    ):
        self.profile = profile
        self.psi_threshold = psi_threshold
        self.ks_alpha = ks_alpha
        self.min_count = min_count
        self.eps = eps
        self._window = _Window(window, profile.features)
        self._alerts = _Alerts("input")
        self._lock = threading.Lock()

    def observe(self, values: ArrayLike) -> None:
        """Add served inputs ``[..., D]`` to the window and update (and log) the alerts; no rows: no change."""
        rows = _rows(values, "values", self.profile.features, allow_empty=True)
        if rows.shape[0] == 0:
            return
        with self._lock:
            self._window.push(rows)
            self._evaluate()

    def report(self) -> dict[str, Any]:
        """``{"count", "alert", "features": [{"name", "psi", "ks_statistic", "ks_pvalue", "psi_alert",
        "ks_alert", "alert"}, ...]}``; the statistics are ``None`` while the window is empty."""
        with self._lock:
            return self._evaluate()

    def _evaluate(self) -> dict[str, Any]:
        current, profile = self._window.values(), self.profile
        ready = self._window.count >= self.min_count
        features = []
        for j, name in enumerate(profile.names):
            entry: dict[str, Any] = {"name": name, "psi": None, "ks_statistic": None, "ks_pvalue": None}
            if self._window.count:
                fractions = _fractions(current[:, j], profile.edges[j])
                entry["psi"] = _psi(profile.fractions[j], fractions, self.eps)
                entry["ks_statistic"], entry["ks_pvalue"] = ks_test(profile.sample[:, j], current[:, j])
            entry["psi_alert"] = ready and entry["psi"] > self.psi_threshold
            entry["ks_alert"] = ready and self.ks_alpha is not None and entry["ks_pvalue"] < self.ks_alpha
            entry["alert"] = entry["psi_alert"] and (entry["ks_alert"] or self.ks_alpha is None)
            self._alerts.update(name, entry["alert"], f"PSI {entry['psi']}, KS p-value {entry['ks_pvalue']}")
            features.append(entry)
        alert = any(f["alert"] for f in features)
        return {"count": self._window.count, "alert": alert, "features": features}


class ErrorDriftMonitor:
    """Prediction-error drift: served errors (e.g. ``y - f`` once actuals arrive) against reference errors
    from the holdout, over the last ``window`` errors.

    Two signals: the mean-shift ratio ``mean |e_current| / mean |e_reference|`` (``ratio_alert`` above
    ``ratio_threshold``: the model got that much worse) and the KS test of the errors (``ks_alert`` when the
    p-value is below ``ks_alpha``). As in `DriftMonitor`, the alert needs both (``ks_alpha=None``: the ratio
    alone), since forecast errors are autocorrelated. Nothing alerts before ``min_count`` errors.

        >>> rng = np.random.default_rng(0)
        >>> monitor = ErrorDriftMonitor(rng.normal(size=2000))
        >>> monitor.observe(3 * rng.normal(size=500))
        >>> report = monitor.report()
        >>> report["alert"], round(report["mean_ratio"], 1)
        (True, 3.0)
    """

    def __init__(
        self,
        reference_errors: ArrayLike,
        *,
        window: int = 1000,
        ks_alpha: float | None = 0.01,
        ratio_threshold: float = 1.5,
        min_count: int = 100,
    ):
        self.reference = _vector(reference_errors, "reference_errors")
        self.reference_mean = float(np.mean(np.abs(self.reference)))
        if self.reference_mean == 0:
            raise ValueError("reference_errors are all zero: the mean-shift ratio is undefined")
        self.ks_alpha = ks_alpha
        self.ratio_threshold = ratio_threshold
        self.min_count = min_count
        self._window = _Window(window, 1)
        self._alerts = _Alerts("prediction-error")
        self._lock = threading.Lock()

    def observe(self, errors: ArrayLike) -> None:
        """Add served prediction errors (any shape, flattened) and update (and log) the alerts."""
        values = _vector(errors, "errors", allow_empty=True).reshape(-1, 1)
        if values.size == 0:
            return
        with self._lock:
            self._window.push(values)
            self._evaluate()

    def report(self) -> dict[str, Any]:
        """``{"count", "ks_statistic", "ks_pvalue", "mean_ratio", "ks_alert", "ratio_alert", "alert"}``;
        the statistics are ``None`` while the window is empty."""
        with self._lock:
            return self._evaluate()

    def _evaluate(self) -> dict[str, Any]:
        count = self._window.count
        report: dict[str, Any] = {"count": count, "ks_statistic": None, "ks_pvalue": None, "mean_ratio": None}
        if count:
            current = self._window.values()[:, 0]
            report["ks_statistic"], report["ks_pvalue"] = ks_test(self.reference, current)
            report["mean_ratio"] = float(np.mean(np.abs(current))) / self.reference_mean
        ready = count >= self.min_count
        report["ks_alert"] = ready and self.ks_alpha is not None and report["ks_pvalue"] < self.ks_alpha
        report["ratio_alert"] = ready and report["mean_ratio"] > self.ratio_threshold
        report["alert"] = report["ratio_alert"] and (report["ks_alert"] or self.ks_alpha is None)
        detail = f"KS p-value {report['ks_pvalue']}, mean-shift ratio {report['mean_ratio']}"
        self._alerts.update("errors", report["alert"], detail)
        return report
