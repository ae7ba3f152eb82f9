"""Process ``argv[1]`` of 2 in a multi-host run on CPU (2 fake devices each, Gloo collectives): joins the
coordinator at ``127.0.0.1:<argv[2]>`` and trains the loop-test task (tests/train_task.py) on all 4 devices
into ``argv[3]``; run by test_distributed_multihost.py, which sets ``XLA_FLAGS`` (2 devices) and
``JAX_PLATFORMS=cpu`` for it (not this module: pytest's doctest collection imports it into its workers)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).parent))
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

import train_task

from recurrax.train import initialize_distributed

if __name__ == "__main__":
    process, port, out = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    assert initialize_distributed(f"127.0.0.1:{port}", 2, process) == (process, 2)
    assert jax.device_count() == 4 and jax.local_device_count() == 2
    train_task.run(out, train=replace(train_task.TRAIN, steps=20, devices="all"))
