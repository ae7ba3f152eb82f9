"""``recurrax forecast fit|evaluate|predict|backtest`` end to end on a tiny CSV of seasonal series, each
result checked against the library (and the metrics) computed on the same run."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from recurrax import metrics
from recurrax.cli import main
from recurrax.tasks import forecast as fc

HORIZON, PERIOD, LEVELS = 4, 12, [0.1, 0.5, 0.9]
SETTINGS = [
    "data.input_size=12", f"data.horizon={HORIZON}", f"data.period={PERIOD}", "data.batch_size=16",
    "model.kind=direct", "model.hidden_size=8", "model.head=gaussian", "optim.lr=0.01", "train.steps=30",
    "train.log_every=10", "train.eval_every=0", "train.checkpoint_every=0",
]  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three monthly series of 36 values (level, trend, a yearly season, noise) as a long CSV."""
    folder = tmp_path_factory.mktemp("forecast_cli")
    rng = np.random.default_rng(0)
    t = np.arange(36)
    rows = [
        pd.DataFrame({"unique_id": name, "ds": pd.date_range("2021-01-01", periods=36, freq="MS"),
                      "y": 20 + 5 * i + 0.1 * t + 4 * np.sin(2 * np.pi * t / PERIOD) + rng.normal(0, 0.3, 36)})
        for i, name in enumerate("abc")
    ]  # fmt: skip
    path = folder / "series.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fitted(data):
    """``recurrax forecast fit`` on the CSV: the run directory and what the command printed."""
    run_dir = data.parent / "run"
    args = [part for item in SETTINGS for part in ("--set", item)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["forecast", "fit", "--data", str(data), *args, "--seed", "2", "--out", str(run_dir),
                     "--no-progress"])  # fmt: skip
    assert code == 0
    return run_dir, printed.getvalue()


def _series(path) -> tuple[list[str], list[np.ndarray], list[pd.Timestamp]]:
    """Ids, values and last dates of the CSV, read with pandas alone (the oracle's reader)."""
    frame = pd.read_csv(path, parse_dates=["ds"]).sort_values(["unique_id", "ds"])
    groups = list(frame.groupby("unique_id"))
    return [n for n, _ in groups], [g["y"].to_numpy() for _, g in groups], [g["ds"].iloc[-1] for _, g in groups]


def _library_forecaster(run_dir):
    run = fc.load_forecast(run_dir)
    return lambda histories, levels=None: fc.predict(run.model, run.config, histories, scaler=run.scaler,
                                                     levels=levels)  # fmt: skip


def test_fit_writes_the_run_directory(fitted, data):
    run_dir, printed = fitted
    assert f'path = "{data}"' in (run_dir / "config.toml").read_text()
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows if row.get("split") == "train"][-1] == 30
    assert (run_dir / "holdout.png").read_bytes()[:4] == b"\x89PNG"
    scores = json.loads((run_dir / "holdout.json").read_text())
    assert f"holdout: mae {scores['mae']:.4f}, rmse {scores['rmse']:.4f}" in printed
    assert str(run_dir) in printed


def test_evaluate_prints_the_library_scores_of_the_holdout(fitted, data, capsys):
    run_dir, _ = fitted
    assert main(["forecast", "evaluate", str(run_dir)]) == 0
    scores = json.loads(capsys.readouterr().out)
    _, values, _ = _series(data)
    histories, actual = [y[:-HORIZON] for y in values], np.stack([y[-HORIZON:] for y in values])
    out = _library_forecaster(run_dir)(histories, LEVELS)
    expected = {
        "mae": metrics.mae(actual, out.mean),
        "rmse": metrics.rmse(actual, out.mean),
        "smape": metrics.smape(actual, out.mean),
        "mase": np.mean([metrics.mase(a, f, h, PERIOD) for a, f, h in zip(actual, out.mean, histories)]),
        "coverage_80": metrics.coverage(actual, out.quantiles[..., 0], out.quantiles[..., 2]),
        "quantile_loss": metrics.quantile_loss(actual, out.quantiles, LEVELS),
    }
    assert scores == pytest.approx(expected, rel=1e-9)
    assert scores == pytest.approx(json.loads((run_dir / "holdout.json").read_text()), rel=1e-9)  # as fit said


def test_predict_writes_the_forecast_frame_and_plots(fitted, data, tmp_path, capsys):
    run_dir, _ = fitted
    out, plots = tmp_path / "forecasts.csv", tmp_path / "plots"
    args = ["--input", str(data), "--out", str(out), "--plots", str(plots), "--max-plots", "2"]
    assert main(["forecast", "predict", str(run_dir), *args]) == 0
    frame = pd.read_csv(out, parse_dates=["ds"])
    assert list(frame.columns) == ["unique_id", "ds", "mean", "q0.1", "q0.5", "q0.9"]
    ids, values, last = _series(data)
    expected = _library_forecaster(run_dir)(values, LEVELS)
    for i, (name, end) in enumerate(zip(ids, last)):
        rows = frame[frame["unique_id"] == name]
        assert list(rows["ds"]) == list(pd.date_range(end, periods=HORIZON + 1, freq="MS")[1:])
        np.testing.assert_allclose(rows["mean"], expected.mean[i], rtol=1e-9)
        np.testing.assert_allclose(rows[["q0.1", "q0.5", "q0.9"]], expected.quantiles[i], rtol=1e-9)
    assert sorted(p.name for p in plots.iterdir()) == ["a.png", "b.png"]


