"""Classification data: cases from a registered ``.ts`` set or local ``.ts`` / ``.npz`` / ``.csv`` files, a
stratified validation split, per-feature standardisation and fixed-shape shuffled batches."""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...data import load_ts, pad_series, read_ts_file
from ._config import DataConfig


@dataclass(frozen=True)
class Cases:
    """Labelled sequences: ``xs`` ``[N, T, D]`` float32 (zero past each length), ``lengths`` ``[N]`` int32,
    ``labels`` ``[N]`` int32 class indices."""

    xs: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray

    def take(self, index: np.ndarray) -> Cases:
        return Cases(self.xs[index], self.lengths[index], self.labels[index])


@dataclass(frozen=True)
class ClassificationData:
    """The ``train`` / ``valid`` / ``test`` `Cases` (standardised), the ``classes`` (names, index order), the
    scaler (``mean``, ``std`` ``[D]``) and a ``fingerprint`` (sha256 of the raw training and test data)."""

    splits: dict[str, Cases]
    classes: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    fingerprint: str


def read_cases(path: str | Path) -> tuple[list[np.ndarray], list[str]]:
    """The series ``[T_i, D]`` and labels (as text) of a local ``.ts``, ``.npz`` or ``.csv`` file.

    ``.npz``: arrays ``xs`` ``[N, T, D]``, ``labels`` ``[N]`` and optionally ``lengths`` ``[N]``. ``.csv``: one
    case a line, the label then the values (one feature; empty cells are skipped). Refused with a
    ValueError naming the file: an ``.npz`` without those arrays (or of other shapes), a file without cases
    (``no rows``), and, naming the line, a CSV row with a label and no values or a value that is not a number.
    """
    path = Path(path)
    if path.suffix == ".ts":
        data = read_ts_file(path)
        if any(label is None for label in data.labels):
            raise ValueError(f"{path}: the .ts file has no class labels (@classLabel false)")
        return list(data.series), [str(label) for label in data.labels]
    if path.suffix == ".npz":
        with np.load(path) as arrays:
            found = {name: arrays[name] for name in arrays.files}
        xs, labels = found.get("xs"), found.get("labels")
        lengths = found.get("lengths")
        n = len(xs) if xs is not None and xs.ndim == 3 else -1
        if n < 0 or labels is None or labels.shape != (n,) or (lengths is not None and lengths.shape != (n,)):
            shown = ", ".join(f"{name} {list(array.shape)}" for name, array in found.items()) or "none"
            raise ValueError(
                f"{path}: expected arrays xs [N, T, D] and labels [N] (optional lengths [N]); found: {shown}"
            )
        if n == 0:
            raise ValueError(f"{path}: no rows")
        xs = np.asarray(xs, np.float64)
        lengths = np.full(n, xs.shape[1]) if lengths is None else lengths
        return [x[:k] for x, k in zip(xs, lengths)], [str(label) for label in labels]
    if path.suffix == ".csv":
        series, labels = [], []
        with open(path, newline="") as f:
            for line, row in enumerate(csv.reader(f), start=1):
                if not row:
                    continue
                values = [v for v in row[1:] if v.strip() != ""]
                if not values:
                    raise ValueError(f"{path}, line {line}: label {row[0].strip()!r} and no values")
                try:
                    numbers = [float(v) for v in values]
                except ValueError as error:
                    raise ValueError(f"{path}, line {line}: {error}") from None
                labels.append(row[0].strip())
                series.append(np.asarray(numbers, np.float64).reshape(-1, 1))
        if not series:
            raise ValueError(f"{path}: no rows")
        return series, labels
    raise ValueError(f"{path}: expected a .ts, .npz or .csv file")


def load_raw(
    cfg: DataConfig, data_dir: str | Path | None = None, splits: tuple[str, ...] = ("train", "test")
) -> dict[str, tuple[list[np.ndarray], list[str]]]:
    """``{"train": (series, labels), "test": ...}`` from ``cfg.path``/``cfg.test_path`` or the dataset;
    ``splits=("train",)`` reads the training cases only (the test file is not opened)."""
    if cfg.path is not None:
        raw = {"train": read_cases(cfg.path)}
        if cfg.test_path is not None and "test" in splits:
            raw["test"] = read_cases(cfg.test_path)
        return raw
    raw = {}
    for split in splits:
        data = load_ts(cfg.dataset, split, data_dir=data_dir)
        raw[split] = (list(data.series), [str(label) for label in data.labels])
    return raw


