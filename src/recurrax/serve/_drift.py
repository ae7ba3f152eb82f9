"""Drift monitoring of a served model: input drift (PSI, KS test) and prediction-error drift.

The statistics and the training-time `ReferenceProfile` live in `recurrax.metrics._drift` (the tasks write
a run's profile at fit time; see there for the PSI definition and its usual reading). Monitors keep the last
``window`` rows, alert on a PSI above 0.25 confirmed by the KS test, log a warning (logger
``recurrax.serve._drift``) once when an alert starts, and report plain JSON-ready dicts that the service
exposes on ``/metrics``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> profile = ReferenceProfile.from_values(rng.normal(size=(5000, 2)))
    >>> monitor = DriftMonitor(profile, window=1000)
    >>> monitor.observe(rng.normal(loc=[0.0, 1.0], size=(1000, 2)))
    >>> [feature["alert"] for feature in monitor.report()["features"]]
    [False, True]
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..metrics import ReferenceProfile, bin_fractions, finite_rows, finite_vector, ks_test, psi_from_fractions

logger = logging.getLogger(__name__)


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
        rows = finite_rows(values, "values", self.profile.features, allow_empty=True)
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
                fractions = bin_fractions(current[:, j], profile.edges[j])
                entry["psi"] = psi_from_fractions(profile.fractions[j], fractions, self.eps)
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
        self.reference = finite_vector(reference_errors, "reference_errors")
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
        values = finite_vector(errors, "errors", allow_empty=True).reshape(-1, 1)
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
