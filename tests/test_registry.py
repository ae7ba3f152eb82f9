"""The model registry (versions, stages, one production model, atomic index, concurrent writers) and MLflow
tracking through a fake ``mlflow`` module."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import threading
import types

import jax
import pytest

import recurrax as rx
from recurrax.cli import main
from recurrax.lifecycle import ModelRegistry, track_to_mlflow
from recurrax.train import save_checkpoint

CONFIG = {"model": {"hidden_size": 3}, "train": {"seed": 0}}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint directory of a tiny LSTM, as `fit` writes them (meta with task, config, fingerprint)."""
    path = tmp_path_factory.mktemp("registry") / "ckpt"
    meta = {"task": "forecast", "config": CONFIG, "data_fingerprint": "abc123", "metrics": {"valid": {"step": 5,
            "split": "valid", "loss": 0.5, "time": 1.0}}}  # fmt: skip
    return save_checkpoint(path, rx.LSTM(2, 3, key=jax.random.key(0)), meta)


@pytest.fixture
def run_dir(tmp_path, checkpoint):
    """A run directory: config.toml, metrics.jsonl, holdout.json and checkpoints/best."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    save_checkpoint(run / "checkpoints" / "best", rx.LSTM(2, 3, key=jax.random.key(1)), {"task": "forecast"})
    (run / "config.toml").write_text('[model]\nhidden_size = 3\ncell = "lstm"\n\n[train]\nseed = 0\n')
    rows = [{"step": 1, "split": "train", "loss": 2.0, "lr": 0.01, "time": 0.1},
            {"step": 2, "split": "train", "loss": 1.5, "lr": 0.01, "nonfinite": False, "time": 0.2},
            {"step": 2, "split": "valid", "loss": 1.7, "smape": 12.5, "time": 0.3}]  # fmt: skip
    (run / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (run / "holdout.json").write_text(json.dumps({"mae": 1.25, "smape": 10.0}))
    return run


def test_register_copies_and_records(tmp_path, checkpoint, run_dir):
    registry = ModelRegistry(tmp_path / "models")
    assert registry.register("sales", checkpoint) == 1
    first = registry.get("sales")
    assert (first.path / "model.safetensors").read_bytes() == (checkpoint / "model.safetensors").read_bytes()
    assert (first.version, first.stage, first.kind, first.task) == (1, "staging", "checkpoint", "forecast")
    assert first.config == CONFIG and first.data_fingerprint == "abc123" and first.metrics == {"loss": 0.5}

    assert registry.register("sales", run_dir, data_fingerprint="f00") == 2  # a run: its best checkpoint
    second = registry.get("sales", 2)
    assert (second.path / "meta.json").read_text() == (run_dir / "checkpoints/best/meta.json").read_text()
    assert second.metrics == {"mae": 1.25, "smape": 10.0} and second.data_fingerprint == "f00"
    assert registry.register("other", checkpoint, metrics={"mae": 3.0}, stage="archived") == 1
    assert [(v.name, v.version, v.metrics) for v in registry.list()] == [
        ("other", 1, {"mae": 3.0}), ("sales", 1, {"loss": 0.5}), ("sales", 2, {"mae": 1.25, "smape": 10.0})
    ]  # fmt: skip
    index = json.loads((tmp_path / "models" / "index.json").read_text())
    assert [e["version"] for e in index["models"]["sales"]] == [1, 2]
    assert not [p for p in (tmp_path / "models").rglob("*") if ".tmp-" in p.name]


def test_register_an_exported_artifact(tmp_path):
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    (artifact / "meta.json").write_text(json.dumps({"format": "recurrax-artifact", "task": "lm", "config": CONFIG}))
    (artifact / "weights.safetensors").write_bytes(b"weights")
    registry = ModelRegistry(tmp_path / "models")
    version = registry.get("lm", registry.register("lm", artifact))
    assert (version.kind, version.task, version.config) == ("artifact", "lm", CONFIG)
    assert (version.path / "weights.safetensors").read_bytes() == b"weights"


def test_stages_keep_one_production_model(tmp_path, checkpoint):
    registry = ModelRegistry(tmp_path / "models")
    for _ in range(3):
        registry.register("m", checkpoint)
    registry.transition("m", 1, "production")
    assert registry.get("m", stage="production").version == 1
    registry.transition("m", 2, "production")
    assert [v.stage for v in registry.list("m")] == ["archived", "production", "staging"]
    assert registry.register("m", checkpoint, stage="production") == 4
    assert [v.stage for v in registry.list("m")] == ["archived", "archived", "staging", "production"]
    assert registry.get("m", stage="staging").version == 3 and registry.get("m").version == 4
    with pytest.raises(ValueError, match="unknown stage 'live'"):
        registry.transition("m", 3, "live")
    with pytest.raises(ValueError, match="unknown stage"):
        registry.register("m", checkpoint, stage="live")
    with pytest.raises(ValueError, match="has no version 9"):
        registry.transition("m", 9, "archived")
    with pytest.raises(ValueError, match="has no version 1 and stage production"):
        registry.get("m", 1, stage="production")
    with pytest.raises(ValueError, match="no model named 'x'.*models: m"):
        registry.get("x")


def test_concurrent_registrations_get_distinct_versions(tmp_path, checkpoint):
    registry = ModelRegistry(tmp_path / "models")
    versions, errors = [], []

    def work():
        try:
            versions.append(ModelRegistry(tmp_path / "models").register("m", checkpoint))
        except Exception as error:  # noqa: BLE001 — reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and sorted(versions) == list(range(1, 9))
    assert [v.version for v in registry.list("m")] == list(range(1, 9))
    assert all((v.path / "meta.json").is_file() for v in registry.list("m"))


def test_bad_input(tmp_path, checkpoint):
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(ValueError, match="not a directory"):
        registry.register("m", tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no checkpoint"):
        registry.register("m", tmp_path / "empty")
    with pytest.raises(ValueError, match="invalid model name"):
        registry.register("../m", checkpoint)
    with pytest.raises(ValueError, match="JSON-able"):
        registry.register("m", checkpoint, metrics={"mae": object()})
    assert registry.register("m", checkpoint) == 1  # the failed registration left nothing behind
    (tmp_path / "models" / "index.json").write_text("{not json")
    with pytest.raises(ValueError, match="malformed registry index"):
        registry.list()


def test_mlflow_missing_is_a_clear_error(run_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # makes `import mlflow` raise ImportError
    with pytest.raises(ValueError, match="pip install mlflow"):
        track_to_mlflow(run_dir, "exp")


def test_mlflow_gets_params_metrics_and_artifacts(run_dir, monkeypatch):
    calls = []
    fake = types.ModuleType("mlflow")
    run = types.SimpleNamespace(info=types.SimpleNamespace(run_id="r1"))

    class Active:
        def __enter__(self):
            return run

        def __exit__(self, *exc):
            calls.append(("end",))

    fake.set_experiment = lambda name: calls.append(("experiment", name))
    fake.start_run = lambda run_name: calls.append(("start", run_name)) or Active()
    fake.log_params = lambda params: calls.append(("params", params))
    fake.log_metric = lambda name, value, step: calls.append(("metric", name, value, step))
    fake.log_metrics = lambda metrics: calls.append(("metrics", metrics))
    fake.log_artifacts = lambda path: calls.append(("artifacts", path))
    monkeypatch.setitem(sys.modules, "mlflow", fake)

    assert track_to_mlflow(run_dir, "sales") == "r1"
    assert calls == [
        ("experiment", "sales"),
        ("start", "run"),
        ("params", {"model.hidden_size": "3", "model.cell": "lstm", "train.seed": "0"}),
        ("metric", "train/loss", 2.0, 1), ("metric", "train/lr", 0.01, 1),
        ("metric", "train/loss", 1.5, 2), ("metric", "train/lr", 0.01, 2),
        ("metric", "valid/loss", 1.7, 2), ("metric", "valid/smape", 12.5, 2),
        ("metrics", {"holdout/mae": 1.25, "holdout/smape": 10.0}),
        ("artifacts", str(run_dir)),
        ("end",),
    ]  # fmt: skip


def cli(*args: str) -> tuple[int, str, str]:
    """``recurrax`` with ``args``: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_cli_register_list_promote_show(tmp_path, checkpoint, run_dir):
    root = str(tmp_path / "models")
    assert cli("registry", "register", "sales", str(checkpoint), "--root", root)[1] == (
        f"registered sales version 1 (staging) in {root}\n"
    )
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({"mase": 0.75}))
    assert cli("registry", "register", "sales", str(run_dir), "--root", root, "--metrics", str(scores))[0] == 0
    assert cli("registry", "promote", "sales", "1", "--root", root)[1] == "sales version 1 is now production\n"
    code, printed, _ = cli("registry", "promote", "sales", "2", "--root", root)
    assert code == 0 and printed == "sales version 2 is now production\nsales version 1 archived\n"
    registry = ModelRegistry(root)
    code, printed, _ = cli("registry", "list", "--root", root)
    lines = [line.split("\t") for line in printed.splitlines()]
    assert [line[:4] for line in lines] == [
        ["sales", "v1", "archived", "forecast"],
        ["sales", "v2", "production", "forecast"],
    ]
    assert lines[1][4:] == [registry.get("sales", 2).created, "mase 0.75"]
    code, printed, _ = cli("registry", "show", "sales", "--stage", "production", "--root", root)
    assert json.loads(printed) == registry.get("sales", 2).to_dict()
    code, _, err = cli("registry", "promote", "sales", "1", "--stage", "live", "--root", root)
    assert code == 1 and err.startswith("recurrax: error: unknown stage 'live'") and err.count("\n") == 1
    assert cli("registry", "show", "nope", "--root", root)[0] == 1
