"""`fit` on a tiny stateful task (tests/train_task.py): the loss falls, rows hold what they document (gradient
norms against `jax.grad` by hand), one compilation, resume after SIGKILL equals an uninterrupted run bit for
bit, non-finite steps stop or are skipped without poisoning anything, early stopping keeps the best model."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from dataclasses import replace
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import optax
import pytest
import train_task

from recurrax.train import NonFiniteError, OptimConfig, TrainConfig, find_checkpoint, load_checkpoint, read_metrics
from recurrax.train._step import _cached_train_step

SCRIPT = Path(__file__).parent / "train_resume_script.py"
TIMING_KEYS = ("time", "steps_per_s", "tokens_per_s")


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run (30 steps, checkpoints every 10), with its compilations of the train step."""
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    _cached_train_step.cache_clear()  # compile here even if another test already used this loss and optimiser
    handler = _CompileCounter()
    logging.getLogger("jax").addHandler(handler)
    try:
        with jax.log_compiles():
            result = train_task.run(run_dir)
    finally:
        logging.getLogger("jax").removeHandler(handler)
    return result, handler.count


class _CompileCounter(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += "Compiling jit(_train_step)" in record.getMessage()


def _without_timing(rows):
    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in rows]


def _assert_models_equal(actual, expected):
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(e))


def test_loss_falls_and_the_step_compiles_once(straight):
    result, compiles = straight
    assert result.compilations == 1 and compiles == 1
    losses = [row["loss"] for row in result.history if row["split"] == "train"]
    assert len(losses) == 30
    assert np.mean(losses[-12:]) < 0.6 * np.mean(losses[:12])
    valid = [row["loss"] for row in result.history if row["split"] == "valid"]
    assert [row["step"] for row in result.history if row["split"] == "valid"] == [10, 20, 30]
    assert valid[-1] < valid[0]


def test_rows_hold_the_documented_values(straight):
    result, _ = straight
    rows = read_metrics(result.run_dir / "metrics.jsonl")
    assert rows == result.history
    recurrent = [f"grad_norm/rnn.layers[{i}].cell.weight_hh" for i in range(train_task.LAYERS)]
    train_keys = {"step", "split", "loss", "lr", "grad_norm", "update_norm", "mae", *recurrent, *TIMING_KEYS}
    for row in rows:
        assert set(row) == (train_keys if row["split"] == "train" else {"step", "split", "loss", "time"})
    first = rows[0]

    # the first step by hand: same model, carry and batch, gradients from jax.grad, the update from optax
    model, batch = train_task.make_model(), train_task.get_batch(0)

    @eqx.filter_jit
    def value_and_grad(model):
        def loss(model):
            return train_task.loss_fn(model, batch, train_task.init_carry(), None)

        return eqx.filter_value_and_grad(loss, has_aux=True)(model)

    (value, (_, aux)), grads = value_and_grad(model)
    grads = eqx.filter(grads, eqx.is_inexact_array)
    assert first["loss"] == pytest.approx(float(value), rel=1e-5)
    assert first["mae"] == pytest.approx(float(aux["mae"]), rel=1e-5)
    norm = np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in jax.tree.leaves(grads)))
    assert first["grad_norm"] == pytest.approx(norm, rel=1e-5)
    for i, name in enumerate(recurrent):
        g = np.asarray(grads.rnn.layers[i].cell.weight_hh, np.float64)
        assert first[name] == pytest.approx(np.sqrt(np.sum(g**2)), rel=1e-5)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.05))
    with jax.numpy_dtype_promotion("standard"):
        updates, _ = optimizer.update(grads, optimizer.init(grads))
    assert first["update_norm"] == pytest.approx(float(optax.tree.norm(updates)), rel=1e-5)
    assert first["lr"] == pytest.approx(0.05, rel=1e-6)
    assert first["tokens_per_s"] == pytest.approx(train_task.B * train_task.T * first["steps_per_s"])


def test_checkpoints_kept_and_best(straight):
    result, _ = straight
    root = result.run_dir / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["best", "step_000020", "step_000030"]
    valid = {row["step"]: row["loss"] for row in result.history if row["split"] == "valid"}
    best_step = min(valid, key=valid.get)
    best, meta = load_checkpoint(root / "best", train_task.make_model())
    assert meta["step"] == best_step and meta["task"] == "delay"
    _assert_models_equal(best, result.best_model)
    assert train_task.evaluate(best)["loss"] == valid[best_step]
    final, meta = load_checkpoint(root / "step_000030", train_task.make_model())
    _assert_models_equal(final, result.model)
    assert meta["step"] == 30 and meta["metrics"]["train"]["step"] == 30


