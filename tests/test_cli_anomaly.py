"""``recurrax anomaly fit|detect|evaluate`` end to end on a tiny CSV, each output checked against the library
run on the same files, and bad input reported as one line with a non-zero exit."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from recurrax import metrics
from recurrax.cli import main
from recurrax.config import load_config
from recurrax.tasks import anomaly as an

SETTINGS = [  # the scorer's shapes and optimiser match test_anomaly_detectors' run: one compilation for both
    'data.values=["value", "load"]', "scorer.hidden_size=8", "scorer.window=12", "scorer.batch_size=16",
    "optim.lr=0.01", "train.steps=30", "train.log_every=10", "detector.window_size=2", "detector.batch=60",
    "detector.buffer=4",
]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 240-row training series and a 300-row test series (two features) with a labelled burst in the
    first feature (test rows 200..207)."""
    folder = tmp_path_factory.mktemp("anomaly_cli")
    t = np.arange(540)
    y = np.sin(t / 5.0) + 0.05 * np.random.default_rng(0).normal(size=540)
    label = np.zeros(540, int)
    y[440:448] += 2.5
    label[440:448] = 1
    stamps = pd.date_range("2024-01-01", periods=540, freq="h").astype(str)
    frame = pd.DataFrame({"timestamp": stamps, "value": y, "load": np.cos(t / 5.0), "is_anomaly": label})
    frame.iloc[:240].to_csv(folder / "train.csv", index=False)
    frame.iloc[240:].to_csv(folder / "test.csv", index=False)
    frame.iloc[240:].to_parquet(folder / "test.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def fitted(files):
    run_dir = files / "run"
    args = [part for item in SETTINGS for part in ("--set", item)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["anomaly", "fit", "--data", str(files / "train.csv"), *args, "--seed", "3", "--out",
                     str(run_dir), "--no-progress"])  # fmt: skip
    assert code == 0
    return run_dir, printed.getvalue()


def test_fit_writes_the_run_directory(fitted, files):
    run_dir, printed = fitted
    run = an.load_anomaly(run_dir)
    assert run.config.train.seed == 3 and run.config.data.path == str(files / "train.csv")
    train = pd.read_csv(files / "train.csv")[["value", "load"]].to_numpy()
    np.testing.assert_array_equal(run.reference, an.score_series(run.scorer, train))
    assert f"mean training score {np.nanmean(run.reference):.4f}" in printed and str(run_dir) in printed


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_detect_writes_the_library_detection(fitted, files, tmp_path, suffix, capsys):
    run_dir, _ = fitted
    out = tmp_path / "anomalies.csv"
    assert main(["anomaly", "detect", str(run_dir), "--input", str(files / f"test{suffix}"), "--out", str(out),
                 "--plots", str(tmp_path)]) == 0  # fmt: skip
    written = pd.read_csv(out)
    test = pd.read_csv(files / "test.csv")
    expected = an.detect_anomaly(run_dir, test)
    assert list(written.columns) == ["timestamp", "value", "load", "score", "smoothed", "threshold", "is_anomaly"]
    assert written["timestamp"].tolist() == test["timestamp"].tolist()  # row by row with the input
    np.testing.assert_allclose(written["score"], expected["score"], rtol=1e-9)
    np.testing.assert_allclose(written["threshold"], expected["threshold"], rtol=1e-9)
    np.testing.assert_array_equal(written["is_anomaly"], expected["is_anomaly"])
    assert (tmp_path / "test.png").read_bytes()[:4] == b"\x89PNG"
    assert "anomalous sequences" in capsys.readouterr().out


def test_detect_takes_detector_overrides(fitted, files, tmp_path):
    run_dir, _ = fitted
    out = tmp_path / "static.csv"
    args = ["--set", "detector.kind=static", "--set", "detector.threshold=0.8"]
    assert main(["anomaly", "detect", str(run_dir), "-i", str(files / "test.csv"), "-o", str(out), *args]) == 0
    written = pd.read_csv(out)
    np.testing.assert_array_equal(written["is_anomaly"], np.nan_to_num(written["score"]) > 0.8)


def test_evaluate_prints_the_metrics_of_the_detection(fitted, files, tmp_path, capsys):
    run_dir, _ = fitted
    args = ["--input", str(files / "test.csv"), "--label", "is_anomaly", "--plots", str(tmp_path)]
    assert main(["anomaly", "evaluate", str(run_dir), *args]) == 0
    scores = json.loads(capsys.readouterr().out)
    test = pd.read_csv(files / "test.csv")
    truth = test["is_anomaly"].to_numpy(bool)
    pred = an.detect_anomaly(run_dir, test)["is_anomaly"].to_numpy(bool)
    for name, prf in (("point", metrics.point_prf), ("event", metrics.event_prf),
                      ("point_adjusted", metrics.point_adjusted_prf)):  # fmt: skip
        assert [scores[f"{name}_{k}"] for k in ("precision", "recall", "f1")] == pytest.approx(prf(truth, pred))
    assert (tmp_path / "test.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["anomaly", "fit", "--data", "{no_value}"], 1, "lacks the columns ['value']"),
        (["anomaly", "fit", "--data", "{nan}"], 1, "column 'value' holds a missing or non-numeric value at row 1"),
        (["anomaly", "fit", "--data", "{empty}"], 1, "the file is empty"),
        (["anomaly", "fit", "--set", "train.steps=1"], 2, "no data: set data.path or give --data"),
        (["anomaly", "fit", "--bogus"], 2, "--bogus"),
        (["anomaly", "fit", "--data", "{test}", "--set", "detector.kind=magic"], 1, "detector.kind"),
        (["anomaly", "detect", "{run}", "--input", "{no_value}"], 1, "lacks the columns ['value']"),
        (["anomaly", "detect", "{run}", "-i", "{test}", "--set", "scorer.window=3"], 2, "only detector.*"),
        (["anomaly", "evaluate", "{run}", "--input", "{test}"], 1, "needs a label column"),
        (["anomaly", "evaluate", "/nonexistent/run", "--input", "{test}"], 1, "/nonexistent/run"),
    ],
)
def test_errors_are_one_line(argv, code, message, fitted, files, tmp_path, capsys):
    (tmp_path / "no_value.csv").write_text("timestamp,v,load\n0,1.0,1.0\n")
    (tmp_path / "nan.csv").write_text("timestamp,value,load\n0,1.0,1.0\n1,,1.0\n2,3.0,1.0\n")
    (tmp_path / "empty.csv").write_text("")
    fields = {name: tmp_path / f"{name}.csv" for name in ("no_value", "nan", "empty")}
    fields |= {"run": fitted[0], "test": files / "test.csv"}
    assert main([part.format(**fields) for part in argv]) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def _stream(argv, lines, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(line + "\n" for line in lines)))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(argv)
    return code, [json.loads(line) for line in printed.getvalue().splitlines()]


