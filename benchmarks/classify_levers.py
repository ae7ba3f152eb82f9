"""Classification levers scored by cross-validation on the training cases only (the development half of issue 14).

Each lever is a partial config laid over `ClassifyConfig()` (the shipped default) with ``select.mode = "off"``,
trained on two folds of the stratified 3-fold split that ``fit`` itself uses (`cv_folds(labels, 3, seed)`) and
scored on the third; the test files are never opened (`load_raw(..., splits=("train",))`). One JSON row per
(dataset, lever, seed) is appended to ``--out``, so a stopped run keeps what it measured.

    python benchmarks/classify_levers.py --datasets gunpoint pickupgesturewiimotez --levers fcn fcn-1000 \
        --out benchmarks/results/classify_levers_dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from recurrax._host import cpu_name
from recurrax.config import from_dict, to_dict
from recurrax.tasks.classify import ClassifyConfig
from recurrax.tasks.classify._data import class_order, load_raw
from recurrax.tasks.classify._fit import candidate_config, cross_validate, cv_folds, resolve

# The budget of rounds 1-3 (300 steps at a constant rate), which every lever before round 4 changed one thing of;
# round 4's default (1000 steps, 50 warm-up steps, cosine decay) is the "-1000" levers.
ROUND3 = {"train": {"steps": 300}, "optim": {"schedule": "constant", "warmup_steps": 0}}
COSINE = {"train": {"steps": 1000}, "optim": {"schedule": "warmup_cosine", "warmup_steps": 50}}
COSINE_300 = {"train": {"steps": 300}, "optim": {"schedule": "warmup_cosine", "warmup_steps": 50}}
LEVERS: dict[str, tuple[str, dict[str, dict]]] = {
    # name: (the candidate of `CANDIDATES` it starts from, what it changes)
    "lstm": ("lstm", ROUND3),
    "lstm-1000": ("lstm", COSINE),
    "fcn": ("lstm-fcn-norm", ROUND3),
    "fcn-1000": ("lstm-fcn-norm", COSINE),
    # round 4's schedule on round 3's budget: does the selection pick at 300 steps what it picks at 1000?
    "lstm-300-cosine": ("lstm", COSINE_300),
    "fcn-300-cosine": ("lstm-fcn-norm", COSINE_300),
    "fcn-ensemble3": ("lstm-fcn-norm", {**ROUND3, "model": {"ensemble": 3}}),
    "lstm-ensemble3": ("lstm", {**ROUND3, "model": {"ensemble": 3}}),
    # InceptionTime's kernel widths (Ismail Fawaz et al. 2020: 40, 20, 10) in place of LSTM-FCN's 8, 5, 3
    "fcn-wide": ("lstm-fcn-norm", {**ROUND3, "model": {"conv_kernels": [40, 20, 10]}}),
    # the convolutions without the per-sequence normalisation, which removes each series' level and scale
    "fcn-no-norm": ("lstm-fcn-norm", {**ROUND3, "model": {"conv_norm": "none"}}),
}


def lever_config(name: str, dataset: str, seed: int) -> ClassifyConfig:
    """The default config with ``dataset``, ``seed``, the lever's candidate and its changes (each section's
    keys laid over the default's)."""
    base, changes = LEVERS[name]
    settings = to_dict(candidate_config(ClassifyConfig(), base))
    settings["data"]["dataset"], settings["train"]["seed"] = dataset, seed
    for section, values in changes.items():
        settings[section] = {**settings[section], **values}
    return from_dict(ClassifyConfig, settings)


def score_lever(name: str, dataset: str, seed: int) -> dict:
    """Mean and per-fold held-out accuracy of lever ``name`` on ``dataset``'s training cases, and seconds."""
    cfg = lever_config(name, dataset, seed)
    train = load_raw(cfg.data, splits=("train",))["train"]
    start = time.perf_counter()
    scores = cross_validate(resolve(cfg, train), train, cv_folds(train[1], 3, seed), class_order(train[1]))
    return {
        "dataset": dataset, "lever": name, "seed": seed, "cv_accuracy": scores["accuracy"],
        "fold_accuracy": scores["fold_accuracy"], "cv_loss": scores["loss"], "cases": len(train[1]),
        "seconds": time.perf_counter() - start, "machine": cpu_name(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--levers", nargs="+", default=list(LEVERS), choices=list(LEVERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/classify_levers_dev.jsonl"))
    args = parser.parse_args()
    for dataset in args.datasets:
        for seed in args.seeds:
            for name in args.levers:
                row = score_lever(name, dataset, seed)
                with args.out.open("a") as out:
                    out.write(json.dumps(row) + "\n")
                print(f"{dataset} {name} seed {seed}: CV accuracy {row['cv_accuracy']:.3f} "
                      f"({', '.join(f'{a:.3f}' for a in row['fold_accuracy'])}), {row['seconds']:.0f} s", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
