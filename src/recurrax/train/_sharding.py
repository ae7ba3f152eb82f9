"""Training across devices: a `Placement` lays the train state and the batches out on a one-axis `Mesh`.

``train.devices`` (1, a count ``N`` or ``"all"``) picks the devices; ``train.parallel`` the layout:

- ``"batch"`` (data parallel): parameters, optimiser state and carry are replicated on every device; every
  batch array with a leading axis is split along it, ``B / N`` rows per device. The train step is the same
  jitted function: from these input shardings XLA's sharding propagation computes each device's part of
  the loss and inserts the all-reduce (sum) of the gradient, so every replica applies the same update.
  The loss curve equals one device's up to the order of float additions.
- ``"members"`` (sharded ensembles, `recurrax.models.stack_members`): the member axis ``[M, ...]`` of every
  parameter, optimiser-state and batch array is split, ``M / N`` members per device; a member's forward and
  backward pass stay on its device, only the global gradient norm (clipping, logged statistics) and the
  mean loss cross devices.

Inside the step the new parameters, optimiser state and carry are constrained to the layout they came in
with, so the second step finds the shardings of the first and nothing compiles again. The carry of
stateful training (``[L, B, H]``) stays replicated (an all-gather of ``L B H`` numbers per step).

Checkpoints hold whole arrays (the replicas agree, shards are gathered), so a run saved on ``N`` devices
resumes on any other count. Several processes (hosts) join one mesh with `initialize_distributed`, called
before any other JAX work; every process then runs the same ``fit``, feeds the same global batch and keeps
the rows of the devices it owns (``jax.make_array_from_callback``); process ``i > 0`` writes its copy of the
run under ``run_dir/process_<i>`` (`process_run_dir`). Member-sharded ensembles stay on one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

AXIS = "devices"
Parallel = Literal["batch", "members"]
_SIZE_NAMES = {"batch": "batch size", "member": "number of members"}


@dataclass(frozen=True)
class Placement:
    """Where `fit`'s arrays live on ``mesh`` (one axis, ``"devices"``) for the layout ``parallel``.

    - `put_batch(batch)`: every array leaf with ``ndim >= 1`` split on its leading axis (the batch axis, or
      the member axis of an ensemble's ``[M, B, ...]`` batch); 0-d leaves replicated.
    - `put_state(tree)` / `constrain_state(tree)` (inside ``jit``): replicated (``"batch"``), or split on the
      leading member axis where ``ndim >= 1`` (``"members"``).

    A leading size that ``N`` does not divide is a ValueError naming the leaf.
    """

    mesh: Mesh
    parallel: Parallel = "batch"

    @property
    def size(self) -> int:
        """``N``, the number of devices."""
        return self.mesh.size

    def put_batch(self, batch: Any) -> Any:
        """``batch`` on the mesh, split on the leading axis of every leaf with one (see the class docstring)."""
        what = "member" if self.parallel == "members" else "batch"
        return _put(batch, lambda path, leaf: self._split(path, leaf, what))

    def put_state(self, tree: Any) -> Any:
        """Parameters, optimiser state or carry on the mesh in the layout of ``parallel``."""
        return _put(tree, self._state_sharding)

    def constrain_state(self, tree: Any) -> Any:
        """`put_state` inside a traced function: `jax.lax.with_sharding_constraint` on every array leaf."""
        flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
        leaves = [
            jax.lax.with_sharding_constraint(leaf, self._state_sharding(path, leaf)) if _is_array(leaf) else leaf
            for path, leaf in flat
        ]
        return jax.tree.unflatten(treedef, leaves)

    def _state_sharding(self, path: tuple, leaf: Any) -> NamedSharding:
        if self.parallel == "members" and np.ndim(leaf) >= 1:
            return self._split(path, leaf, "member")
        return NamedSharding(self.mesh, PartitionSpec())

    def _split(self, path: tuple, leaf: Any, what: str) -> NamedSharding:
        shape = np.shape(leaf)
        if not shape:
            return NamedSharding(self.mesh, PartitionSpec())
        if shape[0] % self.size:
            name = jax.tree_util.keystr(path) or "the batch"
            raise ValueError(
                f"train.devices: {name} has {shape[0]} rows on its leading ({what}) axis, which {self.size} "
                f"devices do not divide; use a {_SIZE_NAMES[what]} that is a multiple of {self.size}"
            )
        return NamedSharding(self.mesh, PartitionSpec(AXIS))


def make_placement(devices: int | str = 1, parallel: Parallel = "batch") -> Placement | None:
    """The `Placement` over the first ``devices`` devices (``"all"``: every device of every process), or None
    when that is one device (`fit` then runs exactly as without devices). Asking for more devices than there
    are, or for fewer than all while several processes run, is a ValueError."""
    available = jax.devices()
    count = len(available) if devices == "all" else devices
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"train.devices must be 'all' or a positive count, got {devices!r}")
    if count > len(available):
        raise ValueError(
            f"train.devices = {count}, but JAX sees {len(available)} device(s) ({available[0].platform}); on CPU "
            f"set XLA_FLAGS=--xla_force_host_platform_device_count={count} before JAX starts to test with fakes"
        )
    if jax.process_count() > 1 and count != len(available):
        raise ValueError(
            f"train.devices = {count} with {jax.process_count()} processes: use 'all' ({len(available)} devices)"
        )
    if parallel not in ("batch", "members"):
        raise ValueError(f"train.parallel must be 'batch' or 'members', got {parallel!r}")
    if parallel == "members" and jax.process_count() > 1:
        raise ValueError("train.parallel = 'members' runs on the devices of one process; use 'batch' across hosts")
    if count == 1:
        return None
    mesh = Mesh(np.array(available[:count]), (AXIS,), axis_types=(AxisType.Auto,))
    return Placement(mesh, parallel)


def shard_batch(batch: Any, like: Any) -> Any:
    """``batch`` split on its leading axis over the mesh that the model ``like`` lives on; unchanged when
    ``like`` is on one device. For evaluation functions: ``evaluate(model)`` gets the model `fit` trains
    (replicated, or member-sharded), and its batches split this way run data parallel.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> x = shard_batch(jnp.ones((8, 3)), like=jnp.zeros(2))   # one device: unchanged
        >>> x.shape
        (8, 3)
    """
    sharding = next(
        (leaf.sharding for leaf in jax.tree.leaves(like) if isinstance(leaf, jax.Array)), None
    )  # fmt: skip
    if not isinstance(sharding, NamedSharding) or sharding.mesh.size == 1:
        return batch
    return Placement(sharding.mesh).put_batch(batch)


def process_run_dir(run_dir: Path) -> Path:
    """Where this process writes a run: ``run_dir`` itself in process 0 (and in a one-process run),
    ``run_dir/process_<i>`` in process ``i > 0`` of a multi-host run, so that processes sharing a file system
    never write the same file. Every process keeps a whole copy (the replicas agree) and resumes from it."""
    index = jax.process_index()
    return run_dir if index == 0 else run_dir / f"process_{index}"


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    local_device_ids: list[int] | None = None,
) -> tuple[int, int]:
    """Join this process to a multi-host run (`jax.distributed.initialize`); returns ``(process_index,
    process_count)``. Call it first, before any other JAX work, in every process, then train with
    ``train.devices = "all"``.

    ``coordinator_address`` is ``host:port`` of process 0 (every process passes the same). Arguments left
    None come from ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID`` and
    ``JAX_LOCAL_DEVICE_IDS``, or are detected under Slurm, Open MPI and on Cloud TPU. See docs/distributed.md
    for the command per host.
    """
    if num_processes is None and os.environ.get("JAX_NUM_PROCESSES"):
        num_processes = int(os.environ["JAX_NUM_PROCESSES"])
    if process_id is None and os.environ.get("JAX_PROCESS_ID"):
        process_id = int(os.environ["JAX_PROCESS_ID"])
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        local_device_ids=local_device_ids,
    )
    return jax.process_index(), jax.process_count()


def _is_array(leaf: Any) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray, np.generic))


def _put(tree: Any, sharding_of) -> Any:
    """Every array leaf of ``tree`` placed with ``sharding_of(path, leaf)``; other leaves kept."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    return jax.tree.unflatten(treedef, [_place(leaf, sharding_of(path, leaf)) if _is_array(leaf) else leaf
                                        for path, leaf in flat])  # fmt: skip


def _place(leaf: Any, sharding: NamedSharding) -> jax.Array:
    if isinstance(leaf, jax.Array) and leaf.sharding == sharding:
        return leaf
    if jax.process_count() == 1:
        return jax.device_put(leaf, sharding)
    host = np.asarray(leaf)  # every process holds the whole value; each keeps the rows of its own devices
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
