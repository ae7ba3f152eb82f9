"""Weather example: a week of Seattle's daily maximum temperature with 80% prediction intervals.

Data: the registry's ``seattle_weather`` (vega_datasets, 1461 days, 2012-2015, offline). 2015 is the test
year: from every ``--every``-th day of 2015 (the origin) the model forecasts the next ``--horizon`` days
from the history up to the origin (rolling origin, the model not refit). The number of training steps is
chosen on 2014 (trained on 2012-2013, scored by MAE at the 2014 origins, among ``--steps``); the final
model trains on 2012-2014 with it, and the test year is only used for the final scores.
Scores: MAE over all origins and steps, and the coverage of the 80% interval (0.1 to 0.9 quantiles),
beside two baselines with the same origins: naive (the last value) and seasonal naive with period 365
(the same day a year before). The model: a direct LSTM with a Student-t head (or ``--head quantile``) and
calendar covariates (day of year, as a sine and a cosine, known for the forecast days).

    python benchmarks/forecast_weather.py --steps 100 300 1000 --out runs/weather   # results.json, weather.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recurrax import metrics
from recurrax.data import load_seattle_weather
from recurrax.tasks import forecast as fc
from recurrax.train import OptimConfig, TrainConfig

TEST_YEAR = 2015
CALENDAR = ("dayofyear",)


def origins(frame: pd.DataFrame, year: int, horizon: int, every: int) -> list[int]:
    """Indices of the first forecast day of each origin: every ``every`` days of ``year``."""
    years = frame["date"].dt.year.to_numpy()
    first, end = int(np.argmax(years == year)), int(np.sum(years <= year))
    return list(range(first, end - horizon + 1, every))


def forecast(run, series: fc.SeriesSet, starts: list[int], horizon: int) -> fc.Forecast:
    """The run's forecasts from each origin of ``starts`` (the history before it; calendar covariates)."""
    y, covariates = series.values[0], series.covariates[0]
    return fc.predict(run.model, run.config, [y[:t] for t in starts], levels=[0.1, 0.5, 0.9],
                      covariates=[covariates[:t] for t in starts],
                      future=np.stack([covariates[t : t + horizon] for t in starts]))  # fmt: skip


def fit_until(cfg: fc.ForecastConfig, series: fc.SeriesSet, end: int, steps: int, run_dir: Path):
    """`fc.fit_forecast` on the first ``end`` days for ``steps`` steps."""
    train = fc.SeriesSet(series.ids, [series.values[0][:end]], [series.ds[0][:end]], [series.covariates[0][:end]])
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=steps))
    return fc.fit_forecast(cfg, train, run_dir, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 300, 1000], help="candidates (chosen on 2014)")
    parser.add_argument("--horizon", type=int, default=7)
    parser.add_argument("--every", type=int, default=7)
    parser.add_argument("--input-size", type=int, default=56)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--head", choices=["student_t", "quantile", "gaussian"], default="student_t")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/forecast_weather"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    weather = load_seattle_weather()
    frame = pd.DataFrame({"unique_id": "seattle", "ds": weather["date"], "y": weather["temp_max"]})
    series = fc.SeriesSet.from_frame(frame, freq="D", calendar=CALENDAR)
    y = series.values[0]
    starts = origins(weather, TEST_YEAR, args.horizon, args.every)
    checks = origins(weather, TEST_YEAR - 1, args.horizon, args.every)

    cfg = fc.ForecastConfig(
        model=fc.ModelConfig(hidden_size=args.hidden, head=args.head, quantiles=(0.1, 0.5, 0.9)),
        data=fc.DataConfig(
            input_size=args.input_size,
            horizon=args.horizon,
            batch_size=64,
            scaler="standard",
            scale_scope="window",
            calendar=CALENDAR,
        ),
        optim=OptimConfig(lr=3e-3, schedule="warmup_cosine", warmup_steps=100, clip_norm=1.0),
        train=TrainConfig(steps=1, log_every=100, eval_every=0, checkpoint_every=0, seed=args.seed),
    )
    began = time.perf_counter()
    valid_actual = np.stack([y[t : t + args.horizon] for t in checks])
    validation = {}
    for steps in args.steps:
        trial = fit_until(cfg, series, checks[0], steps, args.out / f"select_{steps}")
        validation[steps] = metrics.mae(valid_actual, forecast(trial, series, checks, args.horizon).mean)
        print(f"steps {steps}: validation MAE (2014) {validation[steps]:.3f}")
    chosen = min(validation, key=validation.get)
    run = fit_until(cfg, series, starts[0], chosen, args.out / "run")
    seconds = time.perf_counter() - began

    histories = [y[:t] for t in starts]
    actual = np.stack([y[t : t + args.horizon] for t in starts])
    out = forecast(run, series, starts, args.horizon)
    lower, upper = out.interval(0.8)
    naive = np.stack([np.repeat(h[-1], args.horizon) for h in histories])
    seasonal = np.stack([y[t - 365 : t - 365 + args.horizon] for t in starts])
    results = {
        "lstm": {"mae": metrics.mae(actual, out.mean), "rmse": metrics.rmse(actual, out.mean),
                 "coverage_80": metrics.coverage(actual, lower, upper),
                 "quantile_loss": metrics.quantile_loss(actual, out.quantiles, [0.1, 0.5, 0.9]),
                 "train_seconds": seconds},
        "naive": {"mae": metrics.mae(actual, naive), "rmse": metrics.rmse(actual, naive)},
        "seasonal_naive_365": {"mae": metrics.mae(actual, seasonal), "rmse": metrics.rmse(actual, seasonal)},
    }  # fmt: skip
    per_step = np.mean(np.abs(actual - out.mean), axis=0)
    results["lstm"]["mae_per_step"] = per_step.tolist()
    results["lstm"]["steps"], results["lstm"]["validation_mae"] = chosen, validation
    (args.out / "results.json").write_text(json.dumps({"results": results, "origins": len(starts),
                                                       "args": vars(args)}, default=str, indent=1))  # fmt: skip
    shown = [0, len(starts) // 4, len(starts) // 2, 3 * len(starts) // 4]
    titles = [f"origin {pd.Timestamp(series.ds[0][starts[i]]).date()}" for i in shown]
    fc.write_forecast_plot(args.out / "weather.png", [histories[i][-60:] for i in shown], out.mean[shown],
                           actuals=actual[shown], lower=lower[shown], upper=upper[shown], titles=titles)  # fmt: skip
    print(f"{len(starts)} origins in {TEST_YEAR}, horizon {args.horizon} days; {chosen} steps chosen on "
          f"{TEST_YEAR - 1}; selection and training {seconds:.0f} s")  # fmt: skip
    print("| method | MAE (deg C) | RMSE | 80% coverage |\n|---|---|---|---|")
    for name, row in results.items():
        cover = f"{row['coverage_80']:.3f}" if "coverage_80" in row else ""
        print(f"| {name} | {row['mae']:.3f} | {row['rmse']:.3f} | {cover} |")
    print("LSTM MAE per step:", " ".join(f"{v:.2f}" for v in per_step))


if __name__ == "__main__":
    main()
