"""`Seq2SeqConfig`: the model, data, optimisation and training sections of a numbers-translation run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...config import require
from ...train import OptimConfig, TrainConfig


@dataclass
class ModelConfig:
    """The `Seq2Seq` model: ``attention`` is ``"additive"`` (Bahdanau et al. 2015), ``"general"`` (Luong et
    al. 2015) or ``"none"``; the encoder is a bidirectional LSTM of ``encoder_layers`` layers."""

    attention: Literal["additive", "general", "none"] = "additive"
    embed_size: int = 64
    hidden_size: int = 128
    encoder_layers: int = 1

    def __post_init__(self):
        for name in ("embed_size", "hidden_size", "encoder_layers"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")


@dataclass
class DataConfig:
    """English -> French number words (`recurrax.tasks.seq2seq.english` / ``french``): ``train_size``
    numbers to train on and ``test_size`` other (unseen) ones, drawn from ``[0, max_number)``;
    ``valid_size`` of the training numbers validate. ``long_from``: test inputs of at least this many source
    tokens are also scored apart (``long_exact_match``). ``beam``: the beam width for the beam-search score."""

    max_number: int = 100_000
    train_size: int = 20_000
    test_size: int = 2_000
    valid_size: int = 500
    batch_size: int = 64
    eval_batch_size: int = 500
    long_from: int = 10
    beam: int = 4

    def __post_init__(self):
        for name in ("max_number", "train_size", "test_size", "valid_size", "batch_size", "eval_batch_size", "beam"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(self.valid_size < self.train_size, "valid_size", "must be smaller than train_size")


@dataclass
class Seq2SeqConfig:
    """A sequence-to-sequence run: ``model``, ``data``, ``optim`` and ``train`` sections (TOML tables)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2000, eval_every=250, checkpoint_every=0))
