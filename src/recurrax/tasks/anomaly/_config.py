"""`AnomalyConfig`: the scorer, detector, data, optimisation and training sections of an anomaly run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...config import require
from ...train import OptimConfig, TrainConfig
from ._scorers import ScorerConfig


@dataclass
class DetectorConfig:
    """The detector that turns raw scores into labels (`recurrax.tasks.anomaly.detect`).

    Telemanom's fields keep the defaults of its reference ``config.yaml``.

    Attributes:
        kind: ``"telemanom"`` (the nonparametric dynamic threshold of Hundman et al. 2018), ``"static"``
            (``threshold``, or when it is none the ``quantile`` quantile of the training part's smoothed
            scores) or ``"quantile"`` (the ``quantile`` quantile of the last ``history`` smoothed scores, past
            only, once ``min_history`` exist); default ``"telemanom"``.
        span: EWMA span of the smoothing; None: ``int(batch * window_size * smoothing_perc)`` for
            ``telemanom`` (105 with the defaults), no smoothing for the others; default None.
        smoothing_perc: Telemanom's smoothing span as a fraction of ``batch * window_size``, default 0.05.
        window_size: Telemanom windows hold ``window_size * batch`` errors, default 30.
        batch: step between Telemanom windows, default 70.
        buffer: points added each side of an exceedance, default 100.
        p: pruning (``min_percent``): a sequence whose maximum is less than ``p`` above the next is dropped,
            in [0, 1), default 0.13.
        z_min: first ``z`` of the threshold search, default 2.5.
        z_max: end (excluded) of the ``z`` search, default 12.0.
        z_step: step of the ``z`` search, default 0.5.
        max_sequences: a ``z`` qualifies with at most this many anomalous sequences in the window, default 5.
        inverted: also label unusually low errors (Telemanom's inverted errors, e.g. a sensor that freezes at
            a value the model predicts well), default False.
        threshold: fixed threshold of ``"static"``; None: from ``quantile``; default None.
        quantile: quantile level of ``"static"`` (without ``threshold``) and ``"quantile"``, default 0.99.
        history: past smoothed scores the ``"quantile"`` detector reads, default 1000.
        min_history: scores needed before ``"quantile"`` labels, <= ``history``, default 100.
    """

    kind: Literal["telemanom", "static", "quantile"] = "telemanom"
    span: int | None = None
    smoothing_perc: float = 0.05
    window_size: int = 30
    batch: int = 70
    buffer: int = 100
    p: float = 0.13
    z_min: float = 2.5
    z_max: float = 12.0
    z_step: float = 0.5
    max_sequences: int = 5
    inverted: bool = False
    threshold: float | None = None
    quantile: float = 0.99
    history: int = 1000
    min_history: int = 100

    def __post_init__(self):
        for name in ("window_size", "batch", "max_sequences", "history", "min_history"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(self.span is None or self.span >= 1, "span", f"must be >= 1 or none, got {self.span}")
        require(0 < self.smoothing_perc <= 1, "smoothing_perc", f"must be in (0, 1], got {self.smoothing_perc}")
        require(self.buffer >= 0, "buffer", f"must be >= 0, got {self.buffer}")
        require(0 <= self.p < 1, "p", f"must be in [0, 1), got {self.p}")
        require(self.z_step > 0, "z_step", f"must be > 0, got {self.z_step}")
        require(self.z_min < self.z_max, "z_min", f"must be < z_max ({self.z_max}), got {self.z_min}")
        require(0 <= self.quantile <= 1, "quantile", f"must be in [0, 1], got {self.quantile}")
        require(self.min_history <= self.history, "min_history", f"must be <= history ({self.history})")


@dataclass
class DataConfig:
    """The columns of a series frame (one series per file, one row per time step, in time order).

    Attributes:
        timestamp: the time-stamp column, copied to the output (None: the row number is the time); default
            ``"timestamp"``.
        id: a column naming the series of each row, for many series in one file (None: one series). Each
            series is scored and labelled on its own, its rows in time order; training draws windows within
            one series and takes the first ``train_fraction`` of each; default None.
        values: the value columns, one per feature (``[T, D]``), default ``("value",)``.
        label: a 0/1 column of true anomalies, read by ``evaluate`` only (None: evaluation needs one); default
            None.
        train_fraction: the scorer trains on the first fraction of the rows (assumed mostly normal), in
            (0, 1], default 1.0.
        path: the ``.csv`` or ``.parquet`` file that ``recurrax anomaly fit`` reads (or ``--data``), default
            None.
    """

    timestamp: str | None = "timestamp"
    id: str | None = None
    values: tuple[str, ...] = ("value",)
    label: str | None = None
    train_fraction: float = 1.0
    path: str | None = None

    def __post_init__(self):
        require(len(self.values) >= 1, "values", "must name at least one column")
        require(len(set(self.values)) == len(self.values), "values", f"repeat a column: {list(self.values)}")
        require(0 < self.train_fraction <= 1, "train_fraction", f"must be in (0, 1], got {self.train_fraction}")


@dataclass
class AnomalyConfig:
    """An anomaly-detection run: ``scorer``, ``detector``, ``data``, ``optim`` and ``train`` sections."""

    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=500, eval_every=0, checkpoint_every=0))
