"""`ForecastConfig`: the model, data, optimisation and training sections of a forecasting run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...config import require
from ...train import OptimConfig, TrainConfig


@dataclass
class ModelConfig:
    """The `Forecaster`: ``kind`` direct or recursive, any registered ``cell``, the output ``head``
    (``point``, ``gaussian``, ``student_t``, ``quantile`` at ``quantiles``)."""

    kind: Literal["direct", "recursive"] = "direct"
    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    head: Literal["point", "gaussian", "student_t", "quantile"] = "point"
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)

    def __post_init__(self):
        require(self.hidden_size >= 1, "hidden_size", f"must be >= 1, got {self.hidden_size}")
        require(self.num_layers >= 1, "num_layers", f"must be >= 1, got {self.num_layers}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")
        require(all(0 < q < 1 for q in self.quantiles), "quantiles", f"must lie in (0, 1), got {self.quantiles}")


@dataclass
class DataConfig:
    """Windows and scaling.

    - ``input_size`` history steps (shorter near a series' start), ``horizon`` steps ahead, origins every
      ``stride`` steps, at least ``min_input`` history values per window; ``period`` the seasonal period (for
      MASE and the baselines).
    - ``scaler``: ``standard``, ``robust``, ``meanabs`` or ``none``; ``scale_scope``: ``series`` (statistics of
      each series' training history, `Scaler`) or ``window`` (statistics of each window's own input, so
      series of any level and trend share one model).
    - ``missing``: ``error``, ``ffill`` or ``interpolate`` (see `fill_missing`).
    - ``validate``: hold out each series' last ``horizon`` values as the validation split (best checkpoint,
      early stopping); training windows then end before them.
    - ``path``: a long frame (``.csv`` or ``.parquet``, columns ``unique_id``, ``ds``, ``y``) that
      `load_series` reads for ``recurrax forecast``; ``freq``: its pandas frequency (e.g. ``"MS"``), which
      puts each series on a regular grid and dates the forecasts (None: stamps as given, the frequency
      inferred for the forecasts).
    """

    input_size: int = 24
    horizon: int = 6
    stride: int = 1
    min_input: int = 1
    period: int = 1
    scaler: Literal["standard", "robust", "meanabs", "none"] = "meanabs"
    scale_scope: Literal["series", "window"] = "window"
    missing: Literal["error", "ffill", "interpolate"] = "error"
    batch_size: int = 256
    validate: bool = False
    path: str | None = None
    freq: str | None = None

    def __post_init__(self):
        for name in ("input_size", "horizon", "stride", "min_input", "period", "batch_size"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")


@dataclass
class ForecastConfig:
    """A forecasting run: ``model``, ``data``, ``optim`` and ``train`` sections (TOML tables)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
