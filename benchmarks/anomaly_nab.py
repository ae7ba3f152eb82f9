"""NAB benchmark: a detector over the full Numenta Anomaly Benchmark corpus (58 files, 116 windows), scored
under NAB's rules (`recurrax.metrics.nab_corpus_score`) for the three profiles, beside NAB's published
scoreboard.

A detector is a callable ``series -> scores`` (a `recurrax.data.NabSeries` in, float64 ``[T]`` in [0, 1]
out) that must be online: the score of point ``t`` may use only points ``<= t`` of the same file, as NAB
requires. The threshold is chosen per profile over the whole corpus (NAB's optimiser); the first 15% of each
file (at most 750 points) is not scored. Add a detector by adding an entry to `DETECTORS`.

NAB scores detectors from results CSVs that its Python 2 tooling wrote with 12 significant digits, so a score of
1 - 2e-13 became 1.0 there. By default the scores are rounded the same way (``--full-precision`` turns it off),
which makes the comparison with the published table like for like: with it our windowed-Gaussian detector
reproduces NAB's published per-file scores and counts exactly (raw standard score -24.0131; 39.6 / 20.9 / 47.4).

    python benchmarks/anomaly_nab.py --detector windowed_gaussian --out runs/nab_wg.json
    python benchmarks/anomaly_nab.py --detector windowed_gaussian --detector random --detector null
    RECURRAX_DATA=../shared/data python benchmarks/anomaly_nab.py   # default: every detector in DETECTORS
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from recurrax.data import NabSeries, load_nab
from recurrax.metrics import NAB_PROFILES, nab_corpus_score
from recurrax.tasks.anomaly import nab_lstm_scores, null_scores, random_scores, windowed_gaussian_scores

DETECTORS: dict[str, Callable[[NabSeries], np.ndarray]] = {
    "windowed_gaussian": lambda series: windowed_gaussian_scores(series.values),
    "random": lambda series: random_scores(series.values, seed=42),
    "null": lambda series: null_scores(series.values),
    "lstm": lambda series: nab_lstm_scores(series.values, series.probation),
}

# NAB README scoreboard (v1.0/v1.1; ARTime from the v1.1 scoreboard, standard profile only here).
PUBLISHED: dict[str, tuple[float | None, float | None, float | None]] = {
    "ARTime": (74.9, None, None),
    "Numenta HTM": (70.5, 62.6, 75.2),
    "CAD OSE": (69.9, 67.0, 73.2),
    "KNN CAD": (58.0, 43.4, 64.8),
    "Random Cut Forest": (51.7, 38.4, 59.7),
    "Twitter ADVec": (47.1, 33.6, 53.5),
    "Windowed Gaussian": (39.6, 20.9, 47.4),
    "Random": (11.0, 1.2, 19.5),
    "Null": (0.0, 0.0, 0.0),
}
PROFILES = ("standard", "reward_low_fp", "reward_low_fn")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").is_file():
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), cpu)
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def nab_csv_round_trip(scores: np.ndarray) -> np.ndarray:
    """Scores as NAB's results files hold them: Python 2 ``str(float)``, 12 significant digits."""
    return np.array([float(f"{value:.12g}") for value in scores], np.float64)


def run_detector(name: str, corpus: list[NabSeries], full_precision: bool = False) -> dict:
    """Scores every file with detector ``name`` and scores the corpus for each profile."""
    start = time.perf_counter()
    scores = {series.name: np.asarray(DETECTORS[name](series), np.float64) for series in corpus}
    if not full_precision:
        scores = {file: nab_csv_round_trip(values) for file, values in scores.items()}
    detect_s = time.perf_counter() - start
    results = {}
    for profile in PROFILES:
        result = nab_corpus_score(scores, corpus, profile)
        results[profile] = {
            "score": result.score,
            "raw": result.raw,
            "null": result.null,
            "perfect": result.perfect,
            "threshold": result.threshold,
            "per_file": {f.name: [f.score, f.tp, f.fp, f.fn, f.tn] for f in result.per_file.values()},
        }
    return {"detect_s": detect_s, "score_s": time.perf_counter() - start - detect_s, "profiles": results}


def table(ours: dict[str, dict]) -> str:
    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    rows = ["| detector | standard | reward low FP | reward low FN | thresholds |", "|---|---|---|---|---|"]
    for name, result in ours.items():
        profiles = result["profiles"]
        scores = " | ".join(f"{profiles[p]['score']:.1f}" for p in PROFILES)
        thresholds = ", ".join(f"{profiles[p]['threshold']:.6g}" for p in PROFILES)
        rows.append(f"| **{name} (ours)** | {scores} | {thresholds} |")
    for name, values in PUBLISHED.items():
        rows.append(f"| {name} (published) | {' | '.join(cell(v) for v in values)} | |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", action="append", choices=sorted(DETECTORS), help="repeatable; default: all")
    parser.add_argument("--data-dir", default=None, help="folder holding nab/ (default: $RECURRAX_DATA, cache)")
    parser.add_argument("--windows", default="combined", choices=("combined",), help="NAB's label windows")
    parser.add_argument("--full-precision", action="store_true", help="score without NAB's 12-digit rounding")
    parser.add_argument("--out", type=Path, default=None, help="write every number to this JSON file")
    args = parser.parse_args()
    corpus = load_nab(args.data_dir, windows=args.windows)
    names = args.detector or list(DETECTORS)
    ours = {}
    for name in names:
        ours[name] = run_detector(name, corpus, args.full_precision)
        profiles = ours[name]["profiles"]
        print(
            f"{name}: " + ", ".join(f"{p} {profiles[p]['score']:.2f}" for p in PROFILES)
            + f" (detect {ours[name]['detect_s']:.1f} s, score {ours[name]['score_s']:.2f} s)"
        )  # fmt: skip
    print(f"\nNAB v1.1 corpus: {len(corpus)} files, {sum(len(s.windows) for s in corpus)} windows, "
          f"{sum(len(s) for s in corpus)} points. Machine: {machine()}\n")  # fmt: skip
    print(table(ours))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "machine": machine(),
            "full_precision": args.full_precision,
            "profiles": {p: vars(NAB_PROFILES[p]) for p in PROFILES},
            "detectors": ours,
        }
        args.out.write_text(json.dumps(report, indent=1))
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
