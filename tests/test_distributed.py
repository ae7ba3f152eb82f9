"""Training across devices, on 4 fake CPU devices: tests/distributed_script.py trains the loop-test task
(tests/train_task.py) on 1 and on 4 devices in a subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``; this process (one device) compares the runs.

The oracle is the one-device run: the 4-device loss curve, validation losses and weights equal it to float
tolerance (only the order of the gradient's sums differs); a checkpoint written on 4 devices resumes on 1
(and back) with the rows before the cut unchanged and the rest on the same curve; a resume on the same count
repeats the uninterrupted run bit for bit; an ensemble split across devices follows its one-device path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pytest
import train_task

from recurrax.config import ConfigError, load_config
from recurrax.train import TrainConfig, load_checkpoint, make_placement, read_metrics, shard_batch, start_run_dir
from recurrax.train._checkpoint import load_train_state
from recurrax.train._step import shared_train_step

SCRIPT = Path(__file__).parent / "distributed_script.py"
TIMING_KEYS = ("time", "steps_per_s", "tokens_per_s")
RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("distributed")
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4".strip()
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, str(SCRIPT), str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def results(runs) -> dict:
    return json.loads((runs / "results.json").read_text())


def _rows(run_dir: Path, split: str = "train") -> list[dict]:
    rows = read_metrics(run_dir / "metrics.jsonl")
    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in rows if row["split"] == split]


def _column(run_dir: Path, name: str, split: str = "train") -> np.ndarray:
    return np.array([row[name] for row in _rows(run_dir, split)])


def _final(run_dir: Path):
    """The model and train state (optimiser state, carry) of the run's step-20 checkpoint."""
    checkpoint = run_dir / "checkpoints" / "step_000020"
    model, _ = load_checkpoint(checkpoint, train_task.make_model())
    optimizer = shared_train_step(train_task.loss_fn, train_task.OPTIM, 20).optimizer
    skeleton = {"opt_state": optimizer.init(eqx.filter(model, eqx.is_inexact_array)), "carry": train_task.init_carry()}
    return model, load_train_state(checkpoint, skeleton)


def _assert_trees(actual, expected, exact: bool):
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        if exact:
            np.testing.assert_array_equal(np.asarray(a), np.asarray(e))
        else:
            np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=1e-4, atol=1e-6)


def test_the_four_device_run_is_data_parallel(results):
    assert results["devices"] == 4
    assert results["weight_devices"] == 4 and results["weight_replicated"]
    assert results["batch_rows_per_device"] == [train_task.B // 4]
    assert results["all_reduce_in_step"]
    assert results["compilations"] == {"one": 1, "four": 1, "four_then_one": 0}


@pytest.mark.parametrize("name", ["loss", "grad_norm", "update_norm", "mae"])
def test_four_devices_give_the_one_device_curve(runs, name):
    one, four = _column(runs / "one", name), _column(runs / "four", name)
    assert len(one) == len(four) == 20
    np.testing.assert_allclose(four, one, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(_column(runs / "four", "loss", "valid"), _column(runs / "one", "loss", "valid"),
                               rtol=RTOL)  # fmt: skip


def test_four_devices_reach_the_one_device_weights(runs):
    (one, one_state), (four, four_state) = _final(runs / "one"), _final(runs / "four")
    _assert_trees(four, one, exact=False)
    _assert_trees(four_state, one_state, exact=False)


def test_a_checkpoint_holds_the_four_device_model_exactly(results):
    assert results["checkpoint_equals_memory"]


@pytest.mark.parametrize(("source", "resumed"), [("four", "four_then_one"), ("one", "one_then_four")])
def test_a_checkpoint_resumes_on_another_device_count(runs, source, resumed):
    before, after = _rows(runs / source), _rows(runs / resumed)
    assert after[:10] == before[:10]  # the rows up to the checkpoint, kept as written
    assert [row["step"] for row in after] == list(range(1, 21))
    np.testing.assert_allclose(_column(runs / resumed, "loss"), _column(runs / source, "loss"), rtol=RTOL, atol=ATOL)
    _assert_trees(_final(runs / resumed), _final(runs / source), exact=False)


def test_a_resume_on_the_same_count_repeats_the_run_bit_for_bit(runs):
    assert _rows(runs / "four_then_four") == _rows(runs / "four")
    assert _rows(runs / "four_then_four", "valid") == _rows(runs / "four", "valid")
    _assert_trees(_final(runs / "four_then_four"), _final(runs / "four"), exact=True)


def test_evaluation_with_the_batch_split_gives_the_one_device_metrics(results):
    losses = results["valid_loss"]
    np.testing.assert_allclose(losses["four_split"], losses["four_on_one_device"], rtol=1e-6)


def test_an_ensemble_split_across_devices_follows_its_one_device_path(runs, results):
    assert results["members_per_device"] == [1]
    one, four = _column(runs / "members_one", "loss"), _column(runs / "members_four", "loss")
    assert len(one) == len(four) == 12 and np.mean(one[-6:]) < 0.9 * np.mean(one[:6])
    np.testing.assert_allclose(four, one, rtol=RTOL, atol=ATOL)


def test_bad_device_counts_are_one_line_errors(results):
    errors = results["errors"]
    assert "has 4 rows on its leading (batch) axis, which 3 devices do not divide" in errors["indivisible"]
    assert (
        "JAX sees 4 device(s)" in errors["too_many"] and "xla_force_host_platform_device_count=8" in errors["too_many"]
    )
    with pytest.raises(ValueError, match="JAX sees 1 device"):
        make_placement(2)


def test_one_device_changes_nothing():
    assert make_placement(1) is None and make_placement("all") is None
    x = np.ones((3, 2), np.float32)
    assert shard_batch(x, like=train_task.make_model()) is x


def test_the_devices_option_reads_counts_and_all():
    assert load_config(TrainConfig, None, ["devices=4"]).devices == 4
    assert load_config(TrainConfig, None, ["devices=all"]).devices == "all"
    assert TrainConfig().devices == 1 and TrainConfig().parallel == "batch"
    for bad in ("devices=0", "devices=many", "parallel=model"):
        with pytest.raises(ConfigError, match=bad.split("=")[0]):
            load_config(TrainConfig, None, [bad])


def test_a_run_resumes_with_other_devices_but_not_another_config(tmp_path):
    text = "[train]\nsteps = 20\ndevices = 4\n"
    start_run_dir(tmp_path, text, resume=False)
    start_run_dir(tmp_path, '[train]\nsteps = 20\ndevices = 1\nparallel = "members"\n', resume=True)
    with pytest.raises(ValueError, match="another config"):
        start_run_dir(tmp_path, "[train]\nsteps = 30\ndevices = 4\n", resume=True)
