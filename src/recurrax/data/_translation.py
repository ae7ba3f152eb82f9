"""Sentence-pair datasets for machine translation, registered at import.

| name            | pairs                          | source                                                    |
|-----------------|--------------------------------|-----------------------------------------------------------|
| tatoeba_fra_eng | English -> French, ~167k pairs | Tatoeba via manythings.org, the copy on d2l's data hub    |

A translation dataset's reader returns its raw tab-separated text as one document (one pair a line: source,
target, and possibly more columns such as an attribution, which are ignored); `load_pairs` parses it into
word tokens with `word_tokens`, the preprocessing of Dive into Deep Learning (Zhang et al., sec. "Machine
Translation and the Dataset"). The file is in Tatoeba's order, shortest sentences first.

The checksum is the sha1 d2l publishes with the file (``d2l.DATA_HUB['fra-eng']``); no sha256 is published.

    >>> word_tokens("Va\\u202fvite\\xa0! Je l'ai vu,   Tom.")
    ['va', 'vite', '!', 'je', "l'ai", 'vu', ',', 'tom', '.']
    >>> parse_pairs("Go.\\tVa !\\tCC-BY 2.0 (France) Attribution: tatoeba.org\\nHi.\\tSalut.\\n")
    [(['go', '.'], ['va', '!']), (['hi', '.'], ['salut', '.'])]
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ._registry import DataFile, DatasetSpec, dataset_spec, load_text, register_dataset
from ._sources import UrlSource

Pair = tuple[list[str], list[str]]

_D2L_FRA_ENG = "http://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip"
_PUNCTUATION = ",.!?"


def preprocess_nmt(text: str) -> str:
    """d2l's ``preprocess_nmt``: non-breaking spaces (U+202F, U+00A0) become spaces, the text is lowercased,
    and a space is put before each of ``, . ! ?`` that does not already follow a space."""
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    return "".join(
        " " + char if i > 0 and char in _PUNCTUATION and text[i - 1] != " " else char for i, char in enumerate(text)
    )


def word_tokens(sentence: str) -> list[str]:
    """The words of a `preprocess_nmt`-ed sentence, split at spaces (empty tokens dropped)."""
    return [token for token in preprocess_nmt(sentence).split(" ") if token]


def parse_pairs(text: str, max_pairs: int | None = None) -> list[Pair]:
    """``(source tokens, target tokens)`` for each line ``source<TAB>target[<TAB>...]`` of ``text``, in order;
    the first ``max_pairs`` (None: all). Lines with fewer than two columns, or a side without tokens, are
    skipped."""
    pairs = []
    for line in text.split("\n"):
        if max_pairs is not None and len(pairs) >= max_pairs:
            break
        columns = line.split("\t")
        if len(columns) < 2:
            continue
        source, target = word_tokens(columns[0]), word_tokens(columns[1])
        if source and target:
            pairs.append((source, target))
    return pairs


def read_fra_eng(folder: Path, split: str | None) -> list[str]:
    """``fra-eng/fra.txt`` from the zip, as one document."""
    with zipfile.ZipFile(folder / "fra-eng.zip") as archive:
        return [archive.read("fra-eng/fra.txt").decode("utf-8")]


def load_pairs(
    dataset: str | DatasetSpec = "tatoeba_fra_eng",
    *,
    max_pairs: int | None = None,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
) -> list[Pair]:
    """The first ``max_pairs`` sentence pairs (None: all) of a translation dataset, as word tokens.

    The files are found (or downloaded and verified) as `recurrax.data.get` does.

    Example:
        >>> pairs = load_pairs("tatoeba_fra_eng", max_pairs=2)  # doctest: +SKIP
        >>> pairs  # doctest: +SKIP
        [(['go', '.'], ['va', '!']), (['hi', '.'], ['salut', '!'])]
    """
    spec = dataset_spec(dataset)
    if spec.kind != "translation":
        raise ValueError(f"dataset {spec.name!r} is not a translation dataset (kind {spec.kind!r})")
    text = load_text(spec, data_dir=data_dir, cache_dir=cache_dir, download=download)
    return parse_pairs(text, max_pairs)


TRANSLATION_DATASETS = (
    DatasetSpec(
        name="tatoeba_fra_eng",
        description="English-French sentence pairs from Tatoeba (manythings.org, d2l's copy), shortest first",
        files=(
            DataFile(
                "fra-eng.zip", sources=(UrlSource(_D2L_FRA_ENG),), sha1="94646ad1522d915e7b0f9296181140edcf86a4f5"
            ),
        ),
        read=read_fra_eng,
        license="CC BY 2.0 FR (Tatoeba)",
        kind="translation",
    ),
)

for _spec in TRANSLATION_DATASETS:
    register_dataset(_spec)
