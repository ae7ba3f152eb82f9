"""The classification evaluator of benchmark protocols (`recurrax.lifecycle`'s ``recurrax benchmark``).

``split="dev"``: stratified ``cv_folds``-fold cross-validation on the **training cases only** (the test
file is never read): each fold trains on the other folds' cases and scores its own; the result is the mean
over folds. ``split="test"``: one run on every training case, scored on the test split.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np

from ...config import from_dict, to_toml
from ...train import start_run_dir
from ._config import ClassifyConfig
from ._data import class_order, load_raw, prepare
from ._run import train_classifier


def cv_folds(labels: list[str], folds: int, seed: int) -> list[np.ndarray]:
    """``folds`` disjoint index arrays covering every case, each class dealt round-robin after a seeded
    shuffle (stratified k-fold)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    out: list[list[int]] = [[] for _ in range(folds)]
    offset = 0
    for label in sorted(set(labels.tolist())):
        members = rng.permutation(np.flatnonzero(labels == label))
        for i, index in enumerate(members):
            out[(offset + i) % folds].append(int(index))
        offset += len(members)
    return [np.sort(np.asarray(fold, np.int64)) for fold in out]


def evaluate_protocol(
    config: dict[str, Any],
    *,
    split: str,
    seed: int,
    fold: int,
    folds: int,
    workdir: Path,
    data_dir: Path | None,
) -> dict[str, float]:
    """`recurrax.lifecycle.Evaluator` for classification: ``config`` holds the `ClassifyConfig` sections and
    ``cv_folds`` (default 5: the development folds); returns ``accuracy``, ``macro_f1`` and ``loss``."""
    settings = dict(config)
    k = settings.pop("cv_folds", 5)
    cfg = from_dict(ClassifyConfig, {**settings, "train": {**settings.get("train", {}), "seed": seed}})
    if split == "test":
        raw = load_raw(cfg.data, data_dir)
        if "test" not in raw:
            raise ValueError("the test split of a classification protocol needs data.dataset or data.test_path")
        return _scores(cfg, raw, workdir / "run")
    train = load_raw(cfg.data, data_dir, splits=("train",))["train"]
    classes = class_order(train[1])
    results = []
    for index, held_out in enumerate(cv_folds(train[1], k, seed)):
        keep = np.setdiff1d(np.arange(len(train[1])), held_out)
        raw = {
            "train": ([train[0][i] for i in keep], [train[1][i] for i in keep]),
            "test": ([train[0][i] for i in held_out], [train[1][i] for i in held_out]),
        }
        results.append(_scores(cfg, raw, workdir / f"cv{index}", classes))
    return {key: statistics.fmean(r[key] for r in results) for key in results[0]}


def _scores(cfg: ClassifyConfig, raw: dict, run_dir: Path, classes: tuple[str, ...] | None = None) -> dict:
    data = prepare(raw, cfg.data, cfg.train.seed, classes)
    run = train_classifier(cfg, data, start_run_dir(run_dir, to_toml(cfg), False), progress=False)
    return {key: float(run.metrics["test"][key]) for key in ("accuracy", "macro_f1", "loss")}
