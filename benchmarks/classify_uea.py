"""Sequence classification on UEA sets with their official train/test splits: test accuracy, mean +- std
over seeds.

    python benchmarks/classify_uea.py [--datasets japanesevowels basicmotions] [--seeds 0 1 2] [--out F.json]
                                      [--set section.key=value ...]

Each run is `recurrax.tasks.classify.fit_classifier` (bidirectional LSTM; `SETTINGS` gives the pooling,
sizes and regularisation; Adam), then scored on the test split. JapaneseVowels keeps the best-on-validation
checkpoint (validation: a stratified 10% of the training cases); BasicMotions (40 training cases) trains on
all of them for a fixed number of steps with dropout and augmentation (random crop to 80%, time warping,
magnitude scaling, jitter), keeps the final model, and averages an ensemble of 5 such models trained as one
program. ``--set`` overrides a setting of every run (ablations, e.g. ``--set model.ensemble=1``).
The data come from the registry (the ``aeon`` wheel; set ``RECURRAX_CACHE`` / ``RECURRAX_DATA`` to reuse a
copy). Published 1-NN DTW (dependent) test accuracy for reference: JapaneseVowels 0.949, BasicMotions 1.0
(Ruiz et al. 2021, the UEA multivariate bake-off).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from recurrax.config import from_dict, load_config, to_toml
from recurrax.tasks import classify

SETTINGS = {
    "japanesevowels": {
        "model": {"hidden_size": 128, "bidirectional": True, "pooling": "last", "dropout": 0.3},
        "data": {"batch_size": 32},
        "optim": {"lr": 3e-3, "schedule": "warmup_cosine", "warmup_steps": 50},
        "train": {"steps": 1000, "eval_every": 100, "log_every": 100, "checkpoint_every": 0},
    },
    "basicmotions": {  # 40 training cases: train on all of them, keep the final model, regularise
        "model": {"hidden_size": 64, "bidirectional": True, "pooling": "mean", "dropout": 0.3, "ensemble": 5},
        "data": {
            "batch_size": 16,
            "valid_fraction": 0.0,
            "augment_crop": 0.8,
            "augment_warp": 0.2,
            "augment_scale": 0.1,
            "augment_noise": 0.1,
        },
        "optim": {"lr": 5e-3},
        "train": {"steps": 600, "eval_every": 50, "log_every": 50, "checkpoint_every": 0},
    },
}
PUBLISHED_DTW = {"japanesevowels": 0.949, "basicmotions": 1.0}


def run(dataset: str, seed: int, root: Path, overrides: list[str] = ()) -> dict:
    settings = {section: dict(values) for section, values in SETTINGS[dataset].items()}
    settings["data"]["dataset"] = dataset
    settings["train"]["seed"] = seed
    base = root / f"{dataset}-{seed}.toml"
    base.write_text(to_toml(from_dict(classify.ClassifyConfig, settings)))
    cfg = load_config(classify.ClassifyConfig, base, overrides)
    began = time.perf_counter()
    result = classify.fit_classifier(cfg, root / f"{dataset}-{seed}", progress=False)
    return {
        "dataset": dataset,
        "seed": seed,
        "test_accuracy": result.metrics["test"]["accuracy"],
        "test_macro_f1": result.metrics["test"]["macro_f1"],
        "valid_accuracy": result.metrics.get("valid", {}).get("accuracy"),
        "seconds": time.perf_counter() - began,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--runs", type=Path, help="keep the run directories here (default: a temporary one)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a setting of every run (repeatable), e.g. --set model.cell=gru",
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.runs or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        for dataset in args.datasets:
            for seed in args.seeds:
                rows.append(run(dataset, seed, root, args.overrides))
                print(json.dumps(rows[-1]), flush=True)
    print("\n| dataset | test accuracy (mean ± std) | macro-F1 | seeds | 1-NN DTW |")
    print("|---|---|---|---|---|")
    for dataset in args.datasets:
        acc = [r["test_accuracy"] for r in rows if r["dataset"] == dataset]
        f1 = [r["test_macro_f1"] for r in rows if r["dataset"] == dataset]
        std = statistics.stdev(acc) if len(acc) > 1 else 0.0
        print(
            f"| {dataset} | {statistics.mean(acc):.4f} ± {std:.4f} | {statistics.mean(f1):.4f} | {len(acc)} | "
            f"{PUBLISHED_DTW[dataset]} |"
        )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
