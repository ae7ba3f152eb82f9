"""Character- and word-level tokenizers with an unknown token, saved as JSON with every checkpoint.

Both map text to ``int32`` ids and back. Id 0 is always the unknown token, so text that the vocabulary never
saw (a validation split, a sampling prime) still encodes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

_WORD = re.compile(r"\S+|\n")


class CharTokenizer:
    """One token per character; ``vocab[0]`` is ``unk`` (U+FFFD by default), the rest sorted.

    ``decode(encode(text)) == text`` for text made of the vocabulary's characters; any other character
    becomes ``unk``.

    Example:
        >>> tok = CharTokenizer.fit("hello")
        >>> tok.vocab[1:], tok.encode("hole!").tolist(), tok.decode(tok.encode("hole!")) == "hole" + tok.unk
        (['e', 'h', 'l', 'o'], [2, 4, 3, 1, 0], True)
    """

    kind = "char"

    def __init__(self, vocab: list[str]):
        if len(set(vocab)) != len(vocab) or any(len(c) != 1 for c in vocab):
            raise ValueError("a character vocabulary must be distinct single characters")
        self.vocab = list(vocab)
        self._ids = {c: i for i, c in enumerate(self.vocab)}

    @classmethod
    def fit(cls, text: str | Iterable[str], unk: str = "\ufffd") -> CharTokenizer:
        """The vocabulary of ``text`` (a string or several documents): ``[unk] + sorted(characters)``."""
        chars = set(text) if isinstance(text, str) else set().union(*map(set, text))
        return cls([unk] + sorted(chars - {unk}))

    @property
    def unk(self) -> str:
        return self.vocab[0]

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> np.ndarray:
        """``[N]`` int32 ids, one per character."""
        return np.fromiter((self._ids.get(c, 0) for c in text), np.int32, len(text))

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.vocab[int(i)] for i in np.asarray(ids).reshape(-1))

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict; `tokenizer_from_json` rebuilds the tokenizer."""
        return {"kind": self.kind, "vocab": self.vocab}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CharTokenizer:
        return cls(data["vocab"])


class WordTokenizer:
    """Words are runs of non-space characters, and every newline is the token ``eos`` (``<eos>``), as in the
    word-level Penn Treebank setup (Mikolov et al. 2010; Zaremba et al. 2014).

    ``vocab[0]`` is ``unk`` (``<unk>``); the others are the ``max_vocab`` most frequent words (ties broken
    alphabetically) seen at least ``min_freq`` times. Decoding joins words with one space and ``eos`` with a
    newline, so ``decode(encode(text)) == text`` for text with single spaces between words, none around
    newlines, and only known words.

    Example:
        >>> tok = WordTokenizer.fit("the cat\\nthe dog\\n", min_freq=2)
        >>> tok.vocab, tok.decode(tok.encode("the cat\\n"))
        (['<unk>', '<eos>', 'the'], 'the <unk>\\n')
    """

    kind = "word"

    def __init__(self, vocab: list[str], unk: str = "<unk>", eos: str = "<eos>"):
        if len(set(vocab)) != len(vocab) or not vocab or vocab[0] != unk or eos not in vocab:
            raise ValueError(f"a word vocabulary must be distinct words, start with {unk!r} and hold {eos!r}")
        self.vocab, self.unk, self.eos = list(vocab), unk, eos
        self._ids = {w: i for i, w in enumerate(self.vocab)}

    @classmethod
    def fit(
        cls,
        text: str | Iterable[str],
        *,
        max_vocab: int | None = None,
        min_freq: int = 1,
        unk: str = "<unk>",
        eos: str = "<eos>",
    ) -> WordTokenizer:
        """The vocabulary of ``text`` (a string or several documents); ``max_vocab`` counts ``unk`` and
        ``eos``."""
        documents = [text] if isinstance(text, str) else list(text)
        counts = Counter(w if w != "\n" else eos for doc in documents for w in _WORD.findall(doc))
        counts.pop(unk, None)
        counts.pop(eos, None)
        words = sorted((w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w))
        if max_vocab is not None:
            if max_vocab < 2:
                raise ValueError(f"max_vocab must be >= 2 (unk and eos), got {max_vocab}")
            words = words[: max_vocab - 2]
        return cls([unk, eos] + words, unk=unk, eos=eos)

    def __len__(self) -> int:
        return len(self.vocab)

    def tokens(self, text: str) -> list[str]:
        """The words of ``text``, newlines as ``eos``."""
        return [self.eos if w == "\n" else w for w in _WORD.findall(text)]

    def encode(self, text: str) -> np.ndarray:
        """``[N]`` int32 ids, one per word or newline."""
        return np.array([self._ids.get(w, 0) for w in self.tokens(text)], np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        pieces: list[str] = []
        for i in np.asarray(ids).reshape(-1):
            word = self.vocab[int(i)]
            if word == self.eos:
                pieces.append("\n")
            else:
                pieces.append(word if not pieces or pieces[-1] == "\n" else " " + word)
        return "".join(pieces)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict; `tokenizer_from_json` rebuilds the tokenizer."""
        return {"kind": self.kind, "vocab": self.vocab, "unk": self.unk, "eos": self.eos}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WordTokenizer:
        return cls(data["vocab"], unk=data["unk"], eos=data["eos"])


Tokenizer = CharTokenizer | WordTokenizer


def tokenizer_from_json(data: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from its ``to_json()`` dict (as stored in a checkpoint's ``meta.json``)."""
    kinds = {"char": CharTokenizer, "word": WordTokenizer}
    if data.get("kind") not in kinds:
        raise ValueError(f"unknown tokenizer kind {data.get('kind')!r}; expected one of {sorted(kinds)}")
    return kinds[data["kind"]].from_json(data)
