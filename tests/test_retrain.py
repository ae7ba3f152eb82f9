"""Re-training: a warm-started challenger that is better is promoted (champion archived), one that is not
better (the same weights, or damaged weights) is refused; both scores match an independent computation."""

from __future__ import annotations

import contextlib
import io
import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from recurrax import metrics
from recurrax.cli import main
from recurrax.config import load_config, to_dict
from recurrax.lifecycle import ModelRegistry, decide, retrain
from recurrax.tasks import forecast as fc
from recurrax.train import save_checkpoint

HORIZON = 4
SETTINGS = [
    "data.input_size=12", f"data.horizon={HORIZON}", "data.period=12", "data.batch_size=16", "model.hidden_size=8",
    "optim.lr=0.03", "train.steps=1", "train.log_every=20", "train.eval_every=0", "train.checkpoint_every=0",
]  # fmt: skip


@pytest.fixture(scope="module")
def series():
    """Three monthly series of 48 values: level, a yearly season, noise."""
    rng, t = np.random.default_rng(0), np.arange(48)
    return fc.SeriesSet.from_arrays([20 + 5 * i + 4 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.3, 48)
                                     for i in range(3)])  # fmt: skip


@pytest.fixture(scope="module")
def registry(series, tmp_path_factory):
    """A registry whose production model ``sales`` v1 was trained for one step on the history."""
    root = tmp_path_factory.mktemp("retrain")
    cfg = load_config(fc.ForecastConfig, None, SETTINGS)
    fc.fit_forecast(cfg, series.split_last(HORIZON)[0], root / "champion", progress=False)
    registry = ModelRegistry(root / "models")
    registry.register("sales", root / "champion", stage="production")
    return registry


def holdout_smape(path, series) -> float:
    """The oracle: sMAPE of the saved model's forecasts of the last HORIZON values, from the library's parts."""
    run = fc.load_forecast(path)
    history, actual = series.split_last(HORIZON)
    return metrics.smape(np.stack(actual), fc.predict(run.model, run.config, history.values).mean)


def saved_as_run(model, cfg, run_dir):
    """A stub trainer's result: ``model`` saved as the run's checkpoint, without training."""
    meta = {"task": "forecast", "config": to_dict(cfg), "scaler": None, "data_fingerprint": "stub"}
    save_checkpoint(run_dir / "checkpoints" / "step_000000", model, meta)
    return run_dir


def test_decide():
    assert decide(10.0, 9.99)[0] and not decide(10.0, 10.0)[0] and not decide(10.0, 10.5)[0]
    assert not decide(10.0, 9.5, 0.1)[0] and decide(10.0, 8.9, 0.1)[0] and decide(-10.0, -11.5, 0.1)[0]
    assert not decide(10.0, float("nan"))[0] and decide(float("inf"), 3.0)[0]
    with pytest.raises(ValueError, match="min_improvement"):
        decide(1.0, 0.5, 1.5)


def test_better_challenger_is_promoted(registry, series, tmp_path):
    before = registry.get("sales", stage="production").version  # v1, trained one step
    decision = retrain(registry, "sales", series, steps=60, run_dir=tmp_path / "challenger")
    assert decision.promoted and decision.champion_version == before
    champion, challenger = registry.get("sales", before), registry.get("sales", decision.challenger_version)
    assert challenger.version == registry.get("sales").version  # the newest
    assert decision.champion_score == pytest.approx(holdout_smape(champion.path, series))
    assert decision.challenger_score == pytest.approx(holdout_smape(challenger.path, series))
    assert decision.challenger_score < 0.5 * decision.champion_score
    assert (champion.stage, challenger.stage) == ("archived", "production")
    assert challenger.metrics == decision.challenger_scores and challenger.notes["retrain"]["promoted"]
    logged = [json.loads(line) for line in registry.log_path("sales").read_text().splitlines()]
    assert logged[-1] == decision.to_dict()
    assert challenger.config["train"]["steps"] == 60 and challenger.config["data"]["horizon"] == HORIZON


