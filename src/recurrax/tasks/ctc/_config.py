"""`CTCConfig`: the model, data, decoding, optimisation and training sections of a CTC run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...config import require
from ...train import OptimConfig, TrainConfig


@dataclass
class ModelConfig:
    """The `CTCRecognizer`: a recurrent stack, then a linear layer to the alphabet plus the CTC blank.

    Attributes:
        cell: any registered cell (`recurrax.cells.CELLS`), default ``"lstm"``.
        hidden_size: hidden units per layer and direction, default 128.
        num_layers: stacked recurrent layers, default 2.
        bidirectional: forward and backward layers, default True.
        dropout: dropout rate between layers and before the read-out, in [0, 1), default 0.0.
    """

    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("hidden_size", "num_layers"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass
class DataConfig:
    """Rendered text lines (`generate_lines`), made once from ``seed``.

    The words are the distinct lower-case words of Tiny Shakespeare (shipped with recurrax), shuffled by
    ``seed`` and cut into disjoint train / valid / test word sets, so valid and test lines hold only words
    never seen in training. A line is 1 to ``max_words`` words of its split joined by single spaces, drawn by
    the ``captcha`` package's renderer (its shipped DroidSansMono font, on a 60-pixel canvas), scaled to
    ``height`` pixels and read column by column: a sequence of ``[W, height]`` ink intensities in ``[0, 1]``.

    Attributes:
        seed: seed of the word split and of every line, default 0.
        train_lines: training lines, default 20000.
        valid_lines: validation lines, default 1000.
        test_lines: test lines, default 1000.
        valid_words: fraction of the words kept for validation, in (0, 0.5), default 0.1.
        test_words: fraction of the words kept for testing, in (0, 0.5), default 0.1.
        max_words: words per line at most, default 3.
        max_chars: characters per line at most, default 20.
        height: image height in pixels, the features per step, default 32.
        width_scale: the width is scaled by this times the height's factor (1: aspect kept; below 1 fewer
            columns, a shorter sequence), in [0.1, 2], default 0.6.
        font_sizes: font sizes drawn from, in [8, 56], default ``(40, 44, 48)``.
        rotate: each character rotated uniformly within ``±rotate`` degrees, default 8.0.
        warp: each character warped by up to this fraction of its size, default 0.1.
        overlap: characters overlap by up to this fraction of the mean width, default 0.1.
        noise: add captcha's noise dots and arc, default False.
        batch_size: lines per update, default 32.
        eval_batch_size: lines per batch when scoring, default 200.
        pad_to: each batch is padded to a multiple of this many columns, so few shapes compile, default 32.
    """

    seed: int = 0
    train_lines: int = 20000
    valid_lines: int = 1000
    test_lines: int = 1000
    valid_words: float = 0.1
    test_words: float = 0.1
    max_words: int = 3
    max_chars: int = 20
    height: int = 32
    width_scale: float = 0.6
    font_sizes: tuple[int, ...] = (40, 44, 48)
    rotate: float = 8.0
    warp: float = 0.1
    overlap: float = 0.1
    noise: bool = False
    batch_size: int = 32
    eval_batch_size: int = 200
    pad_to: int = 32

    def __post_init__(self):
        for name in ("train_lines", "valid_lines", "test_lines", "max_words", "height", "batch_size",
                     "eval_batch_size", "pad_to"):  # fmt: skip
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(self.max_chars >= 2, "max_chars", f"must be >= 2, got {self.max_chars}")
        require(
            bool(self.font_sizes) and 8 <= min(self.font_sizes) and max(self.font_sizes) <= 56,
            "font_sizes", f"must be in [8, 56] (captcha's 60-pixel canvas), got {self.font_sizes}",
        )  # fmt: skip
        for name in ("valid_words", "test_words"):
            require(0 < getattr(self, name) < 0.5, name, f"must be in (0, 0.5), got {getattr(self, name)}")
        require(0.1 <= self.width_scale <= 2, "width_scale", f"must be in [0.1, 2], got {self.width_scale}")
        require(0 <= self.rotate <= 90, "rotate", f"must be in [0, 90] degrees, got {self.rotate}")
        require(0 <= self.warp <= 0.5, "warp", f"must be in [0, 0.5], got {self.warp}")
        require(0 <= self.overlap <= 0.5, "overlap", f"must be in [0, 0.5], got {self.overlap}")


@dataclass
class DecodeConfig:
    """How the per-frame distributions become text.

    Attributes:
        method: ``"greedy"`` (best path: the most likely label per frame, repeats merged, blanks dropped) or
            ``"beam"`` (CTC prefix beam search, Hannun et al. 2014), default ``"greedy"``.
        beam_size: prefixes kept by ``"beam"``, default 8.
    """

    method: Literal["greedy", "beam"] = "greedy"
    beam_size: int = 8

    def __post_init__(self):
        require(self.beam_size >= 1, "beam_size", f"must be >= 1, got {self.beam_size}")


@dataclass
class CTCConfig:
    """A CTC run: ``model``, ``data``, ``decode``, ``optim`` and ``train`` sections (TOML tables).

    Validation (every ``train.eval_every`` steps) scores the CTC loss and the greedy character error rate on
    the valid lines; the lowest valid loss picks the checkpoint that is kept."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, clip_norm=5.0))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=4000, eval_every=500, checkpoint_every=500))
