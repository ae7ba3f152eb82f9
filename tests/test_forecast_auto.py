"""``model.kind = "auto"`` (`fit_auto`): on a collection where seasonal naive is exact it wins and `predict_series`
returns exactly its forecast; on oscillations of many periods that no baseline follows the LSTM wins; the LSTM
that forecasts is the one refit on the whole history; implausible forecasts are replaced; settings left out
are derived; an auto run whose winner is a baseline is not exported."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import numpy as np
import pytest

from recurrax.config import load_config
from recurrax.serve import load_artifact
from recurrax.serve import export_run
from recurrax.tasks import forecast as fc
from recurrax.tasks.forecast import _auto
from recurrax.tasks.forecast._run import fingerprint
from recurrax.train import find_checkpoint, read_meta

H, M = 4, 6
QUIET = ["train.log_every=1000", "train.eval_every=0", "train.checkpoint_every=0"]


def seasonal_series(seed: int = 0, count: int = 12, length: int = 40) -> fc.SeriesSet:
    """One noise-free seasonal pattern (period M) on levels with random shifts, each level constant over
    the last M + 2 H + 2 values: seasonal naive forecasts the last H values exactly, nothing else does."""
    rng = np.random.default_rng(seed)
    pattern, t, values = rng.normal(0, 3, M), np.arange(length), []
    for _ in range(count):
        jumps = np.where(rng.random(length) < 0.15, rng.normal(0, 10, length), 0.0)
        jumps[length // 3] = rng.choice([-1, 1]) * rng.uniform(5, 15)  # at least one shift
        level = 50 + np.cumsum(jumps)
        level[-(M + 2 * H + 2) :] = level[-(M + 2 * H + 2)]
        values.append(level + pattern[t % M])
    return fc.SeriesSet.from_arrays(values)


def oscillations(seed: int = 0, count: int = 24, length: int = 48) -> fc.SeriesSet:
    """Sine waves of periods between 5 and 11 steps (one per series), levels and amplitudes of their own:
    naive, Theta and ETS cannot follow them, a global LSTM learns them."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return fc.SeriesSet.from_arrays([
        20 + rng.uniform(-5, 5) + rng.uniform(2, 4) * np.sin(2 * np.pi * t / rng.uniform(5, 11) + rng.uniform(0, 6.3))
        for _ in range(count)
    ])  # fmt: skip


@pytest.fixture(scope="module")
def seasonal(tmp_path_factory):
    series = seasonal_series()
    cfg = load_config(fc.ForecastConfig, None, [f"data.horizon={H}", f"data.period={M}", "model.hidden_size=8",
                                                "data.batch_size=16", "train.steps=20", *QUIET])  # fmt: skip
    return series, fc.fit_auto(cfg, series, tmp_path_factory.mktemp("auto") / "seasonal", progress=False)


@pytest.fixture(scope="module")
def oscillating(tmp_path_factory):
    series = oscillations()
    settings = [f"data.horizon={H}", "model.hidden_size=32", "data.batch_size=64", "data.scaler=standard",
                "optim.lr=0.01", "train.steps=150", *QUIET]  # fmt: skip
    cfg = load_config(fc.ForecastConfig, None, settings)
    return series, fc.fit_auto(cfg, series, tmp_path_factory.mktemp("auto") / "oscillating", progress=False)


def test_seasonal_naive_wins_where_it_is_exact_and_predict_returns_it(seasonal):
    series, run = seasonal
    scores = run.selection.validation
    assert run.selection.winner == "seasonal_naive" and set(scores) == set(fc.CANDIDATES)
    assert run.selection.weights == {"seasonal_naive": 1.0}  # exact: it forecasts alone
    assert scores["seasonal_naive"]["mase"] == 0.0
    assert min(row["mase"] for name, row in scores.items() if name != "seasonal_naive") > 0
    history, actual = series.split_last(H)
    naive = np.stack([np.abs(a - h[-1]).mean() / np.abs(h[M:] - h[:-M]).mean() for h, a in zip(history.values, actual)])
    assert scores["naive"]["mase"] == pytest.approx(naive.mean(), rel=1e-12)  # MASE, in-sample seasonal scale
    expected = np.stack([y[-M:][np.arange(H) % M] for y in series.values])  # the seasonal naive forecast
    np.testing.assert_array_equal(fc.predict_series(run, series).mean, expected)
    loaded = fc.load_forecast(run.run_dir)
    assert loaded.selection == run.selection
    np.testing.assert_array_equal(fc.predict_series(loaded, series).mean, expected)
    with pytest.raises(ValueError, match="forecasts with seasonal_naive .* no quantiles"):
        fc.predict_series(loaded, series, levels=[0.1, 0.9])
    assert run.selection.summary().startswith("seasonal_naive won on validation: MASE 0.0000 against ")


