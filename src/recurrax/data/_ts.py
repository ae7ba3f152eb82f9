"""The ``.ts`` time-series classification format (sktime / aeon; the UEA & UCR archives) and the UEA/UCR sets
shipped inside the ``aeon`` wheel, registered at import.

A ``.ts`` file is a header of ``@key value`` lines, then ``@data`` and one case per line: the dimensions
separated by ``:``, each a comma-separated series, and the class label last (with ``@classLabel true``)::

    @problemName Toy
    @univariate false
    @dimensions 2
    @equalLength false
    @classLabel true a b
    @data
    1.0,2.0,3.0:4.0,5.0,6.0:a
    7.0,?:8.0,9.0:b

``?`` (or ``NaN``) is a missing value, read as NaN. Series may differ in length between cases; the dimensions
of one case must have equal lengths (the variable-length sets in the archives satisfy this). Lines starting
with ``#`` are comments. The ``@timeStamps true`` form (``(t,v)`` pairs) is not supported.

| name             | classes | dims | length    | train / test | (Bagnall et al. 2018; Dau et al. 2019)    |
|------------------|---------|------|-----------|--------------|-------------------------------------------|
| japanesevowels   | 9       | 12   | 7 to 29   | 270 / 370    | Kudo et al. 1999                           |
| basicmotions     | 4       | 6    | 100       | 40 / 40      |                                           |
| gunpoint         | 2       | 1    | 150       | 50 / 150     |                                           |
| italypowerdemand | 2       | 1    | 24        | 67 / 1029    |                                           |
| acsf1            | 10      | 1    | 1460      | 100 / 100    |                                           |
| pickupgesturewiimotez | 10 | 1    | 29 to 361 | 50 / 50      |                                           |

The wheel (``pip download --no-deps aeon==1.6.0``, BSD-3-Clause; every set is checked by the wheel's sha256) is
read as a zip archive, never imported.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._registry import DataFile, DatasetSpec, load_text, register_dataset
from ._sources import WheelSource

AEON_WHEEL = "aeon-1.6.0-py3-none-any.whl"
AEON_SHA256 = "d05227086706f80111ac5fee8de4d5d3115bb3bcfd1c786c8629393055816409"
_AEON_DATA = "aeon/datasets/data"


@dataclass(frozen=True)
class TSData:
    """A parsed ``.ts`` file: ``series[i]`` ``[T_i, D]`` float64 (NaN where missing), ``labels[i]`` (str, or
    None without class labels), ``classes`` as declared by ``@classLabel``, and the header entries."""

    name: str
    series: tuple[np.ndarray, ...]
    labels: tuple[str | None, ...]
    classes: tuple[str, ...]
    header: dict[str, str]

    @property
    def num_dimensions(self) -> int:
        return self.series[0].shape[1] if self.series else 0


def parse_ts(text: str) -> TSData:
    """Parse the text of a ``.ts`` file (see the module docstring); errors name the line.

    Example:
        >>> data = parse_ts("@problemName toy\\n@dimensions 2\\n@classLabel true a b\\n@data\\n1,2:3,4:b\\n")
        >>> data.series[0].tolist(), data.labels, data.classes
        ([[1.0, 3.0], [2.0, 4.0]], ('b',), ('a', 'b'))
    """
    header: dict[str, str] = {}
    classes: tuple[str, ...] = ()
    has_labels, in_data = False, False
    series, labels = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise ValueError(f"line {number}: expected a @key header line before @data, got {line[:40]!r}")
            key, _, value = line[1:].partition(" ")
            key, value = key.lower(), value.strip()
            if key == "data":
                in_data = True
            elif key == "classlabel":
                flag, *names = value.split()
                has_labels = _flag(flag, number, key)
                classes = tuple(names)
                if has_labels and not classes:
                    raise ValueError(f"line {number}: @classLabel true must list the class labels")
            elif key == "timestamps" and _flag(value, number, key):
                raise ValueError(f"line {number}: @timeStamps true is not supported")
            else:
                header[key] = value
            continue
        parts = line.split(":")
        label = None
        if has_labels:
            label = parts.pop().strip()
            if label not in classes:
                raise ValueError(f"line {number}: class label {label!r} is not one of {list(classes)}")
        series.append(_case(parts, number, header))
        labels.append(label)
    if not in_data:
        raise ValueError("no @data line: not a .ts file")
    if not series:
        raise ValueError("the .ts file holds no cases after @data")
    dims = {s.shape[1] for s in series}
    if len(dims) != 1:
        raise ValueError(f"the cases have different numbers of dimensions: {sorted(dims)}")
    if header.get("equallength") == "true" and len({s.shape[0] for s in series}) != 1:
        raise ValueError("@equalLength true, but the series have different lengths")
    return TSData(header.get("problemname", ""), tuple(series), tuple(labels), classes, header)


def _flag(value: str, number: int, key: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ValueError(f"line {number}: @{key} must be true or false, got {value!r}")
    return value.lower() == "true"


def _case(parts: list[str], number: int, header: dict[str, str]) -> np.ndarray:
    """One case's dimensions (comma-separated values each) -> ``[T, D]``."""
    expected = 1 if header.get("univariate") == "true" else int(header.get("dimensions", len(parts)))
    if len(parts) != expected:
        raise ValueError(f"line {number}: expected {expected} dimension(s), got {len(parts)}")
    columns = []
    for part in parts:
        try:
            columns.append([math.nan if v.strip() in ("?", "") else float(v) for v in part.split(",")])
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        raise ValueError(f"line {number}: the dimensions have different lengths {sorted(lengths)}")
    return np.asarray(columns, np.float64).T


