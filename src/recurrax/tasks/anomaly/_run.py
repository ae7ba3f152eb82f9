"""`fit_anomaly`, `detect_anomaly`, `evaluate_anomaly`: an anomaly run from a series frame to a run directory,
and its use on new frames.

A run directory holds ``config.toml`` (the `AnomalyConfig`), ``metrics.jsonl`` and ``checkpoints/`` (the
scorer, `recurrax.tasks.anomaly.load_scorer`; each ``meta.json`` also holds the config) and
``reference_scores.npy`` (float64 ``[T_train]``: the scorer's raw scores of its own training rows, which a
``static`` detector without a fixed threshold takes its quantile from) and ``reference_profile.json`` (the
`recurrax.metrics.ReferenceProfile` of the training rows, one feature per value column, for drift monitoring).

A frame is one series, one row per time step in time order (see `DataConfig`); every output frame keeps the
input's rows in the input's order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from ... import metrics
from ...config import from_dict, to_dict, to_toml
from ...data import read_frame
from ...metrics import REFERENCE_PROFILE_FILE
from ...train import find_checkpoint, read_meta
from ._config import AnomalyConfig, DataConfig, DetectorConfig
from ._detectors import Detection, detect, sequences_of
from ._scorers import Scorer, fit_scorer, load_scorer, score_series

REFERENCE_FILE = "reference_scores.npy"
OUTPUT_COLUMNS = ("score", "smoothed", "threshold", "is_anomaly")


@dataclass
class AnomalyRun:
    """A fitted run: its directory, the `Scorer`, the config and the ``reference`` scores ``[T_train]``."""

    run_dir: Path
    scorer: Scorer
    config: AnomalyConfig
    reference: np.ndarray


def _columns(frame: pd.DataFrame, names: list[str]) -> None:
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ValueError(f"the frame lacks the columns {missing} (it has {list(frame.columns)})")


def read_series_frame(path: str | Path) -> pd.DataFrame:
    """The frame in a ``.csv`` or ``.parquet`` file (`recurrax.tasks.forecast.read_frame`); an empty file or
    one without rows is a ValueError that names it."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty")
    frame = read_frame(path)
    if len(frame) == 0:
        raise ValueError(f"{path}: the file has no rows")
    return frame


def series_values(frame: pd.DataFrame, data: DataConfig) -> np.ndarray:
    """The value columns of ``frame`` as float64 ``[T, D]``; ValueError naming the column and row for a
    missing column, an empty frame, or a value that is not a finite number."""
    if len(frame) == 0:
        raise ValueError("the frame has no rows")
    _columns(frame, list(data.values) + ([data.timestamp] if data.timestamp else []))
    columns = []
    for name in data.values:
        column = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(column))
        if len(bad):
            raise ValueError(f"column {name!r} holds a missing or non-numeric value at row {bad[0]} "
                             f"({frame[name].iloc[bad[0]]!r})")  # fmt: skip
        columns.append(column)
    return np.stack(columns, axis=1)


def series_labels(frame: pd.DataFrame, label: str | None) -> np.ndarray:
    """The 0/1 (or boolean) column ``label`` of ``frame`` as bool ``[T]``."""
    if label is None:
        raise ValueError("evaluation needs a label column: set data.label (or pass --label)")
    _columns(frame, [label])
    column = pd.to_numeric(frame[label], errors="coerce").to_numpy(np.float64)
    if not np.isin(column, (0.0, 1.0)).all():
        row = int(np.flatnonzero(~np.isin(column, (0.0, 1.0)))[0])
        raise ValueError(f"label column {label!r} must hold 0 or 1; row {row} holds {frame[label].iloc[row]!r}")
    return column.astype(bool)


def series_groups(frame: pd.DataFrame, data: DataConfig) -> list[np.ndarray]:
    """The row positions of each series in ``frame``: one group of all rows without ``data.id``, else one
    per id value, in order of first appearance (ValueError for a missing id column or a missing id)."""
    if data.id is None:
        return [np.arange(len(frame))]
    _columns(frame, [data.id])
    ids = frame[data.id]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise ValueError(f"id column {data.id!r} is missing at row {row}")
    codes, _ = pd.factorize(ids, sort=False)
    return [np.flatnonzero(codes == code) for code in range(codes.max() + 1)]


def fit_anomaly(cfg: AnomalyConfig, frame: pd.DataFrame, run_dir: str | Path, *, progress: bool = False) -> AnomalyRun:
    """Train ``cfg.scorer`` on the first ``data.train_fraction`` of ``frame``'s rows (of each series, with
    ``data.id``; assumed mostly normal, as Telemanom assumes of its training data), score those rows (the
    reference scores) and write the run directory ``run_dir``."""
    values = series_values(frame, cfg.data)
    groups = series_groups(frame, cfg.data)
    parts = [values[rows][: max(1, round(cfg.data.train_fraction * len(rows)))] for rows in groups]
    train = np.concatenate(parts)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(to_toml(cfg))
    metrics.ReferenceProfile.from_values(train, names=list(cfg.data.values)).save(run_dir / REFERENCE_PROFILE_FILE)
    key = jax.random.split(jax.random.key(cfg.train.seed))[1]
    scorer = fit_scorer(parts if len(parts) > 1 else train, cfg.scorer, optim=cfg.optim, train=cfg.train, key=key, run_dir=run_dir,
                        meta={"config": to_dict(cfg)}, progress=progress)  # fmt: skip
    reference = np.concatenate([score_series(scorer, part) for part in parts])
    np.save(run_dir / REFERENCE_FILE, reference, allow_pickle=False)
    return AnomalyRun(run_dir, scorer, cfg, reference)


