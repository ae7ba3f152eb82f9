"""The text of a run, split into train / valid / test documents, and its tokenizer."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ... import data as rd
from ...data import CharTokenizer, Tokenizer, WordTokenizer
from ._config import DataConfig


@dataclass(frozen=True)
class Corpus:
    """Documents per split (``"train"``, ``"valid"``, and ``"test"`` when there is one) and ``fingerprint``,
    the sha256 of the training text (its documents joined by NUL), stored with checkpoints."""

    splits: dict[str, list[str]]
    fingerprint: str

    def num_chars(self, split: str) -> int:
        return sum(len(doc) for doc in self.splits[split])


def load_corpus(cfg: DataConfig, data_dir: str | Path | None = None) -> Corpus:
    """The corpus ``cfg`` names: ``cfg.path``, else ``cfg.dataset`` from the registry (see `recurrax.data`)."""
    if cfg.path is not None:
        splits = split_by_fraction([Path(cfg.path).read_text(encoding="utf-8")], cfg)
    else:
        spec = rd.dataset_spec(cfg.dataset)
        if spec.splits:
            splits = {split: rd.load_documents(spec, split, data_dir=data_dir) for split in spec.splits}
        else:
            splits = split_by_fraction(rd.load_documents(spec, data_dir=data_dir), cfg)
    fingerprint = hashlib.sha256("\0".join(splits["train"]).encode("utf-8")).hexdigest()
    return Corpus(splits, fingerprint)


def split_by_fraction(documents: list[str], cfg: DataConfig) -> dict[str, list[str]]:
    """Cut the documents, taken as one text, at the characters that leave ``valid_fraction`` and
    ``test_fraction`` for the last two splits (at word level, moved forward to the next whitespace). A
    document that straddles a cut is split in two. ``"test"`` is present only when ``test_fraction > 0``."""
    total = sum(len(doc) for doc in documents)
    cuts = [int(total * (1 - cfg.valid_fraction - cfg.test_fraction)), int(total * (1 - cfg.test_fraction))]
    if cfg.level == "word":
        text = "".join(documents)
        cuts = [m.start() if (m := re.compile(r"\s").search(text, cut)) else total for cut in cuts]
    names = ["train", "valid", "test"] if cfg.test_fraction > 0 else ["train", "valid"]
    bounds = [0, *cuts[: len(names) - 1], total]
    splits: dict[str, list[str]] = {name: [] for name in names}
    offset = 0
    for doc in documents:
        for name, lo, hi in zip(names, bounds[:-1], bounds[1:]):
            piece = doc[max(lo - offset, 0) : max(hi - offset, 0)]
            if piece:
                splits[name].append(piece)
        offset += len(doc)
    for name, docs in splits.items():
        if not docs:
            raise ValueError(f"the {name} split is empty: the text ({total} characters) is too short")
    return splits


def make_tokenizer(cfg: DataConfig, documents: list[str]) -> Tokenizer:
    """The ``cfg.level`` tokenizer fitted on ``documents`` (the training split)."""
    if cfg.level == "char":
        return CharTokenizer.fit(documents)
    return WordTokenizer.fit(documents, max_vocab=cfg.max_vocab or None, min_freq=cfg.min_freq)