def test_the_lstm_wins_on_oscillations_no_baseline_follows(oscillating):
    series, run = oscillating
    scores = run.selection.validation
    assert run.selection.winner == "lstm" and run.selection.weights == {"lstm": 1.0}
    assert scores["lstm"]["mase"] < 0.5 * min(scores[n]["mase"] for n in ("naive", "theta", "ets"))
    assert "seasonal_naive" not in scores and any("period 1" in note for note in run.selection.notes)
    expected = fc.predict(run.model, run.config, series.values).mean
    np.testing.assert_array_equal(fc.predict_series(run, series).mean, expected)
    assert isinstance(run.model, fc.ForecastEnsemble) and run.model.size == 3  # auto's default ensemble


def test_predict_uses_the_lstm_refit_on_the_whole_history(oscillating, tmp_path):
    series, run = oscillating
    history = series.split_last(H)[0]
    final, valid = read_meta(find_checkpoint(run.run_dir)), read_meta(find_checkpoint(run.run_dir / "validation"))
    assert final["data_fingerprint"] == fingerprint(series) != valid["data_fingerprint"]
    assert run.selection.validation_fingerprint == valid["data_fingerprint"] == fingerprint(history)
    assert final["windows"] - run.selection.validation_windows == len(series) * H  # H more origins per series
    assert fc.Selection.from_json(final["selection"]) == run.selection
    by_hand = fc.fit_forecast(run.config, series, tmp_path / "by_hand", progress=False)
    np.testing.assert_array_equal(fc.predict_series(run, series).mean,
                                  fc.predict(by_hand.model, run.config, series.values).mean)  # fmt: skip
    validation = fc.load_forecast(run.run_dir / "validation")  # the validation score is its forecast's
    forecast = fc.predict(validation.model, run.config, history.values).mean
    actual = np.stack(series.split_last(H)[1])
    scale = np.array([np.abs(np.diff(h)).mean() for h in history.values])
    assert run.selection.validation["lstm"]["mase"] == pytest.approx(
        np.mean(np.abs(actual - forecast).mean(axis=1) / scale), rel=1e-9)  # fmt: skip


def test_settings_left_out_are_derived_and_given_ones_kept(oscillating):
    series, run = oscillating
    assert run.config.data.input_size == 3 * H and run.config.train.steps == 150  # derived; given
    lengths = [48] * 10 + [20] * 10
    cfg = fc.ForecastConfig(data=fc.DataConfig(horizon=H, period=12, batch_size=32))
    resolved = fc.resolve_config(cfg, [np.zeros(n) for n in lengths])
    windows = sum(n - H for n in lengths)  # origins n - H down to 1
    assert resolved.train.steps == min(3000, max(200, math.ceil(50 * windows / 32)))
    assert resolved.data.input_size == 24  # two seasons beat three horizons
    short = fc.resolve_config(cfg, [np.zeros(n) for n in (15, 18)])
    assert short.data.input_size == 18 - H and short.train.steps == 200  # as long as the longest input allows
    given = fc.ForecastConfig(data=fc.DataConfig(input_size=7, horizon=H), train=fc.ForecastTrainConfig(steps=9))
    assert fc.resolve_config(given, [np.zeros(n) for n in lengths]) == given
    for kind in ("direct", "recursive", "seq2seq"):  # the explicit kinds keep their fixed defaults
        explicit = fc.ForecastConfig(model=fc.ModelConfig(kind=kind))
        assert (explicit.data.input_size, explicit.train.steps, explicit.model.ensemble) == (24, 1000, 1)
        assert fc.resolve_config(explicit, [np.zeros(90)]) == explicit
        assert load_config(fc.ForecastConfig, None, [f"model.kind={kind}"]) == explicit