@pytest.mark.parametrize("form", ["json", "array", "csv", "csv-header"])
def test_detect_stream_scores_one_line_per_point(form, fitted, files, monkeypatch):
    run_dir, _ = fitted
    test = pd.read_csv(files / "test.csv")
    rows = test[["value", "load"]].to_numpy()[:40].tolist()
    lines = {
        "json": [json.dumps({"timestamp": "x", "value": v, "load": w}) for v, w in rows],
        "array": [json.dumps([v, w]) for v, w in rows],
        "csv": [f"{v!r},{w!r}" for v, w in rows],
        "csv-header": ["timestamp,load,value"] + [f"t,{w!r},{v!r}" for v, w in rows],
    }[form]
    argv = ["anomaly", "detect", str(run_dir), "--stream", "--set", "detector.kind=static", "--set",
            "detector.threshold=0.5"]  # fmt: skip
    code, out = _stream(argv, lines, monkeypatch)
    assert code == 0 and len(out) == 40
    run = an.load_anomaly(run_dir)
    expected = an.score_series(run.scorer, rows)
    got = np.array([np.nan if o["score"] is None else o["score"] for o in out])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, equal_nan=True)
    assert [o["is_anomaly"] for o in out] == [bool(s > 0.5) for s in np.nan_to_num(expected, nan=-1.0)]


def test_streaming_detector_labels_as_detect(fitted, files):
    run = an.load_anomaly(fitted[0])
    rows = pd.read_csv(files / "test.csv")[["value", "load"]].to_numpy()
    for cfg in (an.DetectorConfig(kind="static", span=3), an.DetectorConfig(kind="quantile", quantile=0.9,
                                                                             history=50, min_history=10)):  # fmt: skip
        found = an.detect(an.score_series(run.scorer, rows), cfg, reference=run.reference)
        stream = an.StreamingDetector(run.scorer, cfg, run.reference)
        points = [stream.update(row) for row in rows]
        assert [p.is_anomaly for p in points] == found.labels.tolist()
        assert found.labels.any()


def test_detect_stream_errors_are_one_line(fitted, monkeypatch, capsys):
    argv = ["anomaly", "detect", str(fitted[0]), "--stream"]
    code, _ = _stream(argv, ["1.0,2.0", "1.0,abc"], monkeypatch)
    assert code != 0 and "stdin line 2" in capsys.readouterr().err


def test_detect_scores_each_series_of_an_id_column_on_its_own(fitted, files, tmp_path):
    """Two series in one file (rows interleaved): each row's score is that of its own series alone."""
    test = pd.read_csv(files / "test.csv")
    other = test.assign(value=test["value"] * 0.5)
    both = pd.concat([test.assign(machine="a"), other.assign(machine="b")]).sort_index(kind="stable")
    both.to_csv(tmp_path / "both.csv", index=False)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["anomaly", "detect", str(fitted[0]), "-i", str(tmp_path / "both.csv"), "--out",
                     str(tmp_path / "out.csv"), "--id", "machine", "--plots", str(tmp_path)])  # fmt: skip
    assert code == 0
    out = pd.read_csv(tmp_path / "out.csv")
    assert out.columns[0] == "machine" and out["machine"].tolist() == both["machine"].tolist()
    run = an.load_anomaly(fitted[0])
    for name, frame in (("a", test), ("b", other)):
        alone = an.detect_anomaly(run, frame)
        mine = out[out["machine"] == name]
        np.testing.assert_allclose(mine["score"].to_numpy(), alone["score"].to_numpy(), rtol=1e-12, equal_nan=True)
        assert mine["is_anomaly"].tolist() == alone["is_anomaly"].tolist()


def test_fit_with_an_id_column_trains_within_each_series(files, tmp_path):
    train = pd.read_csv(files / "train.csv")
    both = pd.concat([train.assign(machine="a"), train.assign(machine="b")], ignore_index=True)
    cfg = load_config(an.AnomalyConfig, None, [*SETTINGS, "data.id=machine", "data.train_fraction=0.5"])
    run = an.fit_anomaly(cfg, both, tmp_path / "run")
    assert len(run.reference) == 240  # 120 rows of each series
    np.testing.assert_array_equal(run.reference[:120], run.reference[120:])
