"""``recurrax forecast fit|evaluate|predict|backtest``: global forecasters over many series.

Series come as a long frame, ``.csv`` or ``.parquet`` (pyarrow) with columns ``unique_id``, ``ds``, ``y`` (the
config's ``data.path`` or ``--data``); forecasts go out as a long frame with ``unique_id``, ``ds``, ``mean``
and a ``q<level>`` column per quantile level.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Annotated

import typer

from ._options import ConfigFile, Out, Overrides, Progress, Resume, RunPath, Seed, fit_arguments

app = typer.Typer(help="Train, evaluate, apply and backtest forecasters of many series.", no_args_is_help=True)

Data = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="Long frame (.csv or .parquet: unique_id, ds, y); default data.path.",
                 exists=True, dir_okay=False),
]  # fmt: skip


def _line(scores: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in scores.items())


@app.command()
def fit(
    config: ConfigFile = None,
    overrides: Overrides = None,
    seed: Seed = None,
    out: Out = None,
    data: Data = None,
    resume: Resume = False,
    progress: Progress = True,
) -> None:
    """Train one forecaster on all series and score the holdout (each series' last data.horizon values).

    Trains on the rest; writes config.toml, metrics.jsonl, checkpoints/, holdout.json, holdout.png and
    report.md. With model.kind auto (the default) the LSTM and the baselines (naive, seasonal_naive, theta,
    ets) forecast the last data.horizon values of the training history; the best by mean MASE forecasts
    (predict uses it) and the LSTM is refit on the whole training history. The input length, the steps and
    the LSTM ensemble (3) are derived from the data unless given.

    Examples:

      recurrax forecast fit --data sales.csv --set data.horizon=12 --set data.period=12 --out runs/sales

      recurrax forecast fit --data sales.csv --set data.horizon=12 --set model.kind=direct --set train.steps=2000

      recurrax forecast fit -c configs/forecast.toml --set model.head=student_t --seed 1

      recurrax forecast fit --out runs/sales --resume
    """
    from ..tasks import forecast

    settings = [*(overrides or []), *([] if data is None else [f"data.path={data}"])]
    cfg, run_dir = fit_arguments(forecast.ForecastConfig, "forecast", config, settings, seed, out, resume)
    run, scores = forecast.fit_holdout(cfg, run_dir, resume=resume, progress=progress)
    if run.selection is not None:
        typer.echo(f"auto: {run.selection.summary()}")
        typer.echo("\n".join(run.selection.table()))
    typer.echo(f"holdout: {_line(scores)}")
    typer.echo(f"wrote {run_dir}/holdout.json, holdout.png, report.md, metrics.jsonl, checkpoints/")


@app.command()
def evaluate(run: RunPath, data: Data = None) -> None:
    """Scores of a trained forecaster on the holdout of its data, as JSON.

    The holdout is each series' last data.horizon values; the scores are mae, rmse, smape, mase, and
    coverage_80 and quantile_loss for a probabilistic head.

    Example: recurrax forecast evaluate runs/sales
    """
    from ..tasks import forecast

    typer.echo(json.dumps(forecast.evaluate_forecast(run, data=data)))


@app.command()
def predict(
    run: RunPath,
    input_: Annotated[
        Path,
        typer.Option(
            "--input", "-i", help="Long frame of the histories to forecast from.", exists=True, dir_okay=False
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Forecasts, .csv or .parquet.")] = Path("forecasts.csv"),
    quantile: Annotated[
        list[float] | None,
        typer.Option(
            "--quantile",
            "-q",
            help="Quantile level in (0, 1), repeatable (default 0.1 0.5 0.9; none for a point head).",
        ),
    ] = None,
    future: Annotated[
        Path | None,
        typer.Option(
            "--future",
            "-f",
            help="Long frame (unique_id, ds, the data.exogenous columns) of the forecast steps, for a model "
            "with known-future covariates.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    plots: Annotated[Path | None, typer.Option(help="Folder for one PNG per series.", file_okay=False)] = None,
    max_plots: Annotated[int, typer.Option(help="Plot at most this many series.", min=1)] = 6,
    samples: Annotated[
        int | None,
        typer.Option(
            help="Sample this many paths (a recursive model with a gaussian, student_t or quantile "
            "head): mean and quantiles of the paths, intervals with the accumulated error.",
            min=1,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the sampled paths (with --samples).")] = 0,
) -> None:
    """Forecast data.horizon steps after the end of every series in a file, with quantiles.

    Writes one row per series and step: unique_id, ds, mean and a q<level> column per quantile level.
    A model with covariates computes the calendar and static ones itself; known-future (exogenous)
    columns of the forecast steps come from --future. An auto run forecasts with the forecaster that won on
    validation (a baseline gives the mean only); a forecast beyond 10 times its history's range from the
    history's minimum or maximum is replaced by the seasonal naive one, with a warning.

    Examples:

      recurrax forecast predict runs/sales --input sales.csv --out forecasts.csv --plots plots/

      recurrax forecast predict runs/sales -i sales.parquet -o forecasts.parquet -q 0.05 -q 0.5 -q 0.95

      recurrax forecast predict runs/sales -i sales.csv --future prices_next_quarter.csv

      recurrax forecast predict runs/deepar -i sales.csv --samples 1000 --seed 1
    """
    import jax

    from ..tasks import forecast

    loaded = forecast.load_forecast(run)
    d = loaded.config.data
    series = forecast.read_series(input_, freq=d.freq, missing=d.missing, calendar=d.calendar,
                                  exogenous=d.exogenous, static=d.static)  # fmt: skip
    ahead = None if future is None else forecast.read_frame(future)
    known = forecast.future_covariates(series, d.horizon, calendar=d.calendar, exogenous=d.exogenous,
                                       static=d.static, future=ahead, freq=d.freq)  # fmt: skip
    intervals = loaded.model.head != "point" and (loaded.selection is None or loaded.selection.winner == "lstm")
    levels = sorted(quantile) if quantile else ([0.1, 0.5, 0.9] if intervals else None)
    with warnings.catch_warnings(record=True) as caught:  # the plausibility catch of an auto run, as one line
        warnings.simplefilter("always", RuntimeWarning)
        result = forecast.predict_series(loaded, series, levels, known, samples=samples, key=jax.random.key(seed))
    for warning in caught:
        typer.echo(f"warning: {warning.message}", err=True)
    forecast.write_frame(forecast.forecast_frame(series, result, freq=d.freq), out)
    typer.echo(f"wrote {len(series)} x {d.horizon} forecasts to {out}")
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
        for i in range(min(len(series), max_plots)):
            band = {} if result.quantiles is None else {"lower": result.quantiles[i : i + 1, :, 0],
                                                        "upper": result.quantiles[i : i + 1, :, -1]}  # fmt: skip
            name = re.sub(r"[^\w.-]", "_", series.ids[i])
            forecast.write_forecast_plot(plots / f"{name}.png", series.values[i : i + 1], result.mean[i : i + 1],
                                         titles=series.ids[i : i + 1], **band)  # fmt: skip
        typer.echo(f"wrote {min(len(series), max_plots)} plots to {plots}")


@app.command()
def backtest(
    run: Annotated[Path | None, typer.Argument(help="A run directory (or give --baseline).")] = None,
    data: Data = None,
    baseline: Annotated[
        str | None,
        typer.Option(help="A statistical baseline instead of a run: naive, seasonal_naive, naive2, theta or ets."),
    ] = None,
    horizon: Annotated[int | None, typer.Option(help="Steps ahead (a baseline; a run uses its own).", min=1)] = None,
    period: Annotated[int, typer.Option(help="Seasonal period (a baseline; a run uses its own).", min=1)] = 1,
    origins: Annotated[int, typer.Option(help="Forecast origins.", min=1)] = 3,
    step: Annotated[int | None, typer.Option(help="Steps between origins (default the horizon).", min=1)] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Scores, .csv or .parquet.")] = Path("backtest.csv"),
    refit: Annotated[bool, typer.Option("--refit", help="Train the RUN's config afresh at every origin.")] = False,
    refit_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the --refit runs (origin_<steps before the end> each; default <out stem>_refit "
            "beside --out).",
            file_okay=False,
        ),
    ] = None,
    progress: Progress = True,
) -> None:
    """Rolling-origin evaluation of a run or a baseline: scores per origin and overall, printed and saved.

    mae, rmse, smape, mase per origin (origin = steps before each series' end) and their means (origin
    "all"), saved to --out and plotted beside it (same stem, .png: one panel per metric against the origin).
    A run's model is not refit, so the origins before its holdout score values it was trained on; with
    --refit the run's config (its seed included) trains a fresh model at every origin on the values before
    it (one run each under --refit-dir). A baseline is fit at every origin.

    Examples:

      recurrax forecast backtest runs/sales --origins 4 --out backtest.csv

      recurrax forecast backtest runs/sales --refit --origins 3 --out refit.csv --no-progress

      recurrax forecast backtest --baseline naive2 --data sales.csv --horizon 12 --period 12
    """
    from ..tasks import forecast

    if (run is None) == (baseline is None):
        raise typer.BadParameter("give either a RUN or --baseline")
    if refit and run is None:
        raise typer.BadParameter("--refit retrains a RUN's config; a baseline is fit at every origin anyway")
    if run is not None:
        loaded = forecast.load_forecast(run)
        series = forecast.load_series(loaded.config.data, data)
        if refit:
            folder = out.with_name(f"{out.stem}_refit") if refit_dir is None else refit_dir
            rows = forecast.backtest_refit(loaded.config, series, folder, origins=origins, step=step,
                                           progress=progress)  # fmt: skip
            typer.echo(f"trained {origins} runs in {folder}")
        else:
            rows = forecast.backtest_run(loaded, series, origins=origins, step=step)
    else:
        if data is None or horizon is None:
            raise typer.BadParameter("--baseline needs --data and --horizon")
        series = forecast.read_series(data)
        rows = forecast.backtest(lambda h: forecast.forecast_baseline(baseline, h, horizon, period), series.values,
                                 horizon, origins=origins, step=step, period=period)  # fmt: skip
    table = forecast.backtest_table(rows)
    forecast.write_frame(table, out)
    plot = out.with_suffix(".png")
    name = baseline if run is None else f"{run.name} ({'refit' if refit else 'not refit'})"
    forecast.write_backtest_plot(plot, {name: rows})
    typer.echo(table.to_string(index=False, float_format="{:.4f}".format))
    typer.echo(f"wrote {out} and {plot}")