def test_equal_or_worse_challenger_is_refused(registry, series, tmp_path):
    production = registry.get("sales", stage="production").version
    log = registry.log_path("sales")
    logged_before = len(log.read_text().splitlines()) if log.is_file() else 0

    def same(model, cfg, train_series, run_dir):
        return saved_as_run(model, cfg, run_dir)

    decision = retrain(registry, "sales", series, trainer=same, run_dir=tmp_path / "same")
    assert not decision.promoted and decision.challenger_score == decision.champion_score  # strictly better only
    assert "is not below" in decision.reason

    def damaged(model, cfg, train_series, run_dir):
        rng = np.random.default_rng(0)  # unit noise on every weight, in NumPy (nothing to compile)
        noisy = jax.tree.map(lambda w: jnp.asarray(np.asarray(w) + rng.normal(size=w.shape).astype(w.dtype)),
                             eqx.filter(model, eqx.is_inexact_array))  # fmt: skip
        return saved_as_run(eqx.combine(noisy, model), cfg, run_dir)

    decision = retrain(registry, "sales", series, trainer=damaged, run_dir=tmp_path / "damaged", metric="mae")
    assert not decision.promoted and decision.challenger_score > 1.5 * decision.champion_score
    challenger = registry.get("sales", decision.challenger_version)
    assert challenger.stage == "archived" and registry.get("sales", stage="production").version == production
    assert len(log.read_text().splitlines()) == logged_before + 2


def test_bad_requests(registry, series, tmp_path):
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        retrain(registry, "sales", series, metric="accuracy", run_dir=tmp_path / "a")
    with pytest.raises(ValueError, match="min_improvement"):
        retrain(registry, "sales", series, min_improvement=2.0, run_dir=tmp_path / "b")
    with pytest.raises(ValueError, match="no quantile_loss"):
        retrain(registry, "sales", series, metric="quantile_loss", run_dir=tmp_path / "q")
    with pytest.raises(ValueError, match="must be a SeriesSet or a path"):
        retrain(registry, "sales", [1.0, 2.0], run_dir=tmp_path / "c")
    other = ModelRegistry(tmp_path / "other")
    other.register("m", registry.get("sales", 1).path)
    with pytest.raises(ValueError, match="has no stage production"):
        retrain(other, "m", series, run_dir=tmp_path / "d")


def test_cli_retrain(registry, series, tmp_path):
    """``recurrax retrain`` on a CSV of the series: the printed decision is the one logged in the registry."""
    frame = pd.concat([pd.DataFrame({"unique_id": name, "ds": pd.date_range("2020-01-01", periods=y.size, freq="MS"),
                                     "y": y}) for name, y in zip(series.ids, series.values)])  # fmt: skip
    frame.to_csv(tmp_path / "new.csv", index=False)
    root = tmp_path / "models"
    ModelRegistry(root).register("sales", registry.get("sales", 1).path, stage="production")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["retrain", "sales", "--data", str(tmp_path / "new.csv"), "--root", str(root), "--steps", "60",
                     "--out", str(tmp_path / "run"), "--no-progress"])  # fmt: skip
    assert code == 0
    lines = out.getvalue().splitlines()
    logged = json.loads((root / "sales" / "retrain.jsonl").read_text())
    assert json.loads(lines[-1]) == logged and logged["promoted"]
    assert lines[0] == f"champion sales v1: smape {logged['champion_score']:.4f}"
    assert lines[2].startswith("promoted to production: challenger")
    assert logged["champion_score"] == pytest.approx(holdout_smape(registry.get("sales", 1).path, series))
    assert ModelRegistry(root).get("sales", stage="production").version == 2