def test_close_candidates_forecast_as_their_inverse_mase_combination(tmp_path):
    """Random walks: naive, Theta and ETS are close, an LSTM trained for two steps is far behind. The
    ``combination_size`` best of the candidates within 1.5 times the best validation MASE are combined with
    weights 1 / MASE; the combination's validation row and `predict_series` are the weighted forecasts
    computed by hand; ``select = "best"`` takes the best alone."""
    rng = np.random.default_rng(1)
    values = [100 + np.cumsum(rng.normal(0, 1, 40)) for _ in range(8)]
    series = fc.SeriesSet.from_arrays(values)
    names = ("lstm", "naive", "theta", "ets")
    settings = [f"data.horizon={H}", "model.hidden_size=4", "model.ensemble=1", "train.steps=2",
                f"model.candidates={list(names)}", "model.combination_size=2", *QUIET]  # fmt: skip
    run = fc.fit_auto(load_config(fc.ForecastConfig, None, settings), series, tmp_path / "mix", progress=False)
    rows, weights = run.selection.validation, run.selection.weights
    best = min(rows[n]["mase"] for n in names)
    within = {n: 1 / rows[n]["mase"] for n in names if rows[n]["mase"] <= 1.5 * best}
    assert len(within) >= 3  # so the size of 2 binds
    members = {n: within[n] for n in sorted(within, key=within.get, reverse=True)[:2]}
    assert run.selection.winner == "combination"
    assert weights == pytest.approx({n: w / sum(members.values()) for n, w in members.items()}, rel=1e-12)

    def by_hand(histories, lstm_run):
        parts = {"lstm": fc.predict(lstm_run.model, lstm_run.config, histories).mean,
                 **{n: fc.forecast_baseline(n, histories, H) for n in names[1:]}}  # fmt: skip
        return sum(weights[n] * parts[n] for n in weights)

    history, actual = series.split_last(H)
    mixed = by_hand(history.values, fc.load_forecast(run.run_dir / "validation"))
    scale = np.array([np.abs(np.diff(h)).mean() for h in history.values])
    expected = np.mean(np.abs(np.stack(actual) - mixed).mean(axis=1) / scale)
    assert rows["combination"]["mase"] == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(fc.predict_series(run, series).mean, by_hand(series.values, run), rtol=1e-12)
    assert run.selection.describe().startswith("a combination of ") and "(weights: inverse validation MASE)" in \
        run.selection.summary()  # fmt: skip
    with pytest.raises(ValueError, match=r"forecasts with a combination of .* --set model\.kind=direct"):
        export_run(run.run_dir, tmp_path / "refused")
    alone = fc.fit_auto(load_config(fc.ForecastConfig, None, [*settings, "model.select=best"]), series,
                        tmp_path / "best", progress=False)  # fmt: skip
    assert alone.selection.winner == max(members, key=members.get)  # the lowest MASE
    assert "combination" not in alone.selection.validation and alone.selection.weights == {alone.selection.winner: 1}


def test_the_combination_takes_the_best_few_within_the_trim():
    """`combination_weights`: at most ``size`` members (3 by default), the best on validation among those
    within 1.5 times the best MASE, weighted 1 / MASE; equal scores rank the simpler first; exact ones alone."""
    rows = {n: {"mase": m} for n, m in [("lstm", 1.0), ("theta", 1.1), ("ets", 1.2), ("naive", 1.4),
                                          ("seasonal_naive", 1.6)]}  # fmt: skip
    inverse = {"lstm": 1.0, "theta": 1 / 1.1, "ets": 1 / 1.2, "naive": 1 / 1.4}
    cases = [(None, ["lstm", "theta", "ets", "naive"]), (3, ["lstm", "theta", "ets"]), (2, ["lstm", "theta"])]
    for size, kept in cases:  # seasonal_naive is beyond 1.5 times the best
        total = sum(inverse[n] for n in kept)
        weights = fc.combination_weights(rows, size=size)
        assert list(weights) == kept and weights == pytest.approx({n: inverse[n] / total for n in kept}, rel=1e-12)
    assert fc.combination_weights(rows) == fc.combination_weights(rows, size=3) == \
        fc.combination_weights(rows, size=fc.ModelConfig().combination_size)  # fmt: skip
    tied = {n: {"mase": 2.0} for n in ("lstm", "ets", "theta", "naive")}
    assert fc.combination_weights(tied) == pytest.approx({"naive": 1 / 3, "theta": 1 / 3, "ets": 1 / 3})
    exact = {"theta": {"mase": 0.0}, "naive": {"mase": 0.0}, "lstm": {"mase": 1.0}}
    assert fc.combination_weights(exact) == {"naive": 0.5, "theta": 0.5}  # the exact ones, simpler first
    with pytest.raises(ValueError, match="combination_size"):
        fc.ModelConfig(combination_size=1)


