"""NAB with the streaming LSTM detector (`recurrax.tasks.anomaly.online_scores`): per file, an LSTM scorer
is fitted on the probationary period only, the file streams through it (optionally learning online), and the
raw scores become [0, 1] scores by the anomaly likelihood (Ahmad et al. 2017). Scored by NAB's rules with
`recurrax.metrics.nab_corpus_score` (thresholds chosen per profile over the corpus, as NAB does).

    nice -n 5 python benchmarks/anomaly_nab_lstm.py --data-dir ../shared/data --out runs/nab_lstm.json
    python benchmarks/anomaly_nab_lstm.py --kind nll --learn-every 32 --every 6   # a quick look

Raw scores are cached per model setting (``--cache``), so likelihood settings can be compared without
training again. Every setting tried is printed with its three profile scores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

from recurrax.data import load_nab
from recurrax.metrics import nab_corpus_score
from recurrax.tasks.anomaly import ScorerConfig, anomaly_likelihood, log_likelihood_score, novelty_score, online_scores
from recurrax.train import OptimConfig, TrainConfig

PROFILES = ("standard", "reward_low_fp", "reward_low_fn")


def nab_csv_round_trip(scores: np.ndarray) -> np.ndarray:
    """Scores as NAB's results files hold them (12 significant digits), as benchmarks/anomaly_nab.py does."""
    return np.array([float(f"{value:.12g}") for value in scores], np.float64)


def raw_scores(corpus, args) -> dict[str, np.ndarray]:
    """Raw LSTM scores of every file (cached in ``args.cache`` by model setting)."""
    tag = f"e{args.every}_seed{args.seed}_{args.kind}_h{args.hidden}_w{args.window}_s{args.steps}_l{args.learn_every}_lr{args.lr}"
    path = None if args.cache is None else args.cache / f"{tag}.npz"
    if path is not None and path.is_file():
        return dict(np.load(path))
    cfg = ScorerConfig(kind=args.kind, hidden_size=args.hidden, window=args.window, batch_size=args.batch)
    optim = OptimConfig(lr=args.lr)
    train = TrainConfig(steps=args.steps, log_every=args.steps, eval_every=0, seed=args.seed)
    transform = "likelihood" if args.kind == "nll" else "novelty"  # the raw scores do not depend on it
    out = {}
    start = time.perf_counter()
    for index, series in enumerate(corpus):
        _, out[series.name] = online_scores(series.values, series.probation, cfg, optim=optim, train=train,
                                            key=jax.random.key(1000 * args.seed + index), learn_every=args.learn_every, transform=transform)  # fmt: skip
        print(f"{index + 1}/{len(corpus)} {series.name} ({len(series)} points) {time.perf_counter() - start:.0f} s")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--kind", default="prediction", choices=("prediction", "nll", "reconstruction"))
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--learn-every", type=int, default=0, help="online learning step every N points; 0 = off")
    parser.add_argument("--short", type=int, action="append", help="likelihood moving average (repeatable)")
    parser.add_argument("--long", type=int, action="append", help="novelty look-back in points (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and batch order (per file)")
    parser.add_argument("--every", type=int, default=1, help="every N-th file only (a quick look)")
    parser.add_argument("--cache", type=Path, default=Path("runs/nab_lstm_cache"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    corpus = load_nab(args.data_dir)[:: args.every]
    began = time.perf_counter()
    raw = raw_scores(corpus, args)
    detect_s = time.perf_counter() - began
    settings = [("novelty", long, None) for long in args.long or [8640]] if args.kind != "nll" else []
    settings += [("likelihood", 8640, short) for short in args.short or [1]]
    results = []
    for transform, long, short in settings:
        scores = {}
        for series in corpus:
            if transform == "novelty":
                values = novelty_score(raw[series.name], long=long)
            else:
                learning = min(args.window, series.probation)
                values = log_likelihood_score(anomaly_likelihood(raw[series.name], short=short, learning=learning))
            scores[series.name] = nab_csv_round_trip(values)
        row = {"transform": transform, "long": long, "short": short}
        for profile in PROFILES:
            result = nab_corpus_score(scores, corpus, profile)
            row[profile], row[f"{profile}_threshold"] = result.score, result.threshold
        results.append(row)
        print(f"{transform} long {long} short {short}: " + ", ".join(f"{p} {row[p]:.2f}" for p in PROFILES))
    print(f"{len(corpus)} files, {sum(len(s) for s in corpus)} points; raw scores in {detect_s:.0f} s")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "detect_s": detect_s,
                                        "results": results}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
