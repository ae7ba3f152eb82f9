"""Sequence classification on UEA sets with their official train/test splits: test accuracy, mean +- std
over seeds.

    python benchmarks/classify_uea.py [--datasets japanesevowels basicmotions] [--seeds 0 1 2] [--out F.json]

Each run is `recurrax.tasks.classify.fit_classifier` (bidirectional LSTM; `SETTINGS` gives the pooling and
sizes; Adam; the best-on-validation checkpoint, validation being a stratified 10% of the training cases),
then scored on the test split.
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

from recurrax.config import from_dict
from recurrax.tasks import classify

SETTINGS = {
    "japanesevowels": {
        "model": {"hidden_size": 128, "bidirectional": True, "pooling": "last", "dropout": 0.3},
        "data": {"batch_size": 32},
        "optim": {"lr": 3e-3, "schedule": "warmup_cosine", "warmup_steps": 50},
        "train": {"steps": 1000, "eval_every": 100, "log_every": 100, "checkpoint_every": 0},
    },
    "basicmotions": {
        "model": {"hidden_size": 64, "bidirectional": True, "pooling": "mean"},
        "data": {"batch_size": 16, "valid_fraction": 0.1},
        "optim": {"lr": 5e-3},
        "train": {"steps": 600, "eval_every": 50, "log_every": 50, "checkpoint_every": 0},
    },
}
PUBLISHED_DTW = {"japanesevowels": 0.949, "basicmotions": 1.0}


def run(dataset: str, seed: int, root: Path) -> dict:
    settings = {section: dict(values) for section, values in SETTINGS[dataset].items()}
    settings["data"]["dataset"] = dataset
    settings["train"]["seed"] = seed
    cfg = from_dict(classify.ClassifyConfig, settings)
    began = time.perf_counter()
    result = classify.fit_classifier(cfg, root / f"{dataset}-{seed}", progress=False)
    return {
        "dataset": dataset,
        "seed": seed,
        "test_accuracy": result.metrics["test"]["accuracy"],
        "test_macro_f1": result.metrics["test"]["macro_f1"],
        "valid_accuracy": result.metrics["valid"]["accuracy"],
        "seconds": time.perf_counter() - began,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--runs", type=Path, help="keep the run directories here (default: a temporary one)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.runs or Path(tmp)
        for dataset in args.datasets:
            for seed in args.seeds:
                rows.append(run(dataset, seed, root))
                print(json.dumps(rows[-1]), flush=True)
    print("\n| dataset | test accuracy (mean ± std) | macro-F1 | seeds | 1-NN DTW |")
    print("|---|---|---|---|---|")
    for dataset in args.datasets:
        acc = [r["test_accuracy"] for r in rows if r["dataset"] == dataset]
        f1 = [r["test_macro_f1"] for r in rows if r["dataset"] == dataset]
        std = statistics.stdev(acc) if len(acc) > 1 else 0.0
        print(f"| {dataset} | {statistics.mean(acc):.4f} ± {std:.4f} | {statistics.mean(f1):.4f} | {len(acc)} | "
              f"{PUBLISHED_DTW[dataset]} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
