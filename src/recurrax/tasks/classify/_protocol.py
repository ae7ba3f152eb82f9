"""The classification evaluator of benchmark protocols (`recurrax.lifecycle`'s ``recurrax benchmark``).

``split="dev"``: stratified ``cv_folds``-fold cross-validation on the **training cases only** (the test
file is never read): each fold trains on the other folds' cases and scores its own; the result is the mean
over folds. ``split="test"``: one run on every training case, scored on the test split. Each run is
`fit_on_raw`, what ``recurrax classify fit`` runs, so a config with ``select.mode = "cv"`` makes its own
choice by an inner cross-validation on the run's training cases (nested cross-validation under ``dev``).
A protocol's config is read as a checkpoint's is (`legacy_config`): an option it does not name that was added
after protocols were first frozen (``model.input_norm``, ``data.max_steps``, ``select``) keeps its old value,
so a frozen protocol measures what it measured when it was written.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ...config import from_dict
from ._config import ClassifyConfig
from ._data import class_order, load_raw
from ._fit import cv_folds, fit_on_raw, fold_raw
from ._run import legacy_config


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
    cfg = from_dict(ClassifyConfig, legacy_config({**settings, "train": {**settings.get("train", {}), "seed": seed}}))
    if split == "test":
        raw = load_raw(cfg.data, data_dir)
        if "test" not in raw:
            raise ValueError("the test split of a classification protocol needs data.dataset or data.test_path")
        return _scores(cfg, raw, workdir / "run")
    train = load_raw(cfg.data, data_dir, splits=("train",))["train"]
    classes = class_order(train[1])
    results = []
    for index, held_out in enumerate(cv_folds(train[1], k, seed)):
        results.append(_scores(cfg, fold_raw(train, held_out), workdir / f"cv{index}", classes))
    return {key: statistics.fmean(r[key] for r in results) for key in results[0]}


def _scores(cfg: ClassifyConfig, raw: dict, run_dir: Path, classes: tuple[str, ...] | None = None) -> dict:
    run = fit_on_raw(cfg, raw, run_dir, classes=classes, progress=False)
    return {key: float(run.metrics["test"][key]) for key in ("accuracy", "macro_f1", "loss")}
