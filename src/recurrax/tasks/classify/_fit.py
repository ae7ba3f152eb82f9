"""`fit_classifier`: derived defaults, the choice among candidate settings by cross-validation on the training
cases (`select_setting`, the ``select`` section), then the run on every training case.

The order inside `fit_on_raw` (also what the benchmark evaluator runs, so development and test scores measure
exactly what a user's ``recurrax classify fit`` does):

1. `select_setting`: with ``select.mode = "cv"`` and fewer than ``select.max_cases`` training cases, each
   candidate of ``select.candidates`` is scored by stratified ``select.folds``-fold cross-validation on the
   training cases only, and the best one becomes the config;
2. `resolve` (of each candidate, and of the config trained): settings derived from the training cases (the
   stride that ``data.max_steps`` asks for, of the input or of the recurrent stack alone);
3. the run itself (`train_classifier`) on every training case with that config; ``selection.json`` and
   ``report.md`` say which candidate won and by how much.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ...config import from_dict, to_dict, to_toml
from ...train import start_run_dir
from ._config import CANDIDATES, ClassifyConfig
from ._data import class_order, load_raw, prepare, resolved_stride
from ._run import ClassifyRun, train_classifier

Raw = tuple[list[np.ndarray], list[str]]
SELECTION_FILE = "selection.json"


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


def fold_raw(train: Raw, held_out: np.ndarray) -> dict[str, Raw]:
    """``{"train": the other cases, "test": the held-out ones}`` of raw training cases."""
    keep = np.setdiff1d(np.arange(len(train[1])), held_out)
    return {
        "train": ([train[0][i] for i in keep], [train[1][i] for i in keep]),
        "test": ([train[0][i] for i in held_out], [train[1][i] for i in held_out]),
    }


def resolve(cfg: ClassifyConfig, train: Raw) -> ClassifyConfig:
    """``cfg`` with the settings derived from the training cases written in (so prediction applies them to
    raw input): the stride that ``data.max_steps`` asks for (`resolved_stride`) becomes ``data.stride``;
    with a convolution branch (``model.conv_channels``) it becomes ``model.rnn_stride`` instead (and
    ``data.max_steps`` None), so only the recurrent stack reads the shortened series and the convolutions
    keep every step. Idempotent."""
    stride = resolved_stride(cfg.data, train[0])
    if not cfg.model.conv_channels or stride == cfg.data.stride:
        return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, stride=stride))
    longest = -(-max(len(s) for s in train[0]) // cfg.data.stride)
    rnn_stride = max(cfg.model.rnn_stride, -(-longest // cfg.data.max_steps))
    return dataclasses.replace(
        cfg,
        model=dataclasses.replace(cfg.model, rnn_stride=rnn_stride),
        data=dataclasses.replace(cfg.data, max_steps=None),
    )


def candidate_config(cfg: ClassifyConfig, name: str) -> ClassifyConfig:
    """``cfg`` with the candidate ``name`` of `CANDIDATES` laid over it and ``select.mode = "off"``."""
    settings = to_dict(cfg)
    for section, values in CANDIDATES[name].items():
        settings[section] = {**settings[section], **values}
    settings["select"] = {**settings["select"], "mode": "off"}
    return from_dict(ClassifyConfig, settings)


def cross_validate(
    cfg: ClassifyConfig, train: Raw, folds: list[np.ndarray], classes: tuple[str, ...]
) -> dict[str, Any]:
    """``cfg`` (resolved, ``select.mode = "off"``) trained on all but one of ``folds`` of the raw training cases
    and scored on that one, for each fold (run directories in a scratch folder): mean ``accuracy``, mean
    ``loss`` and the per-fold ``fold_accuracy``."""
    per_fold = []
    with tempfile.TemporaryDirectory(prefix="recurrax-select-") as scratch:
        for index, held_out in enumerate(folds):
            data = prepare(fold_raw(train, held_out), cfg.data, cfg.train.seed, classes)
            run_dir = start_run_dir(Path(scratch) / f"fold{index}", to_toml(cfg), False)
            per_fold.append(train_classifier(cfg, data, run_dir, progress=False).metrics["test"])
    return {
        "accuracy": statistics.fmean(m["accuracy"] for m in per_fold),
        "loss": statistics.fmean(m["loss"] for m in per_fold),
        "fold_accuracy": [m["accuracy"] for m in per_fold],
    }


def select_setting(
    cfg: ClassifyConfig, train: Raw, classes: tuple[str, ...] | None = None
) -> tuple[ClassifyConfig, dict[str, Any] | None]:
    """(the config to train, the selection record or None) for raw training cases ``train``.

    Runs only when ``cfg.select.mode == "cv"``, there are fewer than ``select.max_cases`` cases and more than
    one candidate; otherwise returns ``cfg`` as it is. The record: ``candidates`` (name -> mean ``accuracy``,
    mean ``loss`` and per-fold accuracies), ``picked``, ``folds``, ``cases``, ``margin`` (the winner's mean
    accuracy minus the runner-up's). Candidates are cross-validated as single models for ``select.steps`` steps
    (at most ``train.steps``; None: ``train.steps``); the winner gets ``select.members`` members (None:
    ``model.ensemble``) and ``train.steps``."""
    choice = cfg.select
    if choice.mode == "off" or len(train[1]) >= choice.max_cases or len(choice.candidates) < 2:
        return resolve(cfg, train), None
    classes = class_order(train[1]) if classes is None else classes
    folds = cv_folds(train[1], choice.folds, cfg.train.seed)
    budget = dataclasses.replace(cfg.train, steps=min(choice.steps or cfg.train.steps, cfg.train.steps))
    single = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, ensemble=1), train=budget)
    scores = {name: cross_validate(resolve(candidate_config(single, name), train), train, folds, classes)
              for name in choice.candidates}  # fmt: skip
    order = sorted(choice.candidates, key=lambda n: (-scores[n]["accuracy"], scores[n]["loss"]))
    picked = order[0]
    record = {
        "picked": picked,
        "margin": scores[picked]["accuracy"] - scores[order[1]]["accuracy"],
        "folds": choice.folds,
        "cases": len(train[1]),
        "candidates": scores,
    }
    winner = candidate_config(cfg, picked)
    if choice.members is not None:
        winner = dataclasses.replace(winner, model=dataclasses.replace(winner.model, ensemble=choice.members))
    return resolve(winner, train), record


def fit_on_raw(
    cfg: ClassifyConfig,
    raw: dict[str, Raw],
    run_dir: str | Path,
    *,
    classes: tuple[str, ...] | None = None,
    resume: bool = False,
    progress: bool = True,
) -> ClassifyRun:
    """`fit_classifier` on raw cases (``{"train": (series, labels), "test": ...}``): `select_setting` on
    ``raw["train"]`` only (each candidate `resolve`-d on it), then `train_classifier` on every training case;
    ``run_dir``'s ``config.toml`` is the config that was trained."""
    cfg, record = select_setting(cfg, raw["train"], classes)
    run_dir = start_run_dir(run_dir, to_toml(cfg), resume)
    if record is not None:
        (run_dir / SELECTION_FILE).write_text(json.dumps(record, indent=2) + "\n")
    data = prepare(raw, cfg.data, cfg.train.seed, classes)
    run = train_classifier(cfg, data, run_dir, resume=resume, progress=progress)
    if record is not None:
        _append_selection(run_dir / "report.md", record)
    run.selection = record
    return run


def fit_classifier(
    cfg: ClassifyConfig,
    run_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> ClassifyRun:
    """Train a sequence classifier as ``cfg`` says and write the run directory ``run_dir``.

    First the derived settings (`resolve`) and, for a small training set, the choice among
    ``select.candidates`` by cross-validation on the training cases (`select_setting`). Then validation
    (``loss``, ``accuracy``, ``macro_f1`` on a stratified ``valid_fraction`` of the training cases) picks the
    best checkpoint and drives early stopping; with ``data.valid_fraction = 0`` every training case trains
    for ``train.steps`` and the final model is kept. The chosen model is then evaluated on every split, with
    a confusion-matrix PNG per split and ``report.md``. Training batches go through the ``data.augment_*``
    `Augmentation`; ``model.ensemble = M > 1`` trains a `ClassifierEnsemble` whose member ``m`` is
    initialised and draws its batches as a single run with ``train.seed + m`` would.
    """
    return fit_on_raw(cfg, load_raw(cfg.data, data_dir), run_dir, resume=resume, progress=progress)


def _append_selection(path: Path, record: dict[str, Any]) -> None:
    lines = [
        "",
        f"## Setting chosen by {record['folds']}-fold cross-validation on the {record['cases']} training cases",
        "",
        "| candidate | CV accuracy | CV loss | per fold |",
        "|---|---|---|---|",
    ]
    for name, scores in record["candidates"].items():
        folds = ", ".join(f"{a:.3f}" for a in scores["fold_accuracy"])
        mark = " (picked)" if name == record["picked"] else ""
        lines.append(f"| {name}{mark} | {scores['accuracy']:.4f} | {scores['loss']:.4f} | {folds} |")
    lines += ["", f"Picked **{record['picked']}** by {record['margin']:.4f} accuracy over the runner-up.", ""]
    with open(path, "a") as f:
        f.write("\n".join(lines))
