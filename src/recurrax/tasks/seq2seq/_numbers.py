"""The numbers task: English number words -> French number words, ground truth from ``num2words``.

``4721`` -> ``"four thousand, seven hundred and twenty-one"`` -> ``"quatre mille sept cent vingt et un"``.
Tokens are words, with ``-`` and ``,`` as tokens of their own, so a token sequence decodes to the exact text.
Reordering (``vingt et un``, ``quatre-vingt-dix-sept``) and long-range agreement (``quatre-vingts`` vs
``quatre-vingt-un``, ``deux cents`` vs ``deux cent un``) make it a small test of attention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from num2words import num2words

from ._model import BOS, EOS, PAD

SPECIALS = ("<pad>", "<bos>", "<eos>")
_TOKEN = re.compile(r"[^\s,\-]+|[,\-]")


def tokenize(text: str) -> list[str]:
    """Words, ``-`` and ``,`` as tokens: ``"twenty-one"`` -> ``["twenty", "-", "one"]``."""
    return _TOKEN.findall(text)


def detokenize(tokens: list[str]) -> str:
    """The inverse of `tokenize` for num2words' spelling: no space around ``-``, none before ``,``."""
    text = " ".join(tokens)
    return text.replace(" - ", "-").replace(" ,", ",")


def english(number: int) -> str:
    return num2words(number, lang="en")


def french(number: int) -> str:
    return num2words(number, lang="fr")


@dataclass(frozen=True)
class Vocab:
    """Tokens <-> ids; ids 0, 1, 2 are ``<pad>``, ``<bos>``, ``<eos>``."""

    tokens: tuple[str, ...]

    @classmethod
    def build(cls, sentences: list[str]) -> Vocab:
        words = sorted({token for sentence in sentences for token in tokenize(sentence)})
        return cls(SPECIALS + tuple(words))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, sentence: str) -> list[int]:
        index = {token: i for i, token in enumerate(self.tokens)}
        unknown = [token for token in tokenize(sentence) if token not in index]
        if unknown:
            raise ValueError(f"tokens not in the vocabulary: {unknown}")
        return [index[token] for token in tokenize(sentence)]

    def decode(self, ids: list[int]) -> str:
        """Ids up to the first ``<eos>`` (``<pad>`` and ``<bos>`` skipped) -> text."""
        words = []
        for i in ids:
            if i == EOS:
                break
            if i not in (PAD, BOS):
                words.append(self.tokens[i])
        return detokenize(words)


def split_numbers(max_number: int, train_size: int, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint random numbers from ``[0, max_number)``: ``train_size`` to train on, ``test_size`` unseen ones,
    each in random order (so any prefix is a random subset)."""
    if train_size + test_size > max_number:
        raise ValueError(f"train_size + test_size = {train_size + test_size} exceeds the {max_number} numbers")
    drawn = np.random.default_rng(seed).permutation(max_number)
    return drawn[:train_size], drawn[train_size : train_size + test_size]


def encode_pairs(
    numbers: np.ndarray, source: Vocab, target: Vocab, src_len: int, tgt_len: int
) -> dict[str, np.ndarray]:
    """Padded arrays: ``src`` ``[N, src_len]``, ``src_lengths``, ``tgt_in`` ``[N, tgt_len]`` (``<bos>`` + target),
    ``tgt_out`` (target + ``<eos>``), ``tgt_lengths`` (target tokens + 1)."""
    n = len(numbers)
    arrays = {
        "src": np.zeros((n, src_len), np.int32),
        "src_lengths": np.zeros(n, np.int32),
        "tgt_in": np.zeros((n, tgt_len), np.int32),
        "tgt_out": np.zeros((n, tgt_len), np.int32),
        "tgt_lengths": np.zeros(n, np.int32),
    }
    for i, number in enumerate(numbers):
        src, tgt = source.encode(english(int(number))), target.encode(french(int(number)))
        if len(src) > src_len or len(tgt) + 1 > tgt_len:
            raise ValueError(f"{number}: longer than src_len={src_len} / tgt_len={tgt_len}")
        arrays["src"][i, : len(src)] = src
        arrays["src_lengths"][i] = len(src)
        arrays["tgt_in"][i, : len(tgt) + 1] = [BOS, *tgt]
        arrays["tgt_out"][i, : len(tgt) + 1] = [*tgt, EOS]
        arrays["tgt_lengths"][i] = len(tgt) + 1
    return arrays
