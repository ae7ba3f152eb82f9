"""``recurrax forecast backtest --refit`` and the backtest plot: the table holds the scores of the models trained
at each origin (read back from their run directories and scored by hand), and the PNG beside it plots them."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

from recurrax.cli import main
from recurrax.tasks import forecast as fc
from recurrax.tasks.forecast._run import fingerprint
from recurrax.train import find_checkpoint, read_meta

HORIZON, PERIOD, LENGTH = 4, 6, 30
SETTINGS = [
    "data.input_size=8", f"data.horizon={HORIZON}", f"data.period={PERIOD}", "data.batch_size=8",
    "model.kind=direct", "model.hidden_size=4", "optim.lr=0.02", "train.steps=20", "train.log_every=20",
    "train.eval_every=0", "train.checkpoint_every=0",
]  # fmt: skip
COLUMNS = ["mae", "rmse", "smape", "mase"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A long CSV of three seasonal series and a run trained on it by ``recurrax forecast fit``."""
    folder = tmp_path_factory.mktemp("forecast_refit_cli")
    rng = np.random.default_rng(0)
    t = np.arange(LENGTH)
    frame = pd.concat([
        pd.DataFrame({"unique_id": name, "ds": pd.date_range("2021-01-01", periods=LENGTH, freq="MS"),
                      "y": 10.0 * (i + 1) + 3 * np.sin(2 * np.pi * t / PERIOD) + rng.normal(0, 0.5, LENGTH)})
        for i, name in enumerate("abc")
    ])  # fmt: skip
    data = folder / "series.csv"
    frame.to_csv(data, index=False)
    args = [part for item in SETTINGS for part in ("--set", item)]
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["forecast", "fit", "--data", str(data), *args, "--seed", "5", "--out", str(folder / "run"),
                     "--no-progress"])  # fmt: skip
    assert code == 0
    return data, folder / "run"


def test_refit_scores_the_model_of_each_origin_on_the_values_after_it(fitted, tmp_path, capsys):
    data, run_dir = fitted
    out = tmp_path / "scores.csv"
    argv = ["forecast", "backtest", str(run_dir), "--refit", "--origins", "2", "--step", "3", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    folder = tmp_path / "scores_refit"  # the default --refit-dir
    assert f"trained 2 runs in {folder}" in printed and f"wrote {out} and {tmp_path / 'scores.png'}" in printed
    table = pd.read_csv(out)
    assert list(table["origin"]) == ["7", "4", "all"]
    series = fc.read_series(data)
    config = fc.load_forecast(run_dir).config
    for i, cut in enumerate((7, 4)):
        origin = folder / f"origin_{cut}"
        history = fc.SeriesSet(series.ids, [y[:-cut] for y in series.values])
        assert read_meta(find_checkpoint(origin))["data_fingerprint"] == fingerprint(history)  # only the past
        run = fc.load_forecast(origin)
        assert run.config == config  # the run's config, its seed included
        forecast = fc.predict(run.model, run.config, history.values, scaler=run.scaler).mean
        actual = np.stack([y[LENGTH - cut : LENGTH - cut + HORIZON] for y in series.values])
        expected = fc.point_scores(actual, forecast, history.values, PERIOD)
        np.testing.assert_allclose(table.loc[i, COLUMNS].to_numpy(float), [expected[c] for c in COLUMNS],
                                   rtol=1e-12)  # fmt: skip
    np.testing.assert_allclose(table.loc[2, COLUMNS].to_numpy(float), table.loc[:1, COLUMNS].mean(), rtol=1e-12)
    assert (tmp_path / "scores.png").read_bytes()[:4] == b"\x89PNG"


def test_without_refit_the_plot_holds_the_run_backtest(fitted, tmp_path, capsys, monkeypatch):
    """Without --refit the table is `backtest_run`'s, nothing is trained, and the plot gets those rows."""
    data, run_dir = fitted
    plotted = {}
    write = fc.write_backtest_plot
    monkeypatch.setattr(
        fc, "write_backtest_plot", lambda path, results: plotted.update(results) or write(path, results)
    )
    out = tmp_path / "scores.parquet"
    assert main(["forecast", "backtest", str(run_dir), "--origins", "2", "--out", str(out)]) == 0
    assert "trained" not in capsys.readouterr().out and not (tmp_path / "scores_refit").exists()
    expected = fc.backtest_run(fc.load_forecast(run_dir), fc.read_series(data), origins=2)
    assert plotted == {"run (not refit)": expected}
    np.testing.assert_allclose(pd.read_parquet(out).loc[:1, COLUMNS], pd.DataFrame(expected)[COLUMNS], rtol=1e-12)
    assert (tmp_path / "scores.png").is_file()


def test_refit_needs_a_run(fitted, tmp_path, capsys):
    data, _ = fitted
    argv = ["forecast", "backtest", "--baseline", "naive", "--data", str(data), "--horizon", "4", "--refit"]
    assert main([*argv, "--out", str(tmp_path / "b.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--refit retrains a RUN's config" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "b.csv").exists()
