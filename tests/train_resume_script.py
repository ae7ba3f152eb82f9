"""Run the training-loop test task into ``argv[1]`` slowly, to be killed (SIGKILL) by test_train_loop.py."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).parent))
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

import train_task


def slow_batch(index: int) -> dict:
    time.sleep(0.2)
    return train_task.get_batch(index)


if __name__ == "__main__":
    train_task.run(Path(sys.argv[1]), get_batch=slow_batch)
    sys.exit("finished before it was killed")
