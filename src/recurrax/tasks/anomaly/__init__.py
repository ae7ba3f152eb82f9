"""Time-series anomaly detection: model -> scorer -> detector, batch and streaming (see docs/anomaly.md)."""
