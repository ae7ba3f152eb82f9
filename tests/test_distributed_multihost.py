"""Multi-host training on one machine: two processes (tests/multihost_script.py), 2 fake CPU devices each,
joined by `recurrax.train.initialize_distributed` (`jax.distributed`, Gloo collectives on CPU), train the
loop-test task (tests/train_task.py) data parallel on the 4 devices into one run directory. The oracle is
the same task trained here on one device: the same loss curve to float tolerance, in both processes' copies
of the run (process 1 writes under ``run/process_1``), and the same weights in their checkpoints."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jax
import numpy as np
import pytest
import train_task

from recurrax.train import load_checkpoint, read_metrics

SCRIPT = Path(__file__).parent / "multihost_script.py"
TIMING_KEYS = ("time", "steps_per_s", "tokens_per_s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """``(multi-host run directory, one-device run directory)``; the one-device run trains while the
    processes do."""
    out = tmp_path_factory.mktemp("multihost")
    port = str(_free_port())
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2".strip()
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    processes = [
        subprocess.Popen([sys.executable, str(SCRIPT), str(i), port, str(out / "run")], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(2)
    ]  # fmt: skip
    train_task.run(out / "one", train=replace(train_task.TRAIN, steps=20))
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-3000:]
    return out / "run", out / "one"


def _rows(run_dir: Path) -> list[dict]:
    rows = read_metrics(run_dir / "metrics.jsonl")
    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in rows]


@pytest.mark.slow  # three training processes on the CI's two cores; the 4-device tests cover the sharding
@pytest.mark.parametrize("copy", [".", "process_1"])
def test_two_processes_give_the_one_device_curve(runs, copy):
    multi, one = runs
    rows, reference = _rows(multi / copy), _rows(one)
    assert [(r["step"], r["split"]) for r in rows] == [(r["step"], r["split"]) for r in reference]
    np.testing.assert_allclose([r["loss"] for r in rows], [r["loss"] for r in reference], rtol=1e-5, atol=1e-6)
    for name in ("grad_norm", "update_norm"):
        column = [[r[name] for r in table if r["split"] == "train"] for table in (rows, reference)]
        np.testing.assert_allclose(column[0], column[1], rtol=1e-5)


def test_both_processes_checkpoint_the_one_device_weights(runs):
    multi, one = runs
    step = Path("checkpoints") / "step_000020"
    reference, _ = load_checkpoint(one / step, train_task.make_model())
    for copy in (multi, multi / "process_1"):
        model, _ = load_checkpoint(copy / step, train_task.make_model())
        for a, e in zip(jax.tree.leaves(model), jax.tree.leaves(reference), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=1e-4, atol=1e-6)