def pad_series(
    series: tuple[np.ndarray, ...] | list[np.ndarray], length: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Variable-length series ``[T_i, D]`` -> (``xs`` ``[N, T, D]`` float32 zero-padded at the end, ``lengths``
    ``[N]`` int32). ``length`` pads to at least that many steps (default: the longest series)."""
    lengths = np.asarray([len(s) for s in series], np.int32)
    steps = max(int(lengths.max()), length or 0)
    xs = np.zeros((len(series), steps, series[0].shape[1]), np.float32)
    for i, s in enumerate(series):
        xs[i, : len(s)] = s
    return xs, lengths


def load_ts(
    dataset: str,
    split: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
) -> TSData:
    """One official split (``"train"`` or ``"test"``) of a registered ``.ts`` dataset, parsed."""
    text = load_text(dataset, split, data_dir=data_dir, cache_dir=cache_dir, download=download)
    return parse_ts(text)


def read_ts_file(path: str | Path) -> TSData:
    """A local ``.ts`` file, parsed."""
    return parse_ts(Path(path).read_text(encoding="utf-8"))


def _reader(problem: str):
    def read(folder: Path, split: str | None) -> list[str]:
        with zipfile.ZipFile(folder / AEON_WHEEL) as archive:
            return [archive.read(f"{_AEON_DATA}/{problem}/{problem}_{split.upper()}.ts").decode("utf-8")]

    return read


_PROBLEMS = {
    "japanesevowels": ("JapaneseVowels", "Japanese vowels: 12 LPC cepstra, 7-29 steps, 9 speakers (270/370)"),
    "basicmotions": ("BasicMotions", "Basic motions: 6-axis accelerometer+gyroscope, 100 steps, 4 classes (40/40)"),
    "gunpoint": ("GunPoint", "GunPoint: univariate hand position, 150 steps, 2 classes (50/150)"),
    "italypowerdemand": ("ItalyPowerDemand", "Italy power demand: univariate, 24 steps, 2 classes (67/1029)"),
    "acsf1": ("ACSF1", "ACSF1: univariate appliance power, 1460 steps, 10 classes (100/100)"),
    "pickupgesturewiimotez": (
        "PickupGestureWiimoteZ",
        "Pickup gesture, Wiimote z-axis: univariate, variable length 29-361, 10 classes (50/50)",
    ),
}

for _name, (_problem, _description) in _PROBLEMS.items():
    register_dataset(
        DatasetSpec(
            name=_name,
            description=f"{_description}; .ts from the aeon wheel",
            files=(DataFile(AEON_WHEEL, AEON_SHA256, (WheelSource("aeon", "1.6.0"),)),),
            read=_reader(_problem),
            license="BSD-3-Clause (aeon); the UEA & UCR archive",
            splits=("train", "test"),
            kind="classification",
        )
    )