def _assert_same_run(resumed, straight_result):
    assert _without_timing(resumed.history) == _without_timing(straight_result.history)
    assert _without_timing(read_metrics(resumed.run_dir / "metrics.jsonl")) == _without_timing(straight_result.history)
    _assert_models_equal(resumed.model, straight_result.model)
    _assert_models_equal(resumed.best_model, straight_result.best_model)


def test_resume_after_sigkill_equals_the_uninterrupted_run(straight, tmp_path):
    result, _ = straight
    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, str(SCRIPT), str(run_dir)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoints" / "step_000010").exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    process.stderr.close()
    killed_at = max(row["step"] for row in read_metrics(run_dir / "metrics.jsonl"))
    assert 10 <= killed_at < 30
    resumed = train_task.run(run_dir, resume=True)
    assert resumed.compilations == 0  # loaded state has the shapes and dtypes of a fresh one
    _assert_same_run(resumed, result)


def test_resume_ignores_a_half_written_checkpoint(straight, tmp_path):
    result, _ = straight
    run_dir = tmp_path / "run"
    shutil.copytree(result.run_dir, run_dir)
    shutil.rmtree(run_dir / "checkpoints" / "step_000030")
    half = run_dir / "checkpoints" / ".step_000030.tmp-0dead"
    half.mkdir()
    (half / "model.safetensors").write_bytes(b"\x00" * 10)
    resumed = train_task.run(run_dir, resume=True)
    assert not half.exists()
    _assert_same_run(resumed, result)


def test_resume_skips_a_step_directory_left_incomplete_by_pruning(straight, tmp_path):
    """A kill while pruning can leave ``step_<n>`` without its model file: resume (and `find_checkpoint`,
    without ``best``) take the previous complete step, and the resumed run equals the uninterrupted one."""
    result, _ = straight
    run_dir = tmp_path / "run"
    shutil.copytree(result.run_dir, run_dir)
    root = run_dir / "checkpoints"
    (root / "step_000030" / "model.safetensors").unlink()
    no_best = tmp_path / "no_best"
    shutil.copytree(run_dir, no_best, ignore=shutil.ignore_patterns("best"))
    assert find_checkpoint(no_best) == no_best / "checkpoints" / "step_000020"
    resumed = train_task.run(run_dir, resume=True)
    _assert_same_run(resumed, result)


def test_resume_and_fresh_runs_refuse_the_wrong_directory(straight, tmp_path):
    result, _ = straight
    with pytest.raises(ValueError, match="cannot resume: .* holds no complete checkpoint"):
        train_task.run(tmp_path / "empty", resume=True)
    with pytest.raises(ValueError, match="already holds checkpoints .*pass resume=True"):
        train_task.run(result.run_dir)
    with pytest.raises(ValueError, match="no checkpoint at"):
        find_checkpoint(tmp_path / "empty")
    root = result.run_dir / "checkpoints"
    assert find_checkpoint(result.run_dir) == root / "best"
    assert find_checkpoint(root / "step_000020") == root / "step_000020"


def test_misuse_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="for stateful training pass init_carry"):
        train_task.run(tmp_path / "run", init_carry=None, evaluate=None)
    with pytest.raises(ValueError, match="need an evaluate function"):
        train_task.run(tmp_path / "run", train=replace(train_task.TRAIN, early_stopping_patience=2), evaluate=None)
    with pytest.raises(ValueError, match="meta may not use the keys"):
        train_task.run(tmp_path / "run", meta={"step": 3})


def _poisoned(bad_index: int):
    def get_batch(index):
        batch = train_task.get_batch(index)
        if index == bad_index:
            batch = {**batch, "x": np.full_like(batch["x"], np.nan)}
        return batch

    return get_batch


def test_nonfinite_loss_stops_without_poisoning(tmp_path):
    train = TrainConfig(steps=12, log_every=1, eval_every=0, checkpoint_every=5)
    run_dir = tmp_path / "run"
    with pytest.raises(NonFiniteError) as error:
        train_task.run(run_dir, get_batch=_poisoned(6), train=train, evaluate=None)
    checkpoint = run_dir / "checkpoints" / "step_000005"
    assert error.value.step == 7 and error.value.checkpoint == checkpoint
    assert "at step 7" in str(error.value) and str(checkpoint) in str(error.value)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step_000005"]
    rows = read_metrics(run_dir / "metrics.jsonl")
    assert rows[-1]["step"] == 7 and rows[-1]["nonfinite"] is True and np.isnan(rows[-1]["loss"])

    six = train_task.run(tmp_path / "six", train=replace(train, steps=6), evaluate=None)
    _assert_models_equal(error.value.model, six.model)  # step 7 left the parameters as step 6 made them


