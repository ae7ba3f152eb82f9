"""Prometheus metrics of the service (`prometheus_client`), one registry per app.

Exposed on ``GET /metrics`` in the Prometheus text format:

- ``recurrax_requests_total{endpoint, method, status}``: answered requests; ``endpoint`` is the route
  template (``/v1/sessions/{session_id}/step``), so the label set stays bounded.
- ``recurrax_request_errors_total{endpoint, status}``: the answers with status >= 400.
- ``recurrax_request_latency_seconds{endpoint}``: a histogram of the time from request to response.
- ``recurrax_batch_rows{function}``: rows per model call (before padding); ``recurrax_batch_requests
  {function}``: requests merged into one call; ``recurrax_batch_shapes{function}``: distinct padded shapes
  called so far (bounded by the buckets).
- ``recurrax_sessions_active``, ``recurrax_sessions_created_total``, ``recurrax_sessions_expired_total``.
- With a drift monitor: ``recurrax_drift_psi{feature}``, ``recurrax_drift_ks_pvalue{feature}``,
  ``recurrax_drift_alert{feature}`` (1 while the feature alerts) and ``recurrax_drift_observed_rows``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class _DriftCollector(Collector):
    """Reads a drift monitor's ``report()`` at scrape time (see `recurrax.serve._drift.DriftMonitor`)."""

    def __init__(self, report: Callable[[], dict[str, Any]]):
        self._report = report

    def collect(self) -> Iterator[GaugeMetricFamily]:
        report = self._report()
        psi = GaugeMetricFamily(
            "recurrax_drift_psi", "Population stability index of served inputs.", labels=["feature"]
        )
        pvalue = GaugeMetricFamily("recurrax_drift_ks_pvalue", "KS test p-value of served inputs.", labels=["feature"])
        alert = GaugeMetricFamily(
            "recurrax_drift_alert", "1 while the feature's drift alert is on.", labels=["feature"]
        )
        for feature in report["features"]:
            if feature["psi"] is not None:
                psi.add_metric([feature["name"]], feature["psi"])
                pvalue.add_metric([feature["name"]], feature["ks_pvalue"])
            alert.add_metric([feature["name"]], float(feature["alert"]))
        rows = GaugeMetricFamily("recurrax_drift_observed_rows", "Rows in the drift window.", value=report["count"])
        yield from (psi, pvalue, alert, rows)


class Telemetry:
    """The service's metrics, in a registry of their own (several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("recurrax_requests", "Answered requests.", ["endpoint", "method", "status"], registry=r)
        self.errors = Counter("recurrax_request_errors", "Answers with status >= 400.", ["endpoint", "status"],
                              registry=r)  # fmt: skip
        self.latency = Histogram("recurrax_request_latency_seconds", "Request latency.", ["endpoint"],
                                 buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.batch_rows = Histogram("recurrax_batch_rows", "Rows per model call before padding.", ["function"],
                                    buckets=_SIZE_BUCKETS, registry=r)  # fmt: skip
        self.batch_requests = Histogram("recurrax_batch_requests", "Requests merged into one model call.",
                                        ["function"], buckets=_SIZE_BUCKETS, registry=r)  # fmt: skip
        self.batch_shapes = Gauge("recurrax_batch_shapes", "Distinct padded shapes called.", ["function"], registry=r)
        self.sessions_active = Gauge("recurrax_sessions_active", "Open streaming sessions.", registry=r)
        self.sessions_created = Counter("recurrax_sessions_created", "Streaming sessions opened.", registry=r)
        self.sessions_expired = Counter("recurrax_sessions_expired", "Sessions closed by TTL expiry.", registry=r)

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)
        if status >= 400:
            self.errors.labels(endpoint, str(status)).inc()

    def observe_batch(self, function: str, rows: int, requests: int, shapes: int) -> None:
        """Record one model call: its rows, the requests in it and the distinct padded shapes so far."""
        self.batch_rows.labels(function).observe(rows)
        self.batch_requests.labels(function).observe(requests)
        self.batch_shapes.labels(function).set(shapes)

    def add_drift(self, report: Callable[[], dict[str, Any]]) -> None:
        """Expose a drift monitor's report (``DriftMonitor.report``) as gauges."""
        self.registry.register(_DriftCollector(report))

    def render(self) -> bytes:
        """All metrics in the Prometheus text format."""
        return generate_latest(self.registry)
