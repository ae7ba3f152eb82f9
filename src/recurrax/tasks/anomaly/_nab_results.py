"""NAB's own results layout, so that NAB's ``run.py`` scores a recurrax detector (Lavin & Ahmad 2015).

NAB (github.com/numenta/NAB) reads a detector's output from
``results/<detector>/<category>/<detector>_<file>.csv``, one row per point of ``data/<category>/<file>.csv``,
with the columns ``timestamp`` (``%Y-%m-%d %H:%M:%S``), ``value``, ``anomaly_score`` (in [0, 1]) and
``label`` (1 inside a labelled anomaly window, else 0). With that folder in a NAB checkout (and NAB's own
``results/null`` and ``config/thresholds.json`` entries for the detector), ``python run.py -d <detector>
--optimize --score --normalize`` scores it.

Example:
    >>> import tempfile, numpy as np
    >>> from recurrax.data import NabSeries
    >>> stamps = np.datetime64("2015-09-08T11:39") + np.arange(3) * np.timedelta64(5, "m")
    >>> series = NabSeries("realTraffic/speed_x.csv", stamps, np.array([73.0, 62.0, 64.0]), (),
    ...                    np.array([False, True, False]), 1)
    >>> folder = tempfile.mkdtemp()
    >>> path = write_nab_results(folder, "mine", series, np.array([0.0, 0.9, 0.25]))
    >>> path.relative_to(folder).as_posix()
    'mine/realTraffic/mine_speed_x.csv'
    >>> print(path.read_text().strip())
    timestamp,value,anomaly_score,label
    2015-09-08 11:39:00,73.0,0.0,0
    2015-09-08 11:44:00,62.0,0.9,1
    2015-09-08 11:49:00,64.0,0.25,0
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...data import NabSeries

COLUMNS = ("timestamp", "value", "anomaly_score", "label")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def nab_results_path(folder: str | Path, detector: str, name: str) -> Path:
    """``<folder>/<detector>/<category>/<detector>_<file>`` for the NAB file ``name`` (``category/file.csv``)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", detector):
        raise ValueError(f"a NAB detector name is letters, digits, '_', '.' and '-', got {detector!r}")
    category, _, file = name.partition("/")
    if not category or not file or "/" in file:
        raise ValueError(f"a NAB file name looks like 'realTraffic/speed_7578.csv', got {name!r}")
    return Path(folder) / detector / category / f"{detector}_{file}"


def nab_results_frame(series: NabSeries, scores: Any) -> pd.DataFrame:
    """The results frame of one file: its time stamps (as NAB writes them), values, ``anomaly_score``
    ``scores`` ``[T]`` (finite, in [0, 1], else ValueError) and the 0/1 ``label`` of its windows."""
    scores = np.asarray(scores, np.float64)
    if scores.shape != (len(series),):
        raise ValueError(f"{series.name}: expected {len(series)} scores, got shape {scores.shape}")
    bad = np.flatnonzero(~(np.isfinite(scores) & (scores >= 0) & (scores <= 1)))
    if len(bad):
        raise ValueError(f"{series.name}: anomaly scores must be in [0, 1]; row {bad[0]} holds {scores[bad[0]]}")
    stamps = pd.to_datetime(series.timestamps).strftime(TIME_FORMAT)
    return pd.DataFrame({"timestamp": stamps, "value": np.asarray(series.values, np.float64),
                         "anomaly_score": scores, "label": series.in_window.astype(np.int64)})  # fmt: skip


def write_nab_results(folder: str | Path, detector: str, series: NabSeries, scores: Any) -> Path:
    """Write one file's scores in NAB's layout (module docstring), atomically; returns the path."""
    path = nab_results_path(folder, detector, series.name)
    frame = nab_results_frame(series, scores)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    frame.to_csv(scratch, index=False)
    scratch.replace(path)
    return path