def test_nonfinite_skip_goes_on_as_if_the_batch_was_left_out(tmp_path):
    train = TrainConfig(steps=10, log_every=1, eval_every=0, checkpoint_every=0, nonfinite="skip")
    skipped = train_task.run(tmp_path / "skip", get_batch=_poisoned(6), train=train, evaluate=None, progress=True)
    assert skipped.skipped_steps == 1 and skipped.step == 10
    flagged = [row["step"] for row in skipped.history if row.get("nonfinite")]
    assert flagged == [7]
    assert all(np.isfinite(row["loss"]) for row in skipped.history if row["step"] != 7)

    def without_batch_6(index):
        return train_task.get_batch(index + (index >= 6))

    nine = replace(train, steps=9)
    oracle = train_task.run(tmp_path / "oracle", get_batch=without_batch_6, train=nine, evaluate=None)
    _assert_models_equal(skipped.model, oracle.model)
    assert _without_timing([r for r in skipped.history if r["step"] > 7]) == [
        {**r, "step": r["step"] + 1} for r in _without_timing(oracle.history) if r["step"] >= 7
    ]


def test_time_budget_makes_the_step_in_hand_the_last(tmp_path, monkeypatch):
    """With ``max_minutes`` spent, training stops after the current step, evaluated and checkpointed as a last
    step; the parameters equal a run configured for that many steps."""
    clock = iter(range(0, 10_000, 20))  # every reading of the clock is 20 s later: 1 minute = 3 readings
    monkeypatch.setattr("recurrax.train._loop.time.perf_counter", lambda: float(next(clock)))
    budget = TrainConfig(steps=50, log_every=100, eval_every=0, checkpoint_every=0, max_minutes=1.0)
    stopped = train_task.run(tmp_path / "budget", train=budget)
    assert 0 < stopped.step < 50
    assert sorted(p.name for p in (tmp_path / "budget" / "checkpoints").iterdir()) == ["best", f"step_{stopped.step:06d}"]
    splits = [(row["step"], row["split"]) for row in stopped.history]
    assert (stopped.step, "train") in splits and (stopped.step, "valid") in splits
    monkeypatch.undo()
    oracle = train_task.run(tmp_path / "oracle", train=replace(budget, steps=stopped.step, max_minutes=None))
    _assert_models_equal(stopped.model, oracle.model)


def test_early_stopping_plateau_and_best_checkpoint(tmp_path):
    scripted = [3.0, 2.0, 2.5, 2.4, 2.6, 1.0]
    seen = []

    def evaluate(model):
        seen.append(model)
        return {"loss": scripted[len(seen) - 1], "accuracy": 0.5}

    optim = OptimConfig(name="adam", lr=0.04, clip_norm=1.0, schedule="plateau", plateau_patience=1)
    train = TrainConfig(steps=30, log_every=1, eval_every=2, checkpoint_every=0, early_stopping_patience=3)
    result = train_task.run(tmp_path / "run", train=train, optim=optim, evaluate=evaluate)
    assert result.compilations == 1  # lowering the learning rate changes data, not the program
    assert result.stopped_early and result.step == 10 and len(seen) == 5
    lrs = {row["step"]: row["lr"] for row in result.history if row["split"] == "train"}
    expected = {**dict.fromkeys(range(1, 7), 0.04), 7: 0.02, 8: 0.02, 9: 0.01, 10: 0.01}
    assert lrs == pytest.approx(expected, rel=1e-6)
    root = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["best", "step_000010"]
    best, meta = load_checkpoint(root / "best", train_task.make_model())
    assert meta["step"] == 4 and meta["metrics"]["valid"]["accuracy"] == 0.5
    _assert_models_equal(best, seen[1])
    _assert_models_equal(result.best_model, seen[1])


def test_tensorboard_mirrors_the_rows(tmp_path, monkeypatch):
    scalars = []

    class SummaryWriter:
        def __init__(self, logdir, purge_step=None):
            assert Path(logdir) == tmp_path / "run" / "tensorboard" and purge_step is None

        def add_scalar(self, tag, value, step):
            scalars.append((tag, value, step))

        def flush(self):
            pass

        def close(self):
            pass

    monkeypatch.setitem(sys.modules, "tensorboardX", types.SimpleNamespace(SummaryWriter=SummaryWriter))
    train = TrainConfig(steps=3, log_every=1, eval_every=2, checkpoint_every=0, tensorboard=True)
    result = train_task.run(tmp_path / "run", train=train)
    expected = [
        (f"{row['split']}/{key}", value, row["step"])
        for row in result.history
        for key, value in row.items()
        if key not in ("step", "split")
    ]
    assert scalars == expected and ("valid/loss", result.history[2]["loss"], 2) in scalars

    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ValueError, match="train.tensorboard = true needs tensorboardX"):
        train_task.run(tmp_path / "other", train=train)
