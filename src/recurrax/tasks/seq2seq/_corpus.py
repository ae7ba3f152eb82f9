"""The sentence pairs of a seq2seq run: the numbers task, or a registered translation dataset (Tatoeba).

Both give ``(source tokens, target tokens)`` pairs. The numbers' tokens are num2words' words with ``-`` and
``,`` apart (`tokenize`, joined back by `detokenize`); a dataset's are `recurrax.data.word_tokens` (d2l's
preprocessing: lowercase, a space before ``, . ! ?``), joined back with single spaces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ... import data as rd
from ._config import DataConfig
from ._numbers import Pair, detokenize, number_pair, split_numbers, tokenize

NUMBERS = "numbers"


def load_splits(cfg: DataConfig, seed: int, data_dir: str | Path | None = None) -> dict[str, list[Pair]]:
    """``train``, ``valid`` and ``test`` pairs as `DataConfig` describes; ``seed`` draws the split."""
    if cfg.dataset == NUMBERS:
        train, test = split_numbers(cfg.max_number, cfg.train_size, cfg.test_size, seed)
        numbers = {"train": train[cfg.valid_size :], "valid": train[: cfg.valid_size], "test": test}
        return {name: [number_pair(int(n)) for n in drawn] for name, drawn in numbers.items()}
    wanted = cfg.train_size + cfg.test_size
    pairs = rd.load_pairs(cfg.dataset, max_pairs=wanted, data_dir=data_dir)
    if len(pairs) < wanted:
        raise ValueError(f"dataset {cfg.dataset!r} has {len(pairs)} pairs; train_size + test_size = {wanted}")
    order = np.random.default_rng(seed).permutation(wanted)
    chosen = {
        "train": order[cfg.valid_size : cfg.train_size],
        "valid": order[: cfg.valid_size],
        "test": order[cfg.train_size :],
    }
    return {name: [pairs[i] for i in indices] for name, indices in chosen.items()}


def source_tokens(dataset: str, sentence: str) -> list[str]:
    """The tokens of a source ``sentence`` as the pairs of ``dataset`` have them."""
    return tokenize(sentence) if dataset == NUMBERS else rd.word_tokens(sentence)


def target_text(dataset: str, tokens: list[str]) -> str:
    """Target tokens as text: `detokenize` for the numbers, joined by spaces for a dataset."""
    return detokenize(tokens) if dataset == NUMBERS else " ".join(tokens)