def cases_file(path, seed: int, count: int, shuffle: bool = False):
    """``count`` labelled cases ``[12, 2]`` in an .npz: class "up" rises, class "down" falls, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["up", "down"], count)
    slope = np.where(labels == "up", 1.0, -1.0)[:, None, None] * np.linspace(-1, 1, 12)[None, :, None]
    xs = slope + rng.normal(0, 0.5, (count, 12, 2))
    np.savez(path, xs=xs, labels=rng.permutation(labels) if shuffle else labels)
    return path


def test_classifier_retrain(tmp_path):
    """A classifier champion trained 1 step is beaten by a warm-started challenger; a challenger re-trained on
    shuffled labels is refused. The scores equal `evaluate_cases` on the holdout scaled by each model."""
    from recurrax.data import pad_series
    from recurrax.tasks import classify
    from recurrax.tasks.classify._run import evaluate_cases

    settings = ["model.hidden_size=8", "model.bidirectional=false", "data.batch_size=16", "optim.lr=0.03",
                "train.steps=1", "train.eval_every=0", "select.mode=off",
                f"data.path={cases_file(tmp_path / 'a.npz', 1, 60)}"]  # fmt: skip
    cfg = load_config(classify.ClassifyConfig, None, settings)
    classify.fit_classifier(cfg, tmp_path / "champion", progress=False)
    registry = ModelRegistry(tmp_path / "models")
    registry.register("moves", tmp_path / "champion", stage="production")
    test = cases_file(tmp_path / "test.npz", 3, 40)

    def holdout_loss(path) -> float:
        loaded = classify.load_classifier(path)
        series, labels = classify.read_cases(test)
        xs, lengths = pad_series([(s - loaded.mean) / loaded.std for s in series])
        cases = classify.Cases(xs, lengths, np.asarray([loaded.classes.index(y) for y in labels], np.int32))
        return evaluate_cases(loaded.model, cases, 2, np.ones(2, np.float32), 256)["loss"]

    better = retrain(registry, "moves", cases_file(tmp_path / "b.npz", 2, 60), holdout=test, steps=40,
                     run_dir=tmp_path / "better")  # fmt: skip
    assert better.promoted and better.challenger_score < 0.5 * better.champion_score
    assert better.champion_score == pytest.approx(holdout_loss(registry.get("moves", 1).path), rel=1e-5)
    assert better.challenger_score == pytest.approx(holdout_loss(registry.get("moves", 2).path), rel=1e-5)
    assert better.challenger_scores["accuracy"] >= better.champion_scores["accuracy"]

    noise = cases_file(tmp_path / "noise.npz", 2, 60, shuffle=True)
    worse = retrain(registry, "moves", noise, holdout=test, steps=40, run_dir=tmp_path / "worse")
    assert not worse.promoted and worse.challenger_score > worse.champion_score
    assert registry.get("moves", stage="production").version == 2


def test_classifier_holdout_loss_is_the_tasks_class_weighted_loss(tmp_path):
    """With ``data.class_weights = "balanced"`` the retrain holdout loss is the task's weighted cross-entropy
    (weights from the holdout labels), not a plain mean: checked against NumPy on an unbalanced holdout."""
    from recurrax.tasks.classify import holdout_scores
    from recurrax.tasks import classify

    settings = ["model.hidden_size=8", "model.bidirectional=false", "data.batch_size=16", "train.steps=2",
                "train.eval_every=0", "data.class_weights=balanced", "data.valid_fraction=0", "select.mode=off",
                f"data.path={cases_file(tmp_path / 'a.npz', 1, 40)}"]  # fmt: skip
    classify.fit_classifier(load_config(classify.ClassifyConfig, None, settings), tmp_path / "run", progress=False)
    series, labels = classify.read_cases(cases_file(tmp_path / "h.npz", 3, 30))
    keep = [i for i, label in enumerate(labels) if label == labels[0]][:12] + [
        i for i, label in enumerate(labels) if label != labels[0]][:3]  # fmt: skip
    cases = ([series[i] for i in keep], [labels[i] for i in keep])
    scores = holdout_scores(tmp_path / "run", cases)
    classes = classify.load_classifier(tmp_path / "run").classes
    truth = np.asarray([classes.index(label) for label in cases[1]])
    from recurrax.data import pad_series

    _, p = classify.predict_classifier(tmp_path / "run", *pad_series(cases[0]))
    nll = -np.log(np.maximum(p[np.arange(truth.size), truth], 1e-12))
    w = truth.size / (2 * np.bincount(truth, minlength=2))[truth]
    assert scores["loss"] == pytest.approx(float(np.sum(w * nll) / np.sum(w)), rel=1e-5)
    assert scores["loss"] != pytest.approx(float(nll.mean()), rel=1e-3)
