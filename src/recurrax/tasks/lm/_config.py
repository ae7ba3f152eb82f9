"""`LMConfig`: the model, data, optimisation and training sections of a language-modelling run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...config import require
from ...train import OptimConfig, TrainConfig


@dataclass
class ModelConfig:
    """The `LanguageModel`.

    Attributes:
        cell: any registered cell (`recurrax.cells.CELLS`), default ``"lstm"``.
        embed_size: embedding width, default 128.
        hidden_size: hidden units per layer, default 256.
        num_layers: stacked recurrent layers, default 2.
        dropout: dropout rate on the non-recurrent connections, default 0.0.
        recurrent_dropout: variational dropout rate on ``h`` (Gal & Ghahramani 2016), default 0.0.
        zoneout: zoneout rate on the carry (Krueger et al. 2016), default 0.0.
        tie_weights: read out with the embedding matrix; needs ``embed_size == hidden_size``, default False.
        forget_bias: LSTM-family cells: the forget-gate bias at init (None: the cell's 1.0), default None.
    """

    cell: str = "lstm"
    embed_size: int = 128
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    tie_weights: bool = False
    forget_bias: float | None = None

    def __post_init__(self):
        for name in ("embed_size", "hidden_size", "num_layers"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        for name in ("dropout", "recurrent_dropout", "zoneout"):
            rate = getattr(self, name)
            require(0 <= rate < 1, name, f"must be in [0, 1), got {rate}")


@dataclass
class DataConfig:
    """The corpus and its batches.

    Splits: a dataset's official train/valid/test splits when it has them; otherwise the text is cut by
    characters (at a space for words) into the first ``1 - valid_fraction - test_fraction`` for training, then
    ``valid_fraction`` for validation, then ``test_fraction`` for testing.

    Attributes:
        dataset: a registered dataset (`recurrax.data`), default ``"tinyshakespeare"``.
        path: a local UTF-8 text file (one document), used instead of ``dataset`` when set, default None.
        level: ``"char"`` or ``"word"`` tokens (`CharTokenizer`, `WordTokenizer`; the vocabulary is fitted on
            the training split), default ``"char"``.
        seq_len: steps per batch (truncated BPTT, `TokenWindows`), default 100.
        batch_size: streams per training batch, default 32.
        eval_batch_size: evaluation cuts a split into this many streams, each from a zero state (1 reads the
            split as one sequence: the exact, slowest evaluation), default 32.
        valid_fraction: validation share of the text without official splits, in (0, 1), default 0.1.
        test_fraction: test share of the text without official splits, default 0.0.
        max_vocab: `WordTokenizer` vocabulary limit, 0 = no limit, default 0.
        min_freq: `WordTokenizer` minimum count of a word, default 1.
    """

    dataset: str = "tinyshakespeare"
    path: str | None = None
    level: Literal["char", "word"] = "char"
    seq_len: int = 100
    batch_size: int = 32
    eval_batch_size: int = 32
    valid_fraction: float = 0.1
    test_fraction: float = 0.0
    max_vocab: int = 0
    min_freq: int = 1

    def __post_init__(self):
        for name in ("seq_len", "batch_size", "eval_batch_size", "min_freq"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(self.max_vocab == 0 or self.max_vocab >= 2, "max_vocab", f"must be 0 or >= 2, got {self.max_vocab}")
        require(0 < self.valid_fraction < 1, "valid_fraction", f"must be in (0, 1), got {self.valid_fraction}")
        leaves_train = 0 <= self.test_fraction < 1 - self.valid_fraction
        require(leaves_train, "test_fraction", f"must be >= 0 and leave a training split, got {self.test_fraction}")


@dataclass
class LMConfig:
    """A language-modelling run: ``model``, ``data``, ``optim`` and ``train`` sections (TOML tables)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