def test_backtest_scores_equal_the_library_backtest(fitted, data, tmp_path, capsys):
    run_dir, _ = fitted
    _, values, _ = _series(data)
    cases = [
        ([str(run_dir)], lambda h: _library_forecaster(run_dir)(h).mean),
        (["--baseline", "seasonal_naive", "--data", str(data), "--horizon", str(HORIZON), "--period", str(PERIOD)],
         lambda h: fc.forecast_baseline("seasonal_naive", h, HORIZON, PERIOD)),
    ]  # fmt: skip
    for args, forecaster in cases:
        out = tmp_path / "backtest.csv"
        assert main(["forecast", "backtest", *args, "--origins", "2", "--step", "3", "--out", str(out)]) == 0
        assert "origin" in capsys.readouterr().out
        table = pd.read_csv(out)
        expected = pd.DataFrame(fc.backtest(forecaster, values, HORIZON, origins=2, step=3, period=PERIOD))
        assert list(table["origin"]) == ["7", "4", "all"]
        columns = ["mae", "rmse", "smape", "mase"]
        np.testing.assert_allclose(table[columns][:2], expected[columns], rtol=1e-9)
        np.testing.assert_allclose(table[columns].iloc[2], expected[columns].mean(), rtol=1e-9)


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["forecast", "fit", "--data", "{no_y}"], 1, "lacks the columns ['y']"),
        (["forecast", "fit", "--set", "train.steps=1"], 1, "no data: set data.path"),
        (["forecast", "fit", "--bogus"], 2, "--bogus"),
        (["forecast", "predict", "{run}", "--input", "{no_y}"], 1, "lacks the columns ['y']"),
        (["forecast", "predict", "{run}", "--input", "{data}", "--out", "{tmp}/f.txt"], 1, "expected a .csv or"),
        (["forecast", "backtest", "--origins", "2"], 2, "give either a RUN or --baseline"),
        (["forecast", "evaluate", "/nonexistent/run"], 1, "/nonexistent/run"),
    ],
)
def test_errors_are_one_line(argv, code, message, fitted, data, tmp_path, capsys):
    no_y = tmp_path / "no_y.csv"
    no_y.write_text("unique_id,ds,value\na,2024-01-01,1.0\n")
    fields = {"no_y": no_y, "run": fitted[0], "data": data, "tmp": tmp_path}
    argv = [arg.format(**fields) for arg in argv] + ["--out", str(tmp_path / "run")] * (argv[1] == "fit")
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_parquet_in_and_out_matches_csv(fitted, data, tmp_path):
    """Parquet (pyarrow) input gives the forecasts, scores and backtest of the same CSV; parquet output holds
    the frame that CSV output holds."""
    run_dir, _ = fitted
    parquet = tmp_path / "series.parquet"
    pd.read_csv(data, parse_dates=["ds"]).to_parquet(parquet, index=False)
    outputs = {}
    for source, suffix in ((data, "csv"), (parquet, "parquet")):
        outputs[suffix] = tmp_path / f"forecasts.{suffix}"
        assert main(["forecast", "predict", str(run_dir), "--input", str(source), "--out", str(outputs[suffix])]) == 0
    from_csv = pd.read_csv(outputs["csv"], parse_dates=["ds"])
    from_parquet = pd.read_parquet(outputs["parquet"])
    assert pd.api.types.is_datetime64_any_dtype(from_parquet["ds"])
    pd.testing.assert_frame_equal(from_parquet, from_csv, check_dtype=False, check_exact=False, rtol=1e-12)
    assert fc.evaluate_forecast(run_dir, data=parquet) == pytest.approx(fc.evaluate_forecast(run_dir), rel=1e-12)
    scores = tmp_path / "backtest.parquet"
    assert main(["forecast", "backtest", str(run_dir), "--data", str(parquet), "--origins", "2", "--out",
                 str(scores)]) == 0  # fmt: skip
    assert list(pd.read_parquet(scores)["origin"].astype(str)) == ["8", "4", "all"]


def test_unreadable_parquet_is_one_line_error(fitted, tmp_path, capsys):
    broken = tmp_path / "broken.parquet"
    broken.write_text("unique_id,ds,y\n")
    assert main(["forecast", "predict", str(fitted[0]), "--input", str(broken)]) == 1
    err = capsys.readouterr().err.strip()
    assert f"{broken}: cannot read it as parquet" in err and len(err.splitlines()) == 1


