"""M3 LSTM settings chosen on validation, then scored once on the test set: the honest version of
`forecast_m3.py`'s variant table.

Every candidate setting is trained twice per frequency by `forecast_m3.py` in its own process: on the
validation split (each series' training part less its last h values, scored on those) and on the test
split (the whole training part, scored on the M3 test values). Candidates are the grid of variants
(``--variant NAME=ARGS``: options of `forecast_m3.py`, e.g. ``smape=--loss smape``) x history-window scales
(each a ``--ensemble``-member seed ensemble), for each variant the median over its window scales (a lookback
ensemble, as N-BEATS ensembles over lookbacks), and ``all``, the median over every piece. Per frequency the
candidate with the lowest validation sMAPE is picked, and the table reports the test sMAPE of the picks (the
test scores of every candidate are printed too, for the record, but play no part in the choice).
``--include`` adds the candidates of earlier rounds (their select.json) to the pick, so a round can train one
frequency only.

Jobs run ``--jobs`` at a time (on a GPU they share the device: ``XLA_PYTHON_CLIENT_PREALLOCATE=false``);
``--deadline`` seconds after the start, unfinished jobs are stopped and the candidates that need them drop out.

    python benchmarks/forecast_m3_select.py --jobs 12 --variant mae= --variant smape="--loss smape" --out runs/m3
    python benchmarks/forecast_m3_select.py --frequencies --include benchmarks/results/m3_select_round4.json  # re-pick
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from forecast_m3 import FREQUENCIES, PUBLISHED, Split, load_m3, score

SCRIPT = Path(__file__).parent / "forecast_m3.py"
SIZE = {"monthly": 4, "quarterly": 2, "yearly": 1, "other": 1}  # rough cost: long jobs start first in a scale


def job_dir(out: Path, split: str, frequency: str, variant: str, scale: float) -> Path:
    return out / split / f"{frequency}_{variant}_x{scale}"


def run_job(args: argparse.Namespace, split: str, frequency: str, variant: str, scale: float, stop_at: float) -> str:
    """Train and forecast one candidate piece with `forecast_m3.py`; returns a status line."""
    out = job_dir(args.out, split, frequency, variant, scale)
    if (out / f"lstm_{frequency}.npy").exists():
        return f"{out}: done before"
    left = stop_at - time.time()
    if left < 30:
        return f"{out}: skipped (deadline)"
    command = [sys.executable, str(SCRIPT), "--only", "lstm", "--split", split, "--frequencies", frequency,
               "--input-scale", str(scale), "--ensemble", str(args.ensemble), "--steps", str(args.steps),
               "--save-forecasts", "--out", str(out), *shlex.split(args.variants[variant])]  # fmt: skip
    began = time.time()
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "PYTHONUNBUFFERED": "1"}
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "log.txt", "w") as log:
        try:
            code = subprocess.run(
                command, check=False, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=left
            ).returncode
        except subprocess.TimeoutExpired:
            return f"{out}: stopped at the deadline"
    status = f"{out}: exit {code} in {time.time() - began:.0f} s"
    print(status, flush=True)
    if code != 0:
        print((out / "log.txt").read_text()[-3000:], flush=True)
    return status


def candidates(variants: list[str], scales: list[float]) -> dict[str, list[tuple[str, float]]]:
    """Candidate name -> the (variant, scale) pieces whose median forecast it is."""
    pieces = list(itertools.product(variants, scales))
    table = {f"{variant} x{scale}": [(variant, scale)] for variant, scale in pieces}
    if len(scales) > 1:
        table.update({f"{v} x{'+'.join(map(str, scales))}": [(v, s) for s in scales] for v in variants})
    if len(variants) > 1:
        table["all"] = pieces
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="a candidate setting: forecast_m3.py options (repeat; default: mae= and smape=--loss smape)",
    )
    parser.add_argument("--scales", nargs="+", type=float, default=[1.0, 1.5, 2.0])
    parser.add_argument("--ensemble", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--frequencies", nargs="*", default=list(FREQUENCIES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--deadline", type=float, default=1e9, help="seconds from the start")
    parser.add_argument("--out", type=Path, default=Path("runs/m3_select"))
    parser.add_argument(
        "--include",
        type=Path,
        action="append",
        default=[],
        help="the select.json of an earlier round: its candidates (named <file stem>:<name>) join the pick",
    )
    args = parser.parse_args()
    args.variants = dict(v.split("=", 1) for v in args.variant or ["mae=", "smape=--loss smape"])
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.time()
    pieces = list(itertools.product(["valid", "test"], args.frequencies, args.variants, args.scales))
    pieces.sort(key=lambda p: (args.scales.index(p[3]), -SIZE[p[1]]))  # the first scale first: complete early
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda p: run_job(args, *p, began + args.deadline), pieces))
    data = load_m3() if args.frequencies else {}  # a re-pick from --include needs no data
    table = candidates(list(args.variants), args.scales)
    scores: dict[str, dict[str, dict[str, tuple[float, float, int]]]] = {"valid": {}, "test": {}}
    for split, frequency in itertools.product(scores, args.frequencies):
        series = [Split(s, split) for s in data[frequency]]
        for name, parts in table.items():
            files = [job_dir(args.out, split, frequency, *part) / f"lstm_{frequency}.npy" for part in parts]
            if all(f.exists() for f in files):
                forecast = np.median(np.stack([np.load(f) for f in files]), axis=0)
                scores[split].setdefault(name, {})[frequency] = score(series, forecast)
    for path in args.include:
        earlier = json.loads(path.read_text())["scores"]
        for split, by_name in scores.items():
            by_name.update({f"{path.stem}:{name}": row for name, row in earlier[split].items()})
    frequencies = [f for f in FREQUENCIES if any(f in row for row in scores["valid"].values())]
    picks = {}
    for frequency in frequencies:
        valid = {name: row[frequency][0] for name, row in scores["valid"].items() if frequency in row}
        if valid:
            picks[frequency] = min(valid, key=valid.get)
    report = {"args": vars(args), "picks": picks, "seconds": time.time() - began, "scores": scores}
    (args.out / "select.json").write_text(json.dumps(report, default=str, indent=1))
    columns = [*frequencies, "overall"]
    for split in ("valid", "test"):
        print(
            f"\n{split}: sMAPE per candidate\n| candidate | "
            + " | ".join(columns)
            + " |\n|---|"
            + "---|" * len(columns)
        )
        for name, row in scores[split].items():
            print(f"| {name} | " + " | ".join(_cells(row, columns)) + " |")
    chosen = {f: scores["test"].get(picks[f], {}).get(f) for f in picks}
    print("\npicked on validation, scored on test:\n| frequency | pick | valid | test |\n|---|---|---|---|")
    for frequency, name in picks.items():
        test = chosen[frequency]
        print(f"| {frequency} | {name} | {scores['valid'][name][frequency][0]:.2f} | "
              f"{'' if test is None else f'{test[0]:.2f}'} |")  # fmt: skip
    if all(chosen.get(f) for f in FREQUENCIES):
        overall = sum(chosen[f][1] for f in FREQUENCIES) / sum(chosen[f][2] for f in FREQUENCIES)
        print(f"| overall | | | {overall:.2f} |  (Theta published {PUBLISHED['theta']['overall']})")
    print(f"\n{time.time() - began:.0f} s; {args.out / 'select.json'}")


def _cells(row: dict[str, tuple[float, float, int]], columns: list[str]) -> list[str]:
    cells = [f"{row[c][0]:.2f}" if c in row else "" for c in columns[:-1]]
    if all(f in row for f in FREQUENCIES):
        cells.append(f"{sum(row[f][1] for f in FREQUENCIES) / sum(row[f][2] for f in FREQUENCIES):.2f}")
    else:
        cells.append("")
    return cells


if __name__ == "__main__":
    main()
