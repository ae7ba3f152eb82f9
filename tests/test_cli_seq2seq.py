"""``recurrax seq2seq fit|evaluate|translate`` end to end on a tiny numbers run, driven through the entry point:
evaluate reproduces the scores that fit computed (test exact match, the best validation loss of
metrics.jsonl), translate answers as the library does for arguments and files alike, bad input is one line."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from recurrax.cli import main
from recurrax.tasks import seq2seq as S
from recurrax.train import read_metrics

TINY = [
    "model.attention=general", "model.embed_size=8", "model.hidden_size=16", "data.max_number=100",
    "data.train_size=60", "data.test_size=20", "data.valid_size=10", "data.batch_size=25",
    "data.eval_batch_size=20", "data.beam=2", "train.steps=8", "train.eval_every=4",
]  # fmt: skip


def _run(argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` and what it printed on stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``recurrax seq2seq fit`` of a tiny translator (8 steps); the run directory and the printed test scores."""
    run_dir = tmp_path_factory.mktemp("seq2seq") / "run"
    sets = [arg for item in TINY for arg in ("--set", item)]
    code, out = _run(["seq2seq", "fit", *sets, "--seed", "3", "--out", str(run_dir), "--no-progress"])
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("test: "))
    scores = dict(item.rsplit(" ", 1) for item in line.removeprefix("test: ").split(", "))
    return run_dir, {name: float(value) for name, value in scores.items()}


def test_fit_writes_the_run_directory(trained):
    run_dir, scores = trained
    assert "seed = 3" in (run_dir / "config.toml").read_text()
    assert 'attention = "general"' in (run_dir / "config.toml").read_text()
    for name in ("report.md", "attention.png", "metrics.jsonl"):
        assert (run_dir / name).is_file()
    assert set(scores) == {"exact_match", "beam_exact_match", "long_exact_match", "long_count"}
    assert f"| exact_match | {scores['exact_match']:.4f} |" in (run_dir / "report.md").read_text()


def test_evaluate_reproduces_the_scores_of_fit(trained):
    run_dir, scores = trained
    code, out = _run(["seq2seq", "evaluate", str(run_dir)])
    greedy = json.loads(out)
    assert code == 0 and greedy["pairs"] == 20
    assert greedy["exact_match"] == pytest.approx(scores["exact_match"], abs=5e-5)  # k / 20, printed to 4 places
    code, out = _run(["seq2seq", "evaluate", str(run_dir), "--beam", "2"])
    assert json.loads(out)["exact_match"] == pytest.approx(scores["beam_exact_match"], abs=5e-5)
    code, out = _run(["seq2seq", "evaluate", str(run_dir), "--split", "valid"])
    best = min(row["loss"] for row in read_metrics(run_dir / "metrics.jsonl") if row["split"] == "valid")
    assert json.loads(out)["loss"] == pytest.approx(best, rel=1e-6) and json.loads(out)["pairs"] == 10


def test_translate_arguments_and_files_as_the_library_does(trained, tmp_path):
    run_dir, _ = trained
    sentences = [S.english(3), S.english(45), S.english(99)]
    code, out = _run(["seq2seq", "translate", str(run_dir), *sentences, "--plot", str(tmp_path / "a.png")])
    assert code == 0
    lines = out.splitlines()
    assert lines == [*S.translate(run_dir, sentences), f"wrote {tmp_path / 'a.png'}"]
    assert (tmp_path / "a.png").stat().st_size > 0
    (tmp_path / "in.txt").write_text("\n".join(sentences) + "\n")
    code, out = _run(["seq2seq", "translate", str(run_dir), "--input", str(tmp_path / "in.txt"), "--beam", "2"])
    assert code == 0 and out.splitlines() == S.translate(run_dir, sentences, beam=2)


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["translate", "{run}", "zebra"], 1, "tokens not in the vocabulary: ['zebra']"),
        (["translate", "{run}"], 2, "give sentences to translate"),
        (["translate", "{run}", "three", " "], 1, "sentence 2 is empty"),
        (["translate", "{run}", "three", "--beam", "0"], 2, "--beam"),
        (["evaluate", "{run}", "--split", "dev"], 1, "unknown split 'dev'; the run's splits are train, valid, test"),
        (["evaluate", "/nonexistent/run"], 1, "/nonexistent/run"),
        (["fit", "--set", "data.dataset=klingon"], 1, "data.dataset: must be one of numbers"),
        (["fit", "--set", "model.attention=dot"], 1, "model.attention: expected one of"),
    ],
)
def test_errors_are_one_line(trained, argv, code, message, capsys):
    assert main(["seq2seq", *(arg.format(run=trained[0]) for arg in argv)]) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
