"""English -> French number words: exact-match accuracy on unseen numbers, with and without attention.

    python benchmarks/seq2seq_numbers.py [--attention additive general none] [--steps 1000] [--out F.json]

Each run is `recurrax.tasks.seq2seq.fit_seq2seq`: numbers drawn from [0, 100000), ``--train`` of them to
train on (``valid_size`` held out for the best checkpoint) and 2000 other ones to test; greedy and beam-4
exact match on the test numbers, and greedy exact match on the long inputs (``long_from`` = 10 or more
English tokens, e.g. "seventy-seven thousand, seven hundred and seventy-seven").
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from recurrax.config import from_dict
from recurrax.tasks import seq2seq


def run(attention: str, args: argparse.Namespace, root: Path) -> dict:
    cfg = from_dict(
        seq2seq.Seq2SeqConfig,
        {
            "model": {"attention": attention, "embed_size": 64, "hidden_size": args.hidden},
            "data": {"train_size": args.train, "test_size": 2000, "valid_size": 500, "batch_size": 64},
            "optim": {"lr": 3e-3, "schedule": "warmup_cosine", "warmup_steps": 100, "min_lr_ratio": 0.05},
            "train": {"steps": args.steps, "eval_every": max(args.steps // 5, 1), "log_every": 100,
                      "checkpoint_every": 0, "seed": args.seed},
        },
    )  # fmt: skip
    began = time.perf_counter()
    result = seq2seq.fit_seq2seq(cfg, root / attention, progress=False)
    return {"attention": attention, **result.metrics, "steps": args.steps, "seconds": time.perf_counter() - began}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attention", nargs="+", default=["additive", "general", "none"])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--runs", type=Path, help="keep the run directories here (default: a temporary one)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.runs or Path(tmp)
        for attention in args.attention:
            rows.append(run(attention, args, root))
            print(json.dumps(rows[-1]), flush=True)
    print("\n| attention | exact match (greedy) | exact match (beam 4) | long inputs (greedy) | seconds |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['attention']} | {r['exact_match']:.4f} | {r['beam_exact_match']:.4f} | "
              f"{r['long_exact_match']:.4f} ({r['long_count']}) | {r['seconds']:.0f} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
