"""`ClassifyConfig`: the model, data, optimisation and training sections of a sequence-classification run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...config import require
from ...train import OptimConfig, TrainConfig


@dataclass
class ModelConfig:
    """The `SequenceClassifier`: a stack of any registered ``cell`` (`recurrax.cells.CELLS`), optionally
    ``bidirectional``, pooled over time by ``pooling`` (``"last"``, ``"mean"`` or ``"attention"``), then a
    linear layer over the classes. ``dropout`` is between layers and before the read-out."""

    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = True
    pooling: Literal["last", "mean", "attention"] = "last"
    attention_size: int = 32
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("hidden_size", "num_layers", "attention_size"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass
class DataConfig:
    """The sequences and their batches.

    - ``dataset``: a registered ``.ts`` dataset (``japanesevowels``, ``basicmotions``, ``gunpoint``,
      ``italypowerdemand``; official train/test splits), or ``path`` (and ``test_path``): local files used
      instead when set — ``.ts``, ``.npz`` (arrays ``xs`` ``[N, T, D]``, ``labels`` ``[N]``, optional
      ``lengths`` ``[N]``) or ``.csv`` (one univariate series per row, the label first, empty cells after a
      shorter series' end).
    - ``valid_fraction`` of the training cases (a seeded, class-stratified draw) validate; the test split is
      only used for the final metrics.
    - ``normalize``: standardise every feature with the mean and standard deviation of the training cases'
      valid steps; missing values (NaN) become 0 after it.
    - ``class_weights``: ``"balanced"`` weighs class ``k`` by ``N / (K * N_k)`` in the loss (as scikit-learn).
    """

    dataset: str = "japanesevowels"
    path: str | None = None
    test_path: str | None = None
    valid_fraction: float = 0.1
    batch_size: int = 32
    eval_batch_size: int = 256
    normalize: bool = True
    class_weights: Literal["none", "balanced"] = "none"

    def __post_init__(self):
        for name in ("batch_size", "eval_batch_size"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(0 < self.valid_fraction < 1, "valid_fraction", f"must be in (0, 1), got {self.valid_fraction}")


@dataclass
class ClassifyConfig:
    """A classification run: ``model``, ``data``, ``optim`` and ``train`` sections (TOML tables)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=500, eval_every=50, checkpoint_every=0))
