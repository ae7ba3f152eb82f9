"""Which combination rule? Scored from the runs of ``forecast_auto_m3.py`` without training again: each run's
refit LSTM and the baselines refitted on the same histories give every candidate's forecasts, and each rule
weighs them by the validation scores the run kept.

Rules, for each frequency:

- ``trim T``: `combination_weights` with ``trim = T`` and no size limit, the candidates within T times the best
  validation MASE weighted by the inverse of their MASE (T large: all of them; auto's ``TRIM`` is 1.5);
- ``top K``: the K best on validation among those within ``TRIM``, weighted the same way (auto's default:
  ``COMBINATION_SIZE``);
- ``best`` (development split only): the best on validation alone;
- each candidate alone (development split only).

``--split dev`` (the default) scores each series' last h training values, which the runs' histories left out;
the test values are never read. ``--split test`` scores the competition's test values and is meant for the
rules chosen on the development split only: it scores the ``--trims`` and ``--sizes`` given and nothing else.

    python benchmarks/forecast_auto_combination.py --runs runs/auto_m3 --frequencies yearly quarterly monthly
    python benchmarks/forecast_auto_combination.py --collection m3 --split test --runs runs/auto_m3_test \
        --trims 1.5 --sizes 3
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from forecast_auto_m3 import COLLECTIONS, load

from recurrax.tasks import forecast as fc
from recurrax.tasks.forecast import M3Series
from recurrax.tasks.forecast._auto import candidate_forecasts
from recurrax.tasks.forecast._select import TRIM, Selection, combination_weights, combine, scores

DEV_TRIMS = (1.1, 1.2, 1.3, 1.4, TRIM, 1e9)
DEV_SIZES = (2, 3)


def rules(
    validation: dict[str, dict[str, float]], trims: list[float], sizes: list[int], split: str
) -> dict[str, dict[str, float]]:
    """The weights of every rule scored on ``split`` (see the module docstring), by rule name."""
    weighed = {f"trim {t:g}": combination_weights(validation, t, size=None) for t in trims}
    weighed.update({f"top {k}": combination_weights(validation, size=k) for k in sizes})
    if split == "dev":
        weighed["best"] = Selection.choose(validation).weights
        weighed.update({name: {name: 1.0} for name in validation})
    return weighed


def score_rules(collection: str, split: str, frequency: str, runs: Path, trims: list[float], sizes: list[int]) -> dict:
    """sMAPE and mean MASE of each rule's forecasts of ``frequency``, with the weights of each rule."""
    series = [M3Series.cut(s, split) for s in load(collection)[frequency]]
    history = fc.SeriesSet.from_arrays([s.x for s in series], [s.sn for s in series])
    actual, period = np.stack([s.xx for s in series]), series[0].period
    run = fc.load_forecast(runs / frequency)
    validation = {name: row for name, row in run.selection.validation.items() if name != "combination"}
    forecasts = candidate_forecasts(list(validation), run, history)[0]
    result = {}
    for rule, weights in rules(validation, trims, sizes, split).items():
        mixed = fc.catch_implausible(combine(forecasts, weights), history.values, period)[0]
        result[rule] = {**scores(actual, mixed, history.values, period), "weights": weights}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", default="m3", choices=COLLECTIONS)
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--runs", type=Path, default=Path("runs/auto_m3"))
    parser.add_argument("--frequencies", nargs="+", default=["yearly", "quarterly"], choices=fc.FREQUENCIES)
    parser.add_argument("--trims", nargs="+", type=float, help=f"default on dev: {' '.join(map(str, DEV_TRIMS))}")
    parser.add_argument("--sizes", nargs="+", type=int, help=f"default on dev: {' '.join(map(str, DEV_SIZES))}")
    args = parser.parse_args()
    if args.split == "test" and args.trims is None and args.sizes is None:
        raise SystemExit("--split test scores only the rules chosen on the development split: give --trims, --sizes")
    dev = args.split == "dev"
    trims, sizes = args.trims or (list(DEV_TRIMS) if dev else []), args.sizes or (list(DEV_SIZES) if dev else [])
    path = args.runs / f"combination_{args.split}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for frequency in args.frequencies:
        results[frequency] = score_rules(args.collection, args.split, frequency, args.runs, trims, sizes)
        path.write_text(json.dumps(results, indent=1) + "\n")
        for rule, row in results[frequency].items():
            members = ", ".join(f"{name} {w:.2f}" for name, w in row["weights"].items())
            print(f"{frequency} {rule}: sMAPE {row['smape']:.3f}, MASE {row['mase']:.4f} ({members})", flush=True)


if __name__ == "__main__":
    main()
