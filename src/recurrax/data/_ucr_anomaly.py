"""UCR time-series anomaly archive series #135 ("InternalBleeding16", Wu & Keogh 2021; the KDD Cup 2021
multi-dataset anomaly detection contest) from the ``aeon`` wheel, registered as ``ucr135``.

The wheel (``pip download --no-deps aeon==1.6.0``, BSD-3-Clause; read as a zip archive, never imported) holds
``aeon/datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_{TRAIN,TEST}.csv`` with columns
``timestamp,value,is_anomaly``: TRAIN is the first 1200 points (no anomaly), TEST the whole series of 7501
points whose labels mark the one anomaly, points 4187..4198 (the archive's file name says
``_1200_4187_4199``: train end, anomaly begin, end exclusive). `load_ucr_anomaly` splits it the archive's
way: ``train`` (points 0..1199, normal only) and ``test`` (points 1200..7500, with the anomaly); the
``timestamp`` column keeps each point's position in the whole series.

    >>> import recurrax.data as rd
    >>> series = rd.load_ucr_anomaly()  # doctest: +SKIP
    >>> len(series.train), len(series.test), series.anomaly  # doctest: +SKIP
    (1200, 6301, (4187, 4198))
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._registry import DataFile, DatasetSpec, load_text, register_dataset
from ._sources import WheelSource
from ._ts import AEON_SHA256, AEON_WHEEL

_FOLDER = "aeon/datasets/data/KDD-TSAD_135"
_STEM = "135_UCR_Anomaly_InternalBleeding16"
COLUMNS = ("timestamp", "value", "is_anomaly")


@dataclass(frozen=True)
class UCRAnomalySeries:
    """One UCR anomaly-archive series: ``train`` (normal only) and ``test`` frames with columns
    ``timestamp`` (the position in the whole series), ``value``, ``is_anomaly`` (0/1); ``anomaly`` the
    labelled range as inclusive ``(start, end)`` positions in the whole series."""

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    anomaly: tuple[int, int]


def _frame(text: str, what: str) -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(text))
    if tuple(frame.columns) != COLUMNS:
        raise ValueError(f"{what}: expected the columns {list(COLUMNS)}, got {list(frame.columns)}")
    if frame["value"].isna().any() or not frame["is_anomaly"].isin((0, 1)).all():
        raise ValueError(f"{what}: missing values or labels other than 0/1")
    return frame


def parse_ucr_anomaly(train_text: str, full_text: str, name: str = "") -> UCRAnomalySeries:
    """The series from the text of its training CSV and of its whole-series CSV (aeon's ``TRAIN`` and
    ``TEST`` files); checks that the training part is the head of the whole series, holds no anomaly, and
    that the rest holds exactly one labelled anomaly.

    Example:
        >>> head = "timestamp,value,is_anomaly\\n0,1.0,0\\n1,2.0,0\\n"
        >>> whole = head + "2,1.0,0\\n3,9.0,1\\n4,9.5,1\\n5,1.0,0\\n"
        >>> series = parse_ucr_anomaly(head, whole)
        >>> len(series.train), series.test["timestamp"].tolist(), series.anomaly
        (2, [2, 3, 4, 5], (3, 4))
    """
    train, full = _frame(train_text, f"{name} train"), _frame(full_text, f"{name} test")
    size = len(train)
    if size == 0 or size >= len(full):
        raise ValueError(f"{name}: the training part ({size} points) must be non-empty and shorter than the series")
    if train["is_anomaly"].any():
        raise ValueError(f"{name}: the training part holds labelled anomalies")
    if not np.array_equal(train["value"].to_numpy(), full["value"].to_numpy()[:size]):
        raise ValueError(f"{name}: the training part is not the head of the whole series")
    labels = full["is_anomaly"].to_numpy().astype(bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], labels.astype(np.int8), [0]])))
    if len(edges) != 2:
        raise ValueError(f"{name}: expected one labelled anomaly, found {len(edges) // 2}")
    test = full.iloc[size:].reset_index(drop=True)
    return UCRAnomalySeries(name, train, test, (int(edges[0]), int(edges[1]) - 1))


def _read(folder: Path, split: str | None) -> list[str]:
    with zipfile.ZipFile(folder / AEON_WHEEL) as archive:
        return [archive.read(f"{_FOLDER}/{_STEM}_{split.upper()}.csv").decode("utf-8")]


def load_ucr_anomaly(
    *, data_dir: str | Path | None = None, cache_dir: str | Path | None = None, download: bool = True
) -> UCRAnomalySeries:
    """UCR anomaly series #135 (``ucr135``) through the dataset registry (data directory, cache, or the
    ``aeon`` wheel from the package index), split as the archive says (module docstring)."""
    options = {"data_dir": data_dir, "cache_dir": cache_dir, "download": download}
    return parse_ucr_anomaly(load_text("ucr135", "train", **options), load_text("ucr135", "test", **options),
                             name=_STEM)  # fmt: skip


register_dataset(
    DatasetSpec(
        name="ucr135",
        description="UCR anomaly archive #135 InternalBleeding16: 1200 normal training points + test with one "
        "labelled anomaly (7501 points in all); CSV from the aeon wheel",
        files=(DataFile(AEON_WHEEL, AEON_SHA256, (WheelSource("aeon", "1.6.0"),)),),
        read=_read,
        license="BSD-3-Clause (aeon); the UCR time-series anomaly archive (Wu & Keogh 2021)",
        splits=("train", "test"),
        kind="anomaly",
    )
)