def resolved_stride(cfg: DataConfig, train_series: list[np.ndarray]) -> int:
    """The stride that ``cfg`` asks for on these training series: ``cfg.stride``, raised to
    ``ceil(T_max / max_steps)`` when the longest series has more than ``cfg.max_steps`` steps."""
    if cfg.max_steps is None:
        return cfg.stride
    longest = max(len(s) for s in train_series)
    return max(cfg.stride, math.ceil(longest / cfg.max_steps))


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, valid): ``round(fraction * n_k)`` of each class (at least 1 when it has 2 or more
    cases) drawn with ``seed``; both sorted."""
    rng = np.random.default_rng(seed)
    valid = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = min(max(round(fraction * len(members)), 1), len(members) - 1)
        valid.extend(members[:count].tolist())
    valid = np.sort(np.asarray(valid, np.int64))
    return np.setdiff1d(np.arange(len(labels)), valid), valid


def class_order(labels: list[str]) -> tuple[str, ...]:
    """The distinct labels sorted, numerically when they all are numbers (the class index order)."""
    names = set(labels)
    numeric = all(_is_number(name) for name in names)
    return tuple(sorted(names, key=float if numeric else str))


def prepare(
    raw: dict[str, tuple[list[np.ndarray], list[str]]],
    cfg: DataConfig,
    seed: int,
    classes: tuple[str, ...] | None = None,
) -> ClassificationData:
    """Standardised, padded splits from raw cases; ``classes`` fixes the class order (default: sorted
    training labels, numerically when they all are numbers). ``valid`` (a `stratified_split` of the
    training cases) exists only when ``cfg.valid_fraction > 0``; a stride > 1 (`resolved_stride`) keeps every
    ``stride``-th step of every series (the fingerprint is of the raw data)."""
    train_series, train_labels = raw["train"]
    classes = class_order(train_labels) if classes is None else classes
    index = {name: i for i, name in enumerate(classes)}
    digest = hashlib.sha256()
    for split in sorted(raw):
        for series, label in zip(*raw[split]):
            digest.update(np.ascontiguousarray(series, np.float64).tobytes() + label.encode() + b"\0")
    stride = resolved_stride(cfg, train_series)
    if stride > 1:
        raw = {split: ([s[::stride] for s in series], labels) for split, (series, labels) in raw.items()}
        train_series = raw["train"][0]
    steps = max(len(s) for series, _ in raw.values() for s in series)
    stacked = np.concatenate(train_series, axis=0)
    if cfg.normalize:
        mean, std = np.nanmean(stacked, axis=0), np.nanstd(stacked, axis=0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
    else:
        mean, std = np.zeros(stacked.shape[1]), np.ones(stacked.shape[1])
    splits = {}
    for split, (series, labels) in raw.items():
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise ValueError(f"the {split} split has classes not in the training split: {unknown[:5]}")
        scaled = [np.nan_to_num((s - mean) / std, nan=0.0) for s in series]
        xs, lengths = pad_series(scaled, steps)
        splits[split] = Cases(xs, lengths, np.asarray([index[label] for label in labels], np.int32))
    if cfg.valid_fraction > 0:
        train_index, valid_index = stratified_split(splits["train"].labels, cfg.valid_fraction, seed)
        everything = splits.pop("train")
        splits = {"train": everything.take(train_index), "valid": everything.take(valid_index), **splits}
    return ClassificationData(splits, classes, mean.astype(np.float32), std.astype(np.float32), digest.hexdigest())


def class_weights(labels: np.ndarray, num_classes: int, kind: str) -> np.ndarray:
    """``[C]`` float32: ones, or ``N / (C * N_k)`` for ``"balanced"`` (0 for a class without cases)."""
    if kind == "none":
        return np.ones(num_classes, np.float32)
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.divide(len(labels), num_classes * counts, out=np.zeros_like(counts), where=counts > 0)
    return weights.astype(np.float32)


class Batches:
    """``get_batch(i)`` for `fit`: consecutive ``batch_size`` cases of a seeded permutation per epoch
    (deterministic in ``i``; an epoch's last batch is the permutation's last ``batch_size`` cases), with the
    training ``class_weights``; every batch has the same shapes, so the train step compiles once."""

    def __init__(self, cases: Cases, batch_size: int, weights: np.ndarray, seed: int):
        self.cases, self.weights, self.seed = cases, weights, seed
        self.batch_size = min(batch_size, len(cases.labels))
        self.per_epoch = math.ceil(len(cases.labels) / self.batch_size)

    def __call__(self, index: int) -> dict[str, np.ndarray]:
        epoch, position = divmod(index, self.per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.cases.labels))
        start = min(position * self.batch_size, len(order) - self.batch_size)
        chosen = order[start : start + self.batch_size]
        picked = self.cases.take(chosen)
        return {"xs": picked.xs, "lengths": picked.lengths, "labels": picked.labels, "class_weights": self.weights}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
