"""Experiment tracking: every run already logs to its own directory (``config.toml``, ``metrics.jsonl``,
``holdout.json``); `track_to_mlflow` copies a finished run into MLflow when the user asks for it.

MLflow is optional and imported only here, when called (``pip install mlflow``).
"""

from __future__ import annotations

import importlib
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from ..train import read_metrics

BOOKKEEPING = ("step", "split", "time", "nonfinite")


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config sections as dotted keys, as ``--set`` names them.

    >>> flatten({"model": {"hidden_size": 8, "quantiles": [0.1, 0.9]}, "train": {"seed": 0}})
    {'model.hidden_size': 8, 'model.quantiles': [0.1, 0.9], 'train.seed': 0}
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def run_record(run_dir: str | Path) -> tuple[dict[str, Any], list[tuple[str, float, int]], dict[str, float]]:
    """What a run directory holds for a tracker: ``(params, metrics, summary)``.

    ``params``: the flattened ``config.toml``; ``metrics``: ``(name, value, step)`` for every finite
    number in ``metrics.jsonl``, named ``<split>/<column>`` (e.g. ``valid/loss``); ``summary``: the
    ``holdout.json`` scores as ``holdout/<score>`` (empty without the file).
    """
    run_dir = Path(run_dir)
    config_path = run_dir / "config.toml"
    if not config_path.is_file():
        raise ValueError(f"not a run directory: {run_dir} (no config.toml)")
    params = flatten(tomllib.loads(config_path.read_text()))
    metrics_path = run_dir / "metrics.jsonl"
    rows = read_metrics(metrics_path) if metrics_path.is_file() else []
    metrics = [
        (f"{row.get('split', 'train')}/{key}", float(value), int(row["step"]))
        for row in rows
        for key, value in row.items()
        if key not in BOOKKEEPING and _is_number(value)
    ]
    holdout = run_dir / "holdout.json"
    scores = json.loads(holdout.read_text()) if holdout.is_file() else {}
    summary = {f"holdout/{k}": float(v) for k, v in scores.items() if _is_number(v)}
    return params, metrics, summary


def track_to_mlflow(run_dir: str | Path, experiment: str, *, tracking_uri: str | None = None) -> str:
    """Log a run directory to MLflow as one run of ``experiment``: its config as params, every
    ``metrics.jsonl`` value at its step, the holdout scores, and the directory's files as artifacts.

    ``tracking_uri``: where MLflow writes (default MLflow's own, ``./mlruns``). Returns the MLflow run id.
    """
    try:
        mlflow = importlib.import_module("mlflow")
    except ImportError:
        raise ValueError("MLflow tracking needs the mlflow package: pip install mlflow") from None
    run_dir = Path(run_dir)
    params, metrics, summary = run_record(run_dir)
    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_dir.name) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        for name, value, step in metrics:
            mlflow.log_metric(name, value, step=step)
        if summary:
            mlflow.log_metrics(summary)
        mlflow.log_artifacts(str(run_dir))
        return run.info.run_id


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
