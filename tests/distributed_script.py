"""Train the loop-test task (tests/train_task.py) on 1 and on 4 fake CPU devices into ``argv[1]``, for
test_distributed.py, which runs this script with ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (the
flag must be set before JAX starts) and checks the runs from its own one-device process.

Run directories: ``one`` and ``four`` (20 steps, checkpoints at 10 and 20); ``four_then_one``,
``one_then_four`` and ``four_then_four`` (the step-10 checkpoint of one run resumed on the other count, or on
the same); ``members_one`` and ``members_four`` (a 4-member ensemble, its members split across the devices).
``results.json`` holds what only this process can see: devices, shardings, compilations, the compiled step's
collectives, the validation loss of the 4-device model with its batch split and on one device, and errors.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

import train_task

from recurrax.train import TrainConfig, load_checkpoint, make_placement, shard_batch
from recurrax.train._step import shared_train_step

TRAIN = replace(train_task.TRAIN, steps=20)
MEMBERS = 4
ENSEMBLE_TRAIN = TrainConfig(steps=12, log_every=1, eval_every=0, checkpoint_every=0)


class _CompileCounter(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += "Compiling jit(_train_step)" in record.getMessage()


def run(run_dir: Path, devices: int, **kwargs):
    """The loop-test task on ``devices`` devices; returns the `FitResult` and the step's compilations."""
    counter = _CompileCounter()
    logging.getLogger("jax").addHandler(counter)
    try:
        with jax.log_compiles():
            result = train_task.run(run_dir, train=replace(TRAIN, devices=devices), **kwargs)
    finally:
        logging.getLogger("jax").removeHandler(counter)
    return result, counter.count


def resume_from_step_10(source: Path, target: Path, devices: int):
    """A copy of ``source`` cut back to its step-10 checkpoint, resumed on ``devices`` devices."""
    shutil.copytree(source, target)
    for later in ("step_000020", "best"):
        shutil.rmtree(target / "checkpoints" / later, ignore_errors=True)
    return run(target, devices, resume=True)


@eqx.filter_jit
def _valid_loss(model, x, y):
    pred, _ = model(x)
    return jnp.mean((pred - y) ** 2)


def valid_loss(model, split: bool) -> float:
    """The validation loss of the loop-test task, its batch split over the model's devices or not."""
    x, y = train_task.VALID[..., None], train_task._delayed(train_task.VALID)
    if split:
        x, y = shard_batch((x, y), like=model)
    return float(_valid_loss(model, x, y))


def ensemble_batch(index: int) -> dict:
    """Member ``m`` reads window ``index + 3 m`` of the streams: one batch per member, ``[M, B, T, ...]``."""
    rows = [train_task.get_batch(index + 3 * m) for m in range(MEMBERS)]
    return {name: np.stack([row[name] for row in rows]) for name in ("x", "y")}


def ensemble_loss(members, batch, carry, key):
    def member_loss(member, x, y):
        pred, _ = member(x)
        return jnp.mean((pred - y) ** 2)

    losses = eqx.filter_vmap(member_loss)(members, batch["x"], batch["y"])
    return jnp.mean(losses), (carry, {})


def make_ensemble(key):
    """``MEMBERS`` taggers stacked on a leading member axis, the layout of `recurrax.models.stack_members`
    (built one by one: vmapping the initialisers costs a long compilation)."""
    models = [train_task.Tagger(key=k) for k in jax.random.split(key, MEMBERS)]
    arrays = [eqx.filter(m, eqx.is_array) for m in models]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *arrays)
    return eqx.combine(stacked, eqx.filter(models[0], eqx.is_array, inverse=True))


def run_ensemble(run_dir: Path, devices: int):
    members = make_ensemble(jax.random.key(3))
    train = replace(ENSEMBLE_TRAIN, devices=devices, parallel="members")
    return train_task.fit(members, ensemble_loss, ensemble_batch, optim=train_task.OPTIM, train=train,
                          run_dir=run_dir, progress=False)  # fmt: skip


def error_of(call) -> str:
    try:
        call()
    except ValueError as error:
        return str(error)
    return "no error"


def main(out: Path) -> None:
    _, one_compiles = run(out / "one", 1)
    four, four_compiles = run(out / "four", 4)
    _, four_then_one_compiles = resume_from_step_10(out / "four", out / "four_then_one", 1)
    resume_from_step_10(out / "one", out / "one_then_four", 4)
    resume_from_step_10(out / "four", out / "four_then_four", 4)
    ensemble = run_ensemble(out / "members_four", 4).model
    run_ensemble(out / "members_one", 1)

    weight = four.model.rnn.layers[0].cell.weight_hh
    placement = make_placement(4)
    batch = placement.put_batch(train_task.get_batch(0))
    step = shared_train_step(train_task.loss_fn, train_task.OPTIM, TRAIN.steps, placement)
    model, opt_state, carry = placement.put_state(
        (four.model, step.optimizer.init(eqx.filter(four.model, eqx.is_inexact_array)), train_task.init_carry())
    )
    compiled = step._jitted.lower(model, opt_state, carry, batch, jax.random.key(0)).lowered.compile().as_text()
    saved, _ = load_checkpoint(out / "four" / "checkpoints" / "step_000020", train_task.make_model())
    results = {
        "devices": jax.device_count(),
        "compilations": {"one": one_compiles, "four": four_compiles, "four_then_one": four_then_one_compiles},
        "weight_devices": len(weight.sharding.device_set),
        "weight_replicated": weight.sharding.is_fully_replicated,
        "batch_rows_per_device": sorted({shard.data.shape[0] for shard in batch["x"].addressable_shards}),
        "all_reduce_in_step": "all-reduce" in compiled,
        "checkpoint_equals_memory": all(
            np.array_equal(a, b) for a, b in zip(jax.tree.leaves(saved), jax.tree.leaves(four.model), strict=True)
        ),
        "members_per_device": sorted(
            {s.data.shape[0] for s in ensemble.rnn.layers[0].cell.weight_hh.addressable_shards}
        ),
        "valid_loss": {
            "four_split": valid_loss(four.model, split=True),
            "four_on_one_device": valid_loss(jax.device_put(four.model, jax.devices()[0]), split=False),
        },
        "errors": {
            "indivisible": error_of(lambda: run(out / "three", 3)),
            "too_many": error_of(lambda: make_placement(8)),
        },
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