def test_forecasts_beyond_the_plausible_range_become_seasonal_naive(tmp_path):
    """An LSTM whose output is pushed 10^4 window deviations up: every row leaves its history's range by far
    except that of a history with an old spike (range 10^7), which stays as the model forecasts it."""
    cfg = fc.ForecastConfig(model=fc.ModelConfig(hidden_size=4), data=fc.DataConfig(input_size=8, horizon=H, period=M))
    model = fc.build_model(cfg.model, H, key=jax.random.key(0))
    model = eqx.tree_at(lambda m: m.out_bias, model, model.out_bias + 1e4)
    values = [y.copy() for y in oscillations(count=3).values]
    values[1][0] = 1e7
    series = fc.SeriesSet.from_arrays(values, ["a", "b", "c"])
    selection = fc.Selection("lstm", {"lstm": {"mase": 0.5, "smape": 1.0, "caught": 0}})
    run = fc.ForecastRun(tmp_path, model, None, cfg, None, None, selection)
    with pytest.warns(RuntimeWarning, match="2 of 3 forecasts left the plausible range .* series a, c"):
        out = fc.predict_series(run, series)
    raw = fc.predict(model, cfg, values).mean
    np.testing.assert_array_equal(out.mean[1], raw[1])
    for i in (0, 2):
        assert raw[i].min() > values[i].max() + 10 * np.ptp(values[i])
        np.testing.assert_array_equal(out.mean[i], values[i][-M:][np.arange(H) % M])
    history = [np.array([0.0, 1.0, 2.0])]  # range 2: plausible from -20 to 22, bounds included
    fixed, caught = fc.catch_implausible(np.array([[-20.0, 22.0], [22.001, 0.0], [np.nan, 0.0]]), history * 3, 1)
    assert caught.tolist() == [False, True, True] and fixed[1:].tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_export_refuses_a_baseline_winner_and_exports_a_winning_lstm(seasonal, oscillating, tmp_path):
    with pytest.raises(ValueError, match=r"forecasts with seasonal_naive, .* --set model\.kind=direct"):
        export_run(seasonal[1].run_dir, tmp_path / "refused")
    series, run = oscillating
    artifact = load_artifact(export_run(run.run_dir, tmp_path / "lstm"))
    history = np.stack(series.values).astype(np.float32)
    out = artifact.call("forecast", history=history, lengths=np.full(len(series), history.shape[1], np.int32))
    np.testing.assert_allclose(out["mean"], fc.predict_series(run, series).mean, rtol=1e-5)


def test_without_statsmodels_theta_and_ets_are_skipped_with_a_note(monkeypatch):
    monkeypatch.setattr(_auto, "has_statsmodels", lambda: False)
    names, notes = _auto.candidate_names(fc.ForecastConfig(data=fc.DataConfig(period=M)))
    assert names == ["lstm", "naive", "seasonal_naive"]
    assert notes == ["theta and ets skipped: they need statsmodels (pip install 'recurrax[forecast]')"]


def test_series_too_short_for_the_validation_window_are_left_out_of_it(tmp_path):
    """Validation scores the series longer than the horizon; the short one is still trained on and forecast."""
    values = [*oscillations(count=3).values, np.array([20.0, 21.0, 22.0])]
    series = fc.SeriesSet.from_arrays(values, ["a", "b", "c", "short"])
    settings = [f"data.horizon={H}", "model.hidden_size=4", "model.ensemble=1", "train.steps=2",
                "model.candidates=['lstm', 'naive']", *QUIET]  # fmt: skip
    cfg = load_config(fc.ForecastConfig, None, settings)
    run = fc.fit_auto(cfg, series, tmp_path / "run", progress=False)
    assert "1 of 4 series are not longer than the horizon: left out of validation" in run.selection.notes[0]
    naive = np.mean([np.abs(y[-H:] - y[-H - 1]).mean() / np.abs(np.diff(y[:-H])).mean() for y in values[:3]])
    assert run.selection.validation["naive"]["mase"] == pytest.approx(naive, rel=1e-12)  # the three long ones
    assert read_meta(find_checkpoint(run.run_dir))["data_fingerprint"] == fingerprint(series)  # all four
    assert fc.predict_series(run, series).mean.shape == (4, H)
    with pytest.raises(ValueError, match="no series is longer than that"):
        fc.fit_auto(cfg, fc.SeriesSet.from_arrays([np.arange(4.0)]), tmp_path / "none", progress=False)


def test_tuning_refuses_auto_and_takes_an_explicit_kind():
    from recurrax.config import ConfigError
    from recurrax.lifecycle import tune_task

    check = tune_task("forecast").check_tune
    with pytest.raises(ConfigError, match="set model.kind = direct"):
        check(load_config(fc.ForecastConfig, None, ["data.validate=true"]))
    check(load_config(fc.ForecastConfig, None, ["data.validate=true", "model.kind=direct"]))
