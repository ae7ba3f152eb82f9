"""The benchmark runner: protocol files, development selection, test scoring, the test-access ledger, the CLI.

Oracles: a fake evaluator whose scores are known functions of (config, split, seed, fold) and which records
every call, so the tests see which splits were read; `statistics` and scipy for the summary; the shipped
protocol files themselves (every one parses and names an importable evaluator).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import types

import numpy as np
import pytest
from scipy import stats

from recurrax import lifecycle
from recurrax.cli import main
from recurrax.lifecycle._protocol import merged, parse_protocol

CALLS: list[tuple] = []


def _fake_evaluate(config, *, split, seed, fold, folds, workdir, data_dir):
    """dev score: ``x`` (+ fold); test score: ``10 x + seed``; records the call."""
    assert workdir.is_dir()
    CALLS.append((split, config["x"], seed, fold))
    if split == "dev":
        return {"score": config["x"] + fold * config.get("fold_bonus", 0.0), "other": 1.0}
    return {"score": 10 * config["x"] + seed, "other": 2.0}


@pytest.fixture
def fake(monkeypatch):
    module = types.ModuleType("fake_benchmark_evaluator")
    module.evaluate = _fake_evaluate
    monkeypatch.setitem(sys.modules, "fake_benchmark_evaluator", module)
    CALLS.clear()
    return CALLS


def _protocol(**overrides):
    data = {
        "description": "a fake protocol",
        "evaluator": "fake_benchmark_evaluator:evaluate",
        "metric": "score",
        "direction": "maximize",
        "seeds": [0, 1, 2],
        "development": "dev",
        "test": "test",
        "budget": "none",
        "config": {"x": 1.0, "nested": {"a": 1, "b": 2}},
        "candidates": {"low": {"x": 1.0}, "high": {"x": 3.0, "nested": {"b": 5}}},
        **overrides,
    }
    return parse_protocol("fake", data)


def test_shipped_protocols_parse_and_name_their_evaluators():
    names = lifecycle.protocol_files()
    assert {"m3", "nab", "uea-japanesevowels", "uea-basicmotions", "lm-tinyshakespeare"} <= set(names)
    for load in names.values():
        protocol = load()
        assert callable(protocol.evaluate_function())
        assert len(protocol.seeds) >= 3 and set(protocol.dev_seeds) <= set(protocol.seeds) | set(protocol.dev_seeds)
        hashes = {lifecycle.config_hash(protocol, protocol.candidate_config(c)) for c in protocol.candidates}
        assert len(hashes) == len(protocol.candidates)


def test_candidate_configs_merge_nested_tables():
    protocol = _protocol()
    assert protocol.candidate_config("high") == {"x": 3.0, "nested": {"a": 1, "b": 5}}
    assert protocol.config == {"x": 1.0, "nested": {"a": 1, "b": 2}}  # not changed by the merge
    assert merged({"a": {"b": 1}}, {"a": 2}) == {"a": 2}
    with pytest.raises(ValueError, match="no candidate 'nope'"):
        protocol.candidate_config("nope")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"seeds": []}, "seeds must be a non-empty list"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"direction": "up"}, "direction must be"),
        ({"evaluator": "no_colon"}, "package.module:function"),
        ({"folds": 0}, "folds must be"),
        ({"candidates": {}}, "candidates must be"),
        ({"published": {"x": "high"}}, "published values"),
        ({"budget": ""}, "budget must be"),
        ({"colour": "red"}, "unknown protocol key"),
    ],
)
def test_bad_protocols_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        _protocol(**overrides)


def test_unknown_protocol_and_evaluator():
    with pytest.raises(ValueError, match="unknown benchmark protocol 'nope'"):
        lifecycle.load_protocol("nope")
    protocol = _protocol(evaluator="no.such.module:evaluate")
    with pytest.raises(ValueError, match="cannot load evaluator"):
        protocol.evaluate_function()


def test_summary_matches_statistics_and_scipy():
    values = [0.9, 0.95, 0.925, 0.97]
    row = lifecycle.summary(values)
    half = stats.t.ppf(0.975, 3) * statistics.stdev(values) / 2
    assert row["n"] == 4 and row["mean"] == pytest.approx(statistics.fmean(values))
    assert row["sd"] == pytest.approx(statistics.stdev(values))
    assert (row["ci95_low"], row["ci95_high"]) == pytest.approx((row["mean"] - half, row["mean"] + half))
    one = lifecycle.summary([0.5])
    assert one["sd"] == 0 and np.isnan(one["ci95_low"])


def test_test_needs_a_development_pick_first(fake, tmp_path):
    with pytest.raises(ValueError, match="choose on development data first"):
        lifecycle.run_protocol(_protocol(), "test", tmp_path, log=lambda line: None)
    assert fake == []


def test_dev_then_test_flow_and_ledger(fake, tmp_path):
    protocol = _protocol()
    dev = lifecycle.run_protocol(protocol, "dev", tmp_path, log=lambda line: None)
    assert dev["picks"] == ["high"]
    assert {call[0] for call in fake} == {"dev"}  # development never reads the test split
    assert lifecycle.read_ledger(tmp_path) == []
    fake.clear()
    test = lifecycle.run_protocol(protocol, "test", tmp_path, log=lambda line: None)
    assert [call[:3] for call in fake] == [("test", 3.0, 0), ("test", 3.0, 1), ("test", 3.0, 2)]
    assert [row["score"] for row in test["per_seed"]] == [30.0, 31.0, 32.0]
    assert test["summary"]["score"]["mean"] == pytest.approx(31.0)
    assert test["summary"]["score"]["sd"] == pytest.approx(1.0)
    ledger = lifecycle.read_ledger(tmp_path)
    assert [(e["protocol"], e["seed"], e["score"]) for e in ledger] == [("fake", s, 30.0 + s) for s in range(3)]
    assert lifecycle.test_access_count(tmp_path, "fake") == 1 == test["test_access_count"]
    written = json.loads((tmp_path / "fake" / "test.json").read_text())
    assert written["summary"]["score"]["mean"] == pytest.approx(31.0) and written["machine"]["cores"] >= 1
    page = (tmp_path / "fake" / "test.md").read_text()
    assert "31.0000 ± 1.0000" in page and "configs that ever saw this test split: 1" in page


def test_a_finished_unit_is_not_scored_or_logged_again(fake, tmp_path):
    protocol = _protocol(candidates={"only": {}})
    lifecycle.run_protocol(protocol, "test", tmp_path, seeds=[0, 1], log=lambda line: None)
    fake.clear()
    record = lifecycle.run_protocol(protocol, "test", tmp_path, log=lambda line: None)  # seeds 0, 1, 2
    assert [call[2] for call in fake] == [2]
    assert len(lifecycle.read_ledger(tmp_path)) == 3 and record["summary"]["score"]["n"] == 3


def test_another_config_counts_as_another_test_access(fake, tmp_path):
    for x in (1.0, 2.0, 2.0):
        protocol = _protocol(config={"x": x}, candidates={"only": {}})
        lifecycle.run_protocol(protocol, "test", tmp_path, seeds=[0], log=lambda line: None)
    assert lifecycle.test_access_count(tmp_path, "fake") == 2
    assert "| fake | score | 20.0000 ± 0.0000 | - | 1 | 20.0000 | 2 |" in lifecycle.benchmark_report(tmp_path)


def test_changed_candidates_invalidate_the_development_pick(fake, tmp_path):
    lifecycle.run_protocol(_protocol(), "dev", tmp_path, log=lambda line: None)
    changed = _protocol(candidates={"low": {"x": 1.0}, "high": {"x": 4.0}})
    with pytest.raises(ValueError, match="run --split dev again"):
        lifecycle.run_protocol(changed, "test", tmp_path, log=lambda line: None)


def test_folds_pick_per_fold_and_average(fake, tmp_path):
    protocol = _protocol(folds=2, config={"x": 1.0, "fold_bonus": 0.0},
                         candidates={"a": {"x": 1.0}, "b": {"x": 2.0}})  # fmt: skip
    dev = lifecycle.run_protocol(protocol, "dev", tmp_path, log=lambda line: None)
    assert dev["picks"] == ["b", "b"] and len(dev["candidates"]["a"]) == 2
    test = lifecycle.run_protocol(protocol, "test", tmp_path, seeds=[0], log=lambda line: None)
    assert test["per_seed"][0]["score"] == 20.0 and len(test["per_seed"][0]["folds"]) == 2
    minimise = _protocol(direction="minimize", folds=2, candidates={"a": {"x": 1.0}, "b": {"x": 2.0}})
    assert lifecycle.run_protocol(minimise, "dev", tmp_path / "min", log=lambda line: None)["picks"] == ["a", "a"]


def test_an_evaluator_without_the_metric_is_an_error(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules["fake_benchmark_evaluator"], "evaluate", lambda config, **kw: {"other": 1.0})
    with pytest.raises(ValueError, match="no finite 'score'"):
        lifecycle.run_protocol(_protocol(candidates={"only": {}}), "test", tmp_path, log=lambda line: None)
    assert [e["score"] for e in lifecycle.read_ledger(tmp_path)] == [None]  # the test split was read all the same
    assert not (tmp_path / "fake" / "units").exists()  # nothing kept: a rerun scores it again


def test_cli_list_run_report(fake, tmp_path, capsys):
    folder = tmp_path / "protocols"
    folder.mkdir()
    (folder / "toy.toml").write_text(
        'description = "toy"\nevaluator = "fake_benchmark_evaluator:evaluate"\nmetric = "score"\n'
        'seeds = [0, 1, 2]\ndevelopment = "d"\ntest = "t"\nbudget = "b"\n[config]\nx = 0.5\n'
    )
    assert main(["benchmark", "list", "--protocols", str(folder)]) == 0
    assert "toy" in capsys.readouterr().out
    results = tmp_path / "results"
    assert main(["benchmark", "run", "toy", "--protocols", str(folder), "-r", str(results), "--seeds", "0,2"]) == 0
    assert "score: 6.0000 ± 1.4142 over 2 seeds; configs that saw this test split: 1" in capsys.readouterr().out
    assert main(["benchmark", "report", "-r", str(results), "--out", str(tmp_path / "r.md")]) == 0
    assert "| toy | score | 6.0000 ± 1.4142 |" in (tmp_path / "r.md").read_text()
    assert main(["benchmark", "run", "nope", "--protocols", str(folder)]) == 1
    assert "unknown benchmark protocol 'nope'" in capsys.readouterr().err


def test_records_name_the_source_revision(tmp_path):
    from recurrax._host import source_revision

    assert source_revision(tmp_path) == {"commit": None, "dirty": None}
    run = lambda *args: subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "f.txt").write_text("a")
    run("add", "f.txt")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert source_revision(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "f.txt").write_text("b")
    assert source_revision(tmp_path) == {"commit": head, "dirty": True}