def load_anomaly(run_dir: str | Path) -> AnomalyRun:
    """The scorer, config and reference scores of a run directory written by `fit_anomaly`."""
    run_dir = Path(run_dir)
    checkpoint = find_checkpoint(run_dir)
    meta = read_meta(checkpoint)
    if "config" not in meta:
        raise ValueError(f"{checkpoint} is not an anomaly run's checkpoint (its meta.json has no config)")
    cfg = from_dict(AnomalyConfig, meta["config"])
    reference = np.load(run_dir / REFERENCE_FILE, allow_pickle=False)
    return AnomalyRun(run_dir, load_scorer(checkpoint), cfg, reference)


def _loaded(run: str | Path | AnomalyRun) -> AnomalyRun:
    return run if isinstance(run, AnomalyRun) else load_anomaly(run)


def detection_frame(frame: pd.DataFrame, data: DataConfig, scores: np.ndarray, found: Detection) -> pd.DataFrame:
    """The output frame: the input's time-stamp, value (and label, if present) columns, then ``score``,
    ``smoothed``, ``threshold`` and ``is_anomaly``, row for row with ``frame``."""
    keep = [c for c in [data.id, data.timestamp, *data.values, data.label] if c is not None and c in frame.columns]
    out = frame[keep].reset_index(drop=True).copy()
    out["score"], out["smoothed"], out["threshold"] = scores, found.smoothed, found.threshold
    out["is_anomaly"] = found.labels
    return out


def detect_anomaly(
    run: str | Path | AnomalyRun, frame: pd.DataFrame, detector: DetectorConfig | None = None
) -> pd.DataFrame:
    """Score ``frame`` with the run's scorer and label it with its detector (or ``detector``, to try other
    detector settings without retraining), each series (``data.id``) on its own; see `detection_frame` for
    the columns."""
    run = _loaded(run)
    cfg = run.config if detector is None else replace(run.config, detector=detector)
    values = series_values(frame, cfg.data)
    scores = np.full(len(frame), np.nan)
    smoothed, threshold, labels = scores.copy(), scores.copy(), np.zeros(len(frame), bool)
    for rows in series_groups(frame, cfg.data):
        scores[rows] = score_series(run.scorer, values[rows])
        found = detect(scores[rows], cfg.detector, reference=run.reference)
        smoothed[rows], threshold[rows], labels[rows] = found.smoothed, found.threshold, found.labels
    return detection_frame(frame, cfg.data, scores, Detection(smoothed, threshold, labels, sequences_of(labels)))


def ucr_hit(scores: np.ndarray, labels: np.ndarray, tolerance: int = 100) -> bool:
    """The UCR anomaly archive's test (Wu & Keogh 2021, the KDD Cup 2021 rule): with one labelled anomaly
    ``[start, end]`` of ``w`` points, the location of the largest score must lie in ``[start - max(w,
    tolerance), end + max(w, tolerance)]``. NaN scores are ignored.

    Example:
        >>> labels = np.zeros(1000, bool); labels[500:510] = True
        >>> ucr_hit(np.eye(1000)[399], labels), ucr_hit(np.eye(1000)[400], labels)  # margin 100
        (False, True)
    """
    runs = sequences_of(labels)
    if len(runs) != 1:
        raise ValueError(f"the UCR test needs exactly one labelled anomaly, got {len(runs)}")
    (start, end), scores = runs[0], np.asarray(scores, np.float64)
    if np.isnan(scores).all():
        raise ValueError("every score is NaN")
    margin = max(end - start + 1, tolerance)
    return bool(start - margin <= int(np.nanargmax(scores)) <= end + margin)


def detection_scores(detected: pd.DataFrame, labels: np.ndarray) -> dict[str, Any]:
    """Point, event (Telemanom) and point-adjusted (inflated: see `recurrax.metrics.point_adjusted_prf`)
    precision / recall / F1 of a `detection_frame` against ``labels`` ``[T]``, the counts of true events and
    detected sequences, and ``ucr_hit`` (`ucr_hit` of the raw scores) when there is exactly one event."""
    pred = detected["is_anomaly"].to_numpy(bool)
    out: dict[str, Any] = {}
    for name, prf in (("point", metrics.point_prf), ("event", metrics.event_prf),
                      ("point_adjusted", metrics.point_adjusted_prf)):  # fmt: skip
        precision, recall, f1 = prf(labels, pred)
        out |= {f"{name}_precision": precision, f"{name}_recall": recall, f"{name}_f1": f1}
    out["events"], out["detected_sequences"] = len(sequences_of(labels)), len(sequences_of(pred))
    if out["events"] == 1:
        out["ucr_hit"] = ucr_hit(detected["score"].to_numpy(np.float64), labels)
    return out


def evaluate_anomaly(
    run: str | Path | AnomalyRun, frame: pd.DataFrame, label: str | None = None
) -> tuple[dict[str, Any], pd.DataFrame]:
    """`detection_scores` of `detect_anomaly` on ``frame`` against its label column (``label``, default the
    config's ``data.label``), and the detection frame."""
    run = _loaded(run)
    name = label or run.config.data.label
    labels = series_labels(frame, name)
    data = replace(run.config.data, label=name)
    detected = detect_anomaly(replace(run, config=replace(run.config, data=data)), frame)
    return detection_scores(detected, labels), detected
