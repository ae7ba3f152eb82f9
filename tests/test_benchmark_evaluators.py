"""The evaluators behind the shipped benchmark protocols: development splits never read the test data.

Oracles: files that do not exist (a development run that opened the test file would fail), hand counts of
folds and halves, and plain re-computations of the scores (sMAPE weighting, CV means).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from recurrax.metrics import smape
from recurrax.tasks import anomaly, classify, lm
from recurrax.tasks import forecast as fc
from recurrax.tasks.classify._protocol import cv_folds


def test_cv_folds_are_disjoint_stratified_and_cover_every_case():
    labels = ["a"] * 7 + ["b"] * 5 + ["c"] * 3
    folds = cv_folds(labels, 3, seed=4)
    everything = np.concatenate(folds)
    assert sorted(everything.tolist()) == list(range(15))
    for label, count in (("a", 7), ("b", 5), ("c", 3)):
        per_fold = [sum(labels[i] == label for i in fold) for fold in folds]
        assert sum(per_fold) == count and max(per_fold) - min(per_fold) <= 1
    assert [f.tolist() for f in folds] == [f.tolist() for f in cv_folds(labels, 3, seed=4)]
    assert [f.tolist() for f in folds] != [f.tolist() for f in cv_folds(labels, 3, seed=5)]


def _csv_cases(path: Path, count: int, seed: int) -> None:
    """Two classes told apart by the sign of a ramp; univariate rows ``label,v1,v2,...``."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        label = "up" if i % 2 else "down"
        values = (1 if label == "up" else -1) * np.linspace(0, 1, 12) + 0.05 * rng.normal(size=12)
        rows.append(",".join([label, *(f"{v:.4f}" for v in values)]))
    path.write_text("\n".join(rows) + "\n")


CLASSIFY = {
    "cv_folds": 2,
    "model": {"hidden_size": 8},
    "data": {"batch_size": 8, "eval_batch_size": 16, "valid_fraction": 0.0},
    "optim": {"lr": 0.05},
    "train": {"steps": 25, "eval_every": 0, "log_every": 25, "checkpoint_every": 0},
}


def test_classification_dev_is_cross_validation_without_the_test_file(tmp_path):
    _csv_cases(tmp_path / "train.csv", 16, 0)
    config = {**CLASSIFY, "data": {**CLASSIFY["data"], "path": str(tmp_path / "train.csv"),
                                   "test_path": str(tmp_path / "missing.csv")}}  # fmt: skip
    scores = classify.evaluate_protocol(config, split="dev", seed=0, fold=0, folds=1, workdir=tmp_path / "w",
                                        data_dir=None)  # fmt: skip
    assert scores["accuracy"] >= 0.75 and set(scores) == {"accuracy", "macro_f1", "loss"}
    fold_runs = sorted(p.name for p in (tmp_path / "w").iterdir())
    assert fold_runs == ["cv0", "cv1"]
    reports = [(tmp_path / "w" / name / "report.md").read_text() for name in fold_runs]
    assert all("| train | 8 |" in text and "| test | 8 |" in text for text in reports)  # 16 cases, 2 folds
    with pytest.raises(FileNotFoundError, match="missing.csv"):  # the test split does read it
        classify.evaluate_protocol(config, split="test", seed=0, fold=0, folds=1, workdir=tmp_path / "t",
                                   data_dir=None)  # fmt: skip


def test_classification_test_scores_the_test_file(tmp_path):
    _csv_cases(tmp_path / "train.csv", 16, 0)
    _csv_cases(tmp_path / "test.csv", 10, 1)
    config = {**CLASSIFY, "data": {**CLASSIFY["data"], "path": str(tmp_path / "train.csv"),
                                   "test_path": str(tmp_path / "test.csv")}}  # fmt: skip
    scores = classify.evaluate_protocol(config, split="test", seed=0, fold=0, folds=1, workdir=tmp_path,
                                        data_dir=None)  # fmt: skip
    assert scores["accuracy"] >= 0.8
    assert "| test | 10 |" in (tmp_path / "run" / "report.md").read_text()
    no_test = {**config, "data": {**config["data"], "test_path": None}}
    with pytest.raises(ValueError, match="needs data.dataset or data.test_path"):
        classify.evaluate_protocol(no_test, split="test", seed=0, fold=0, folds=1, workdir=tmp_path / "n",
                                   data_dir=None)  # fmt: skip