def test_predict_with_known_future_covariates(data, tmp_path, capsys):
    """A model with calendar and exogenous covariates: predict needs --future for the exogenous column (one-line
    error without it) and then writes the library's forecasts."""
    frame = pd.read_csv(data, parse_dates=["ds"])
    frame["promo"] = (frame["ds"].dt.month % 3 == 0).astype(float)
    path = tmp_path / "promo.csv"
    frame.to_csv(path, index=False)
    settings = [*SETTINGS, "train.steps=5", "data.calendar=['month']", "data.exogenous=['promo']", "data.freq='MS'"]
    run_dir = tmp_path / "run"
    args = [part for item in settings for part in ("--set", item)]
    assert main(["forecast", "fit", "--data", str(path), *args, "--out", str(run_dir), "--no-progress"]) == 0
    out = tmp_path / "forecasts.csv"
    assert main(["forecast", "predict", str(run_dir), "--input", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "known-future columns ['promo']" in err and len(err.splitlines()) == 1
    stamps = pd.date_range("2024-01-01", periods=HORIZON, freq="MS")
    future = pd.DataFrame([{"unique_id": n, "ds": t, "promo": float(t.month % 3 == 0)} for n in "abc" for t in stamps])
    future.to_csv(tmp_path / "future.csv", index=False)
    assert main(["forecast", "predict", str(run_dir), "-i", str(path), "-o", str(out), "--future",
                 str(tmp_path / "future.csv")]) == 0  # fmt: skip
    run = fc.load_forecast(run_dir)
    series = fc.SeriesSet.from_frame(frame, freq="MS", calendar=("month",), exogenous=("promo",))
    covariates = np.stack([np.c_[np.sin(2 * np.pi * (stamps.month - 1) / 12), np.cos(2 * np.pi * (stamps.month - 1) / 12),
                                 (stamps.month % 3 == 0)]] * 3)  # fmt: skip
    expected = fc.predict(run.model, run.config, series.values, covariates=series.covariates, future=covariates,
                          levels=LEVELS, covariate_scaler=run.covariate_scaler)  # fmt: skip
    written = pd.read_csv(out, parse_dates=["ds"])
    np.testing.assert_allclose(written["mean"].to_numpy().reshape(3, HORIZON), expected.mean, rtol=1e-9)
    assert list(written["ds"][:HORIZON]) == list(stamps)


def test_predict_samples_paths_of_a_recursive_model(data, tmp_path):
    import jax

    run_dir = tmp_path / "recursive"
    settings = [*SETTINGS, "model.kind=recursive", "train.steps=5"]
    args = [part for item in settings for part in ("--set", item)]
    assert main(["forecast", "fit", "--data", str(data), *args, "--out", str(run_dir), "--no-progress"]) == 0
    out = tmp_path / "sampled.csv"
    assert main(["forecast", "predict", str(run_dir), "-i", str(data), "-o", str(out), "--samples", "40",
                 "--seed", "3"]) == 0  # fmt: skip
    frame = pd.read_csv(out)
    run = fc.load_forecast(run_dir)
    _, values, _ = _series(data)
    expected = fc.predict(run.model, run.config, values, levels=LEVELS, samples=40, key=jax.random.key(3))
    np.testing.assert_allclose(frame["mean"].to_numpy().reshape(3, HORIZON), expected.mean, rtol=1e-6)
    np.testing.assert_allclose(frame["q0.9"].to_numpy().reshape(3, HORIZON), expected.quantiles[..., 2], rtol=1e-6)
    np.testing.assert_allclose(expected.mean, expected.samples.mean(axis=0), rtol=1e-9)  # the mean of the paths


def test_fit_reports_the_holdout_beside_the_naive_baselines(fitted, data):
    run_dir, _ = fitted
    report = (run_dir / "report.md").read_text()
    _, values, _ = _series(data)
    histories, actual = [y[:-HORIZON] for y in values], np.stack([y[-HORIZON:] for y in values])
    naive = np.stack([np.repeat(h[-1], HORIZON) for h in histories])  # the oracle: last value, and a year before
    seasonal = np.stack([h[-PERIOD:][:HORIZON] for h in histories])
    scores = json.loads((run_dir / "holdout.json").read_text())
    for name, forecast in (("naive", naive), ("seasonal_naive", seasonal)):
        row = next(line for line in report.splitlines() if line.startswith(f"| {name} |"))
        cells = [float(c) for c in row.strip("|").split("|")[1:5]]
        expected = [metrics.mae(actual, forecast), metrics.rmse(actual, forecast), metrics.smape(actual, forecast),
                    np.mean([metrics.mase(a, f, h, PERIOD) for a, f, h in zip(actual, forecast, histories)])]
        np.testing.assert_allclose(cells, expected, atol=5e-5)  # printed with 4 decimals
    model_row = next(line for line in report.splitlines() if line.startswith("| model |"))
    assert f"{scores['mae']:.4f}" in model_row and f"{scores['coverage_80']:.4f}" in model_row
    assert "3 series of 32-32 training values" in report and "![holdout](holdout.png)" in report
