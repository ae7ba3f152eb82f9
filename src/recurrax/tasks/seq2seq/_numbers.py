"""The numbers task: English number words -> French number words, ground truth from ``num2words``.

``4721`` -> ``"four thousand, seven hundred and twenty-one"`` -> ``"quatre mille sept cent vingt et un"``.
Tokens are words, with ``-`` and ``,`` as tokens of their own, so a token sequence decodes to the exact text.
Reordering (``vingt et un``, ``quatre-vingt-dix-sept``) and long-range agreement (``quatre-vingts`` vs
``quatre-vingt-un``, ``deux cents`` vs ``deux cent un``) make it a small test of attention.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from num2words import num2words

from ._model import BOS, EOS, PAD

SPECIALS = ("<pad>", "<bos>", "<eos>")
Pair = tuple[list[str], list[str]]  # (source tokens, target tokens)
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


def number_pair(number: int) -> Pair:
    """The tokens of ``number`` in English words and in French words."""
    return tokenize(english(number)), tokenize(french(number))


@dataclass(frozen=True)
class Vocab:
    """Tokens <-> ids; ids 0, 1, 2 are ``<pad>``, ``<bos>``, ``<eos>``. ``build``, ``encode`` and ``decode``
    work on number words (`tokenize`, `detokenize`); ``from_tokens``, ``ids`` and ``words`` on any tokens."""

    tokens: tuple[str, ...]

    @classmethod
    def from_tokens(cls, token_lists: Iterable[Sequence[str]]) -> Vocab:
        """The specials, then every token of ``token_lists``, sorted."""
        return cls(SPECIALS + tuple(sorted({token for tokens in token_lists for token in tokens})))

    @classmethod
    def build(cls, sentences: list[str]) -> Vocab:
        return cls.from_tokens(tokenize(sentence) for sentence in sentences)

    def __len__(self) -> int:
        return len(self.tokens)

    @functools.cached_property
    def index(self) -> dict[str, int]:
        """Token -> id."""
        return {token: i for i, token in enumerate(self.tokens)}

    def ids(self, tokens: Sequence[str]) -> list[int]:
        unknown = [token for token in tokens if token not in self.index]
        if unknown:
            raise ValueError(f"tokens not in the vocabulary: {unknown}")
        return [self.index[token] for token in tokens]

    def encode(self, sentence: str) -> list[int]:
        return self.ids(tokenize(sentence))

    def words(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids`` up to the first ``<eos>``, ``<pad>`` and ``<bos>`` skipped."""
        words = []
        for i in ids:
            if i == EOS:
                break
            if i not in (PAD, BOS):
                words.append(self.tokens[i])
        return words

    def decode(self, ids: list[int]) -> str:
        """Ids up to the first ``<eos>`` (``<pad>`` and ``<bos>`` skipped) -> text."""
        return detokenize(self.words(ids))


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
    """`encode_token_pairs` of the numbers' English and French words."""
    return encode_token_pairs([number_pair(int(n)) for n in numbers], source, target, src_len, tgt_len)


def encode_token_pairs(
    pairs: Sequence[Pair], source: Vocab, target: Vocab, src_len: int, tgt_len: int
) -> dict[str, np.ndarray]:
    """Padded arrays: ``src`` ``[N, src_len]``, ``src_lengths``, ``tgt_in`` ``[N, tgt_len]`` (``<bos>`` + target),
    ``tgt_out`` (target + ``<eos>``), ``tgt_lengths`` (target tokens + 1)."""
    n = len(pairs)
    arrays = {
        "src": np.zeros((n, src_len), np.int32),
        "src_lengths": np.zeros(n, np.int32),
        "tgt_in": np.zeros((n, tgt_len), np.int32),
        "tgt_out": np.zeros((n, tgt_len), np.int32),
        "tgt_lengths": np.zeros(n, np.int32),
    }
    for i, (src_tokens, tgt_tokens) in enumerate(pairs):
        src, tgt = source.ids(src_tokens), target.ids(tgt_tokens)
        if len(src) > src_len or len(tgt) + 1 > tgt_len:
            raise ValueError(f"{' '.join(src_tokens)!r}: longer than src_len={src_len} / tgt_len={tgt_len}")
        arrays["src"][i, : len(src)] = src
        arrays["src_lengths"][i] = len(src)
        arrays["tgt_in"][i, : len(tgt) + 1] = [BOS, *tgt]
        arrays["tgt_out"][i, : len(tgt) + 1] = [*tgt, EOS]
        arrays["tgt_lengths"][i] = len(tgt) + 1
    return arrays
