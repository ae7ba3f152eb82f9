"""The command line end to end on a tiny corpus, driven through its entry point as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recurrax.cli import main

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_tinyshakespeare = pytest.mark.skipif(
    not (SHARED_DATA / "tinyshakespeare").is_dir(), reason="needs ../shared/data/tinyshakespeare"
)
TINY = [
    "--set", "model.embed_size=8", "--set", "model.hidden_size=16", "--set", "model.num_layers=1",
    "--set", "data.seq_len=16", "--set", "data.batch_size=4", "--set", "data.eval_batch_size=2",
    "--set", "train.steps=12", "--set", "train.eval_every=6", "--set", "train.checkpoint_every=6",
    "--set", "train.log_every=3", "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """``recurrax lm fit`` on a 2 kB text file; returns the run directory and the printed output."""
    folder = tmp_path_factory.mktemp("cli")
    corpus = folder / "corpus.txt"
    corpus.write_text("to be, or not to be, that is the question:\n" * 50)
    run_dir = folder / "run"
    code = main(["lm", "fit", "--set", f"data.path={corpus}", "--seed", "3", "--out", str(run_dir), *TINY])
    assert code == 0
    return run_dir


def test_fit_writes_the_run_directory(trained_run):
    assert (trained_run / "config.toml").is_file()
    assert 'seed = 3' in (trained_run / "config.toml").read_text()
    rows = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows if row.get("split") == "train"][-1] == 12
    assert (trained_run / "report.md").is_file() and (trained_run / "loss_curve.png").is_file()


def test_evaluate_prints_metrics_consistent_with_each_other(trained_run, capsys):
    assert main(["lm", "evaluate", str(trained_run), "--split", "valid"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["perplexity"] == pytest.approx(2.718281828459045 ** metrics["loss"], rel=1e-5)
    assert metrics["bpc"] == pytest.approx(metrics["loss"] / 0.6931471805599453, rel=1e-5)


def test_sample_is_deterministic_per_seed(trained_run, capsys):
    args = ["lm", "sample", str(trained_run), "--prime", "to be", "--length", "40", "--temperature", "0.8"]
    assert main([*args, "--seed", "1"]) == 0
    first = capsys.readouterr().out
    assert main([*args, "--seed", "1"]) == 0
    assert capsys.readouterr().out == first and first.startswith("to be")
    assert main([*args, "--greedy"]) == 0


def test_data_list_and_info(tmp_path, capsys):
    assert main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    assert "tinyshakespeare" in capsys.readouterr().out
    assert main(["info"]) == 0
    assert "jax" in capsys.readouterr().out


@needs_tinyshakespeare
def test_data_commands_on_the_shared_data_folder(capsys):
    assert main(["data", "get", "tinyshakespeare", "--data-dir", str(SHARED_DATA)]) == 0
    assert capsys.readouterr().out.strip() == str(SHARED_DATA / "tinyshakespeare")
    assert main(["data", "list", "--data-dir", str(SHARED_DATA)]) == 0
    assert "tinyshakespeare" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["lm", "fit", "--set", "optim.lrr=1"], 1, "unknown key 'optim.lrr'"),
        (["lm", "fit", "--set", "model.hidden_size=big"], 1, "model.hidden_size"),
        (["lm", "fit", "--bogus"], 2, "--bogus"),
        (["data", "get", "nosuch"], 1, "unknown dataset 'nosuch'"),
        (["lm", "evaluate", "/nonexistent/run"], 1, "/nonexistent/run"),
    ],
)
def test_errors_are_one_line(argv, code, message, capsys):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_classify_fit_evaluate_predict(tmp_path, capsys):
    """``recurrax classify`` end to end; the predictions file agrees with ``evaluate``'s accuracy."""
    from test_classify import _toy_files

    _toy_files(tmp_path, 1)
    run_dir = tmp_path / "run"
    settings = [
        f"data.path={tmp_path / 'train.npz'}", f"data.test_path={tmp_path / 'test.npz'}", "data.batch_size=16",
        "data.valid_fraction=0.25", "model.hidden_size=8", "optim.lr=0.03", "train.steps=20", "train.eval_every=10",
        "select.mode=off",  # the CV selection has its own tests (test_classify_select.py)
    ]  # fmt: skip
    args = [part for item in settings for part in ("--set", item)]
    assert main(["classify", "fit", *args, "--out", str(run_dir), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["classify", "evaluate", str(run_dir), "--split", "test"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert sum(map(sum, scores["confusion"])) == 20
    predictions = tmp_path / "predictions.csv"
    assert main(["classify", "predict", str(run_dir), str(tmp_path / "test.npz"), "--out", str(predictions)]) == 0
    rows = predictions.read_text().splitlines()[1:]
    agreement = sum(row.split(",")[1] == row.split(",")[2] for row in rows) / len(rows)
    assert len(rows) == 20 and agreement == pytest.approx(scores["accuracy"])
