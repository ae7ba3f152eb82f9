"""`Seq2SeqConfig`: the model, data, optimisation and training sections of a sequence-to-sequence run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ... import data as rd
from ...config import require
from ...train import OptimConfig, TrainConfig


@dataclass
class ModelConfig:
    """The `Seq2Seq` model; the encoder is a bidirectional LSTM of ``encoder_layers`` layers.

    Attributes:
        attention: ``"additive"`` (Bahdanau et al. 2015), ``"general"`` (Luong et al. 2015) or ``"none"``,
            default ``"additive"``.
        embed_size: embedding width of both vocabularies, default 64.
        hidden_size: LSTM units per encoder direction and of the decoder, default 128.
        encoder_layers: stacked bidirectional encoder layers, default 1.
    """

    attention: Literal["additive", "general", "none"] = "additive"
    embed_size: int = 64
    hidden_size: int = 128
    encoder_layers: int = 1

    def __post_init__(self):
        for name in ("embed_size", "hidden_size", "encoder_layers"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")


@dataclass
class DataConfig:
    """The sentence pairs.

    Attributes:
        dataset: ``"numbers"``, English -> French number words (`recurrax.tasks.seq2seq.english` /
            ``french``), or a registered translation dataset (``"tatoeba_fra_eng"``,
            `recurrax.data.load_pairs`): its first ``train_size + test_size`` pairs (the shortest, in
            Tatoeba's order), shuffled and cut into ``train_size`` and ``test_size``; default ``"numbers"``.
        max_number: ``"numbers"`` draws from ``[0, max_number)``, default 100_000.
        train_size: pairs to train on, default 20_000.
        test_size: other (unseen) pairs to test on, default 2_000.
        valid_size: training pairs held out for validation, < ``train_size``, default 500.
        batch_size: pairs per training batch, default 64.
        eval_batch_size: pairs decoded at once in evaluation, default 500.
        long_from: test inputs of at least this many source tokens are also scored apart
            (``long_exact_match``), default 10.
        beam: the beam width for the beam-search score, default 4.
    """

    dataset: str = "numbers"
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
        known = ["numbers", *sorted(name for name, spec in rd.DATASETS.items() if spec.kind == "translation")]
        require(self.dataset in known, "dataset", f"must be one of {', '.join(known)}, got {self.dataset!r}")


@dataclass
class Seq2SeqConfig:
    """A sequence-to-sequence run: ``model``, ``data``, ``optim`` and ``train`` sections (TOML tables)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2000, eval_every=250, checkpoint_every=0))
