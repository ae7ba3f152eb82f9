"""Would a combination beat auto's pick? Scored on the M3 development split, from the runs of
``forecast_auto_m3.py`` (no training: each run's refit LSTM and the baselines refitted on the same histories).

For each frequency: the sMAPE (and mean MASE) of the forecasts of every candidate, of auto's pick, and of two
combinations built from the validation scores the run kept: the mean of the candidates weighted by the inverse
of their validation MASE (``inverse_mase``), and the plain mean of the two best on validation (``best_two``).
The M3 test values are never read.

    python benchmarks/forecast_auto_combination.py --runs runs/auto_m3 --frequencies yearly quarterly
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from recurrax.tasks import forecast as fc
from recurrax.tasks.forecast import M3Series, load_m3
from recurrax.tasks.forecast._auto import candidate_forecasts
from recurrax.tasks.forecast._select import scores


def combine(frequency: str, runs: Path) -> dict:
    series = [M3Series.cut(s, "dev") for s in load_m3()[frequency]]
    history = fc.SeriesSet.from_arrays([s.x for s in series], [s.sn for s in series])
    actual, period = np.stack([s.xx for s in series]), series[0].period
    run = fc.load_forecast(runs / frequency)
    validation = {name: row for name, row in run.selection.validation.items() if name != "combination"}
    forecasts = candidate_forecasts(list(validation), run, history)[0]
    weights = {name: 1 / validation[name]["mase"] for name in validation}
    total = sum(weights.values())
    forecasts["inverse_mase"] = sum(weights[n] * forecasts[n] for n in validation) / total
    best = sorted(validation, key=lambda name: validation[name]["mase"])[:2]
    forecasts["best_two"] = (forecasts[best[0]] + forecasts[best[1]]) / 2
    if run.selection.winner in forecasts:
        forecasts[f"auto ({run.selection.winner})"] = forecasts[run.selection.winner]
    return {name: scores(actual, f, history.values, period) for name, f in forecasts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/auto_m3"))
    parser.add_argument("--frequencies", nargs="+", default=["yearly", "quarterly"], choices=fc.FREQUENCIES)
    args = parser.parse_args()
    results = {}
    for frequency in args.frequencies:
        results[frequency] = combine(frequency, args.runs)
        for name, row in results[frequency].items():
            print(f"{frequency} {name}: sMAPE {row['smape']:.2f}, MASE {row['mase']:.3f}", flush=True)
    (args.runs / "combination.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
