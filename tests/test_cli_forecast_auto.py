"""``recurrax forecast fit`` with its default ``model.kind = "auto"`` on a CSV where seasonal naive is exact: the
command and report.md name the winner and its margin with every candidate's scores, the holdout is scored
with the winner, ``forecast predict`` writes exactly the seasonal naive forecasts, and ``recurrax export``
refuses the run in one line naming the winner and the fix."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from recurrax.cli import main
from recurrax.tasks import forecast as fc

from test_forecast_auto import H, M, seasonal_series

SETTINGS = [f"data.horizon={H}", f"data.period={M}", "model.hidden_size=8", "data.batch_size=16", "train.steps=20",
            "train.log_every=1000", "train.eval_every=0", "train.checkpoint_every=0"]  # fmt: skip


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The CSV (the holdout's H values after seasonal naive's exact stretch), the run and the printed text."""
    folder = tmp_path_factory.mktemp("forecast_auto_cli")
    series = seasonal_series(length=44)
    frame = pd.concat([pd.DataFrame({"unique_id": f"s{i:02d}", "ds": pd.date_range("2020-01-01", periods=y.size,
                                                                                  freq="MS"), "y": y})
                       for i, y in enumerate(series.values)])  # fmt: skip
    data = folder / "series.csv"
    frame.to_csv(data, index=False)
    printed = io.StringIO()
    args = [part for item in SETTINGS for part in ("--set", item)]
    with contextlib.redirect_stdout(printed):
        code = main(["forecast", "fit", "--data", str(data), *args, "--out", str(folder / "run"), "--no-progress"])
    assert code == 0
    return data, folder / "run", printed.getvalue()


def test_fit_prints_and_reports_the_winner_and_every_candidate(fitted):
    data, run_dir, printed = fitted
    run = fc.load_forecast(run_dir)
    selection = run.selection
    assert run.config.model.kind == "auto" and selection.winner == "seasonal_naive"
    assert f"auto: {selection.summary()}" in printed
    for line in selection.table():
        assert line in printed
    report = (run_dir / "report.md").read_text()
    assert "## Forecaster chosen on validation (model.kind auto)" in report and f"**{selection.summary()}.**" in report
    assert "| **seasonal_naive** (chosen) | 0.0000 | 0.0000 | 0 | 0.0000 | 0.0000 |" in report  # holdout: exact too
    assert "Plausibility catch: forecasts of the chosen forecaster replaced by seasonal naive: 0 on validation, 0 on" \
           " the holdout" in report  # fmt: skip
    assert f"Derived from the data: data.input_size = {max(3 * H, 2 * M)}, model.ensemble = 3" in report
    series = fc.read_series(data)
    history, actual = series.split_last(H)
    naive = fc.point_scores(np.stack(actual), fc.forecast_baseline("naive", history.values, H), history.values, M)
    assert f"| naive | {selection.validation['naive']['mase']:.4f} |" in report
    assert f"{naive['mase']:.4f} | {naive['smape']:.4f} |" in report.split("| naive |")[1].splitlines()[0]
    assert json.loads((run_dir / "holdout.json").read_text())["mae"] == 0.0  # the winner's holdout forecast


def test_predict_writes_the_seasonal_naive_forecasts(fitted, tmp_path, capsys):
    data, run_dir, _ = fitted
    out = tmp_path / "forecasts.csv"
    assert main(["forecast", "predict", str(run_dir), "--input", str(data), "--out", str(out)]) == 0
    written = pd.read_csv(out)
    assert list(written.columns) == ["unique_id", "ds", "mean"]  # a baseline gives no quantiles
    series = fc.read_series(data)
    expected = np.stack([y[-M:][np.arange(H) % M] for y in series.values])
    np.testing.assert_array_equal(written["mean"].to_numpy().reshape(len(series), H), expected)
    assert main(["forecast", "predict", str(run_dir), "--input", str(data), "-q", "0.9"]) == 1
    err = capsys.readouterr().err.strip()
    assert "forecasts with seasonal_naive" in err and "model.kind=direct" in err and len(err.splitlines()) == 1


def test_export_refuses_a_baseline_winner_in_one_line(fitted, tmp_path, capsys):
    _, run_dir, _ = fitted
    assert main(["export", str(run_dir), "--out", str(tmp_path / "artifact")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "this auto run forecasts with seasonal_naive" in err and "--set model.kind=direct" in err
    assert not (tmp_path / "artifact").exists()