def test_lm_dev_scores_the_validation_split_only(tmp_path):
    text = "".join(f"{w} is a {k}.\n" for w, k in [("red", "colour"), ("oak", "tree"), ("cat", "pet")] * 12)
    (tmp_path / "corpus.txt").write_text(text)
    config = {
        "model": {"embed_size": 8, "hidden_size": 16, "num_layers": 1},
        "data": {"path": str(tmp_path / "corpus.txt"), "seq_len": 16, "batch_size": 4, "eval_batch_size": 2,
                 "valid_fraction": 0.2, "test_fraction": 0.2},
        "optim": {"lr": 0.02},
        "train": {"steps": 5, "log_every": 5, "eval_every": 0, "checkpoint_every": 0},
    }  # fmt: skip
    dev = lm.evaluate_protocol(config, split="dev", seed=1, fold=0, folds=1, workdir=tmp_path / "d", data_dir=None)
    report = (tmp_path / "d" / "run" / "report.md").read_text()
    assert "| valid |" in report and "| test |" not in report
    test = lm.evaluate_protocol(config, split="test", seed=1, fold=0, folds=1, workdir=tmp_path / "t", data_dir=None)
    assert dev["loss"] != test["loss"] and test["bpc"] == pytest.approx(test["loss"] / np.log(2))
    with pytest.raises(ValueError, match="leaves no test split"):
        no_test = {**config, "data": {**config["data"], "test_fraction": 0.0}}
        lm.evaluate_protocol(no_test, split="test", seed=1, fold=0, folds=1, workdir=tmp_path / "n", data_dir=None)


def test_m3_dev_cut_never_holds_test_values():
    series = SimpleNamespace(x=np.arange(1.0, 21.0), xx=np.array([-1.0] * 6), h=6, period=1, sn="N1")
    dev = fc.M3Series.cut(series, "dev")
    assert dev.x.tolist() == list(range(1, 15)) and dev.xx.tolist() == list(range(15, 21))
    test = fc.M3Series.cut(series, "test")
    assert test.x.tolist() == list(range(1, 21)) and test.xx.tolist() == [-1.0] * 6
    with pytest.raises(ValueError, match="split must be"):
        fc.M3Series.cut(series, "valid")


def test_m3_overall_weighs_every_forecast():
    rng = np.random.default_rng(0)
    actual = {"yearly": rng.uniform(1, 2, (3, 6)), "monthly": rng.uniform(1, 2, (5, 18))}
    forecasts = {f: a * rng.uniform(0.8, 1.2, a.shape) for f, a in actual.items()}
    scores = fc.m3_scores(actual, forecasts)
    every = np.concatenate([(200 * abs(actual[f] - forecasts[f]) / (abs(actual[f]) + abs(forecasts[f]))).ravel()
                            for f in actual])  # fmt: skip
    assert scores["overall"] == pytest.approx(every.mean())
    assert scores["yearly"] == pytest.approx(smape(actual["yearly"], forecasts["yearly"]))


def test_m3_settings_are_checked():
    assert fc.M3Settings.from_dict({"input_scale": [1.0, 2.0]}).input_scale == (1.0, 2.0)
    with pytest.raises(ValueError, match="unknown M3 setting"):
        fc.M3Settings.from_dict({"stepz": 1})
    with pytest.raises(ValueError, match="unknown M3 frequencies"):
        fc.M3Settings.from_dict({"frequencies": ["hourly"]})


def test_nab_halves_are_stratified_disjoint_and_fixed():
    names = [f"cat{c}/file{i}.csv" for c, count in enumerate((7, 4, 1, 10)) for i in range(count)]
    first, second = anomaly.nab_halves(names)
    assert sorted(first + second) == sorted(names) and not set(first) & set(second)
    assert abs(len(first) - len(second)) <= 1
    for c, count in enumerate((7, 4, 1, 10)):
        in_first = sum(name.startswith(f"cat{c}/") for name in first)
        assert abs(in_first - (count - in_first)) <= 1 or count == 1
    assert anomaly.nab_halves(names) == (first, second)
    assert statistics.fmean(len(h) for h in (first, second)) == len(names) / 2


def test_nab_evaluator_refuses_other_fold_counts(tmp_path):
    with pytest.raises(ValueError, match="2 folds"):
        anomaly.evaluate_nab_protocol({}, split="dev", seed=0, fold=0, folds=1, workdir=tmp_path, data_dir=None)
    with pytest.raises(ValueError, match="unknown NAB detector setting"):
        anomaly.evaluate_nab_protocol({"hiden": 3}, split="dev", seed=0, fold=0, folds=2, workdir=tmp_path,
                                      data_dir=None)  # fmt: skip
