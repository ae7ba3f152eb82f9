"""Checkpoints: exact round trips (None leaves, static fields, bf16, integer and Python-number leaves), clear
errors for a skeleton that does not match, atomic replacement, content hashes that catch changed files,
incomplete step directories skipped, and a version-1 checkpoint (no hashes) kept as a fixture."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import safetensors

import recurrax as rx
from recurrax.train import load_checkpoint, same_architecture, save_checkpoint
from recurrax.train import find_checkpoint
from recurrax.train._checkpoint import (
    is_complete,
    load_train_state,
    prune_checkpoints,
    read_meta,
    remove_leftovers,
    step_checkpoints,
)

FIXTURE = Path(__file__).parent / "fixtures" / "checkpoint_v1"


class Mixed(eqx.Module):
    lstm: rx.LSTM
    table: jax.Array  # bf16
    counts: jax.Array  # int32
    flags: np.ndarray  # NumPy bool
    scale: float  # a Python number that is a pytree leaf
    offset: int
    missing: jax.Array | None
    name: str = eqx.field(static=True)

    def __init__(self, hidden: int, *, key, missing: bool = True, table_dtype=jnp.bfloat16, name: str = "m"):
        k1, k2, k3 = jax.random.split(key, 3)
        self.lstm = rx.LSTM(3, hidden, key=k1)
        self.table = jax.random.normal(k2, (5, 2)).astype(table_dtype)
        self.counts = jax.random.randint(k3, (4,), -100, 100, jnp.int32)
        self.flags = np.asarray(jax.random.bernoulli(k3, 0.5, (3,)))
        self.scale = float(jax.random.uniform(k2))
        self.offset = int(jax.random.randint(k1, (), 0, 1000))
        self.missing = None if missing else jnp.zeros(2)
        self.name = name


def _assert_same(actual, expected):
    flat_a, tree_a = jax.tree.flatten(actual)
    flat_e, tree_e = jax.tree.flatten(expected)
    assert tree_a == tree_e
    for a, e in zip(flat_a, flat_e):
        assert type(a) is type(e) or (isinstance(a, jax.Array) and isinstance(e, jax.Array))
        if isinstance(e, (jax.Array, np.ndarray)):
            assert a.dtype == e.dtype and a.shape == e.shape
            np.testing.assert_array_equal(np.asarray(a), np.asarray(e))
        else:
            assert a == e


def test_round_trip_is_exact(tmp_path, key):
    model = Mixed(4, key=key, name="saved")
    path = save_checkpoint(tmp_path / "ckpt", model, {"config": {"hidden": 4}, "vocab": ["a", "b"]})
    skeleton = Mixed(4, key=jax.random.fold_in(key, 1), name="saved")
    loaded, meta = load_checkpoint(path, skeleton)
    _assert_same(loaded, model)
    assert loaded.missing is None and loaded.name == "saved"
    assert loaded.table.dtype == jnp.bfloat16 and loaded.counts.dtype == jnp.int32
    assert meta == {"format_version": 1, "config": {"hidden": 4}, "vocab": ["a", "b"]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temporary directory left


def test_tensor_names_are_key_paths(tmp_path, key):
    model = Mixed(4, key=key)
    save_checkpoint(tmp_path / "ckpt", model)
    stored = dict(safetensors.deserialize((tmp_path / "ckpt" / "model.safetensors").read_bytes()))
    cell = ".lstm.layers[0].cell"
    assert set(stored) == {
        f"{cell}.weight_ih", f"{cell}.weight_hh", f"{cell}.bias_ih", f"{cell}.bias_hh",
        ".table", ".counts", ".flags", ".scale", ".offset",
    }  # fmt: skip
    assert stored[f"{cell}.weight_hh"]["dtype"] == "F32" and stored[f"{cell}.weight_hh"]["shape"] == [16, 4]
    assert stored[".table"]["dtype"] == "BF16" and stored[".counts"]["dtype"] == "I32"
    raw = np.frombuffer(stored[f"{cell}.weight_hh"]["data"], np.float32).reshape(16, 4)
    np.testing.assert_array_equal(raw, np.asarray(model.lstm.layers[0].cell.weight_hh))


def test_train_state_round_trip(tmp_path, key):
    model = Mixed(4, key=key)
    state = {"opt_state": (jnp.zeros([], jnp.int32) + 7, {"mu": jnp.arange(3.0)}), "carry": None}
    path = save_checkpoint(tmp_path / "ckpt", model, train_state=state)
    skeleton = {"opt_state": (jnp.zeros([], jnp.int32), {"mu": jnp.zeros(3)}), "carry": None}
    _assert_same(load_train_state(path, skeleton), state)


@pytest.mark.parametrize(
    "skeleton_kwargs, message",
    [
        ({"hidden": 5}, ".lstm.layers[0].cell.weight_hh: shape (16, 4) in the file, (20, 5) in the skeleton"),
        ({"hidden": 4, "missing": False}, ".missing: in the skeleton, not in the file"),
        ({"hidden": 4, "table_dtype": jnp.float32}, ".table: dtype bfloat16 in the file, float32 in the skeleton"),
    ],
)
def test_a_skeleton_that_does_not_match_is_a_clear_error(tmp_path, key, skeleton_kwargs, message):
    path = save_checkpoint(tmp_path / "ckpt", Mixed(4, key=key))
    with pytest.raises(ValueError) as error:
        load_checkpoint(path, Mixed(key=key, **skeleton_kwargs))
    assert "does not match the model it is loaded into" in str(error.value)
    assert message in str(error.value)


def test_extra_tensors_in_the_file_are_an_error(tmp_path, key):
    path = save_checkpoint(tmp_path / "ckpt", Mixed(4, key=key, missing=False))
    with pytest.raises(ValueError, match=r"\.missing: in the file, not in the skeleton"):
        load_checkpoint(path, Mixed(4, key=key))


def test_replacing_a_checkpoint_and_cleaning_leftovers(tmp_path, key):
    first, second = Mixed(4, key=key), Mixed(4, key=jax.random.fold_in(key, 2))
    save_checkpoint(tmp_path / "best", first, {"step": 1})
    save_checkpoint(tmp_path / "best", second, {"step": 2})
    loaded, meta = load_checkpoint(tmp_path / "best", first)
    _assert_same(loaded, second)
    assert meta["step"] == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["best"]

    # an interrupted write leaves a temporary directory; an interrupted replacement, the old copy set aside
    (tmp_path / ".step_000009.tmp-x1").mkdir()
    (tmp_path / "best").rename(tmp_path / ".best.old-x2")
    remove_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]
    _assert_same(load_checkpoint(tmp_path / "best", first)[0], second)


def test_unreadable_checkpoints_are_clear_errors(tmp_path, key):
    with pytest.raises(ValueError, match="not a checkpoint directory"):
        load_checkpoint(tmp_path, Mixed(4, key=key))
    path = save_checkpoint(tmp_path / "ckpt", Mixed(4, key=key))
    (path / "meta.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ValueError, match="format_version 99 is not readable by this recurrax"):
        load_checkpoint(path, Mixed(4, key=key))
    with pytest.raises(ValueError, match="format_version"):
        save_checkpoint(tmp_path / "other", Mixed(4, key=key), {"format_version": 2})
    with pytest.raises(ValueError, match="JSON-able"):
        save_checkpoint(tmp_path / "other", Mixed(4, key=key), {"array": np.zeros(2)})


def test_meta_records_the_sha256_of_each_data_file(tmp_path, key):
    """The hashes in meta.json are hashlib's sha256 of the bytes on disk; read_meta leaves them out."""
    path = save_checkpoint(tmp_path / "ckpt", Mixed(4, key=key), {"step": 3}, train_state={"mu": jnp.arange(3.0)})
    raw = json.loads((path / "meta.json").read_text())
    assert raw["sha256"] == {
        name: hashlib.sha256((path / name).read_bytes()).hexdigest()
        for name in ("model.safetensors", "train_state.safetensors")
    }
    assert read_meta(path) == {"format_version": 1, "step": 3}
    with pytest.raises(ValueError, match="may not set 'sha256'"):
        save_checkpoint(tmp_path / "other", Mixed(4, key=key), {"sha256": {}})


@pytest.mark.parametrize("name", ["model.safetensors", "train_state.safetensors"])
def test_a_changed_data_file_is_an_error_naming_it(tmp_path, key, name):
    """Flipped bytes inside a tensor's data still parse as safetensors; only the hash catches them."""
    model, state = Mixed(4, key=key), {"mu": jnp.arange(3.0)}
    path = save_checkpoint(tmp_path / "ckpt", model, train_state=state)
    data = bytearray((path / name).read_bytes())
    data[-3] ^= 0xFF  # the last tensor's data, not the header
    (path / name).write_bytes(bytes(data))
    load = {
        "model.safetensors": lambda: load_checkpoint(path, model),
        "train_state.safetensors": lambda: load_train_state(path, state),
    }
    with pytest.raises(ValueError) as error:
        load[name]()
    assert str(error.value) == f"{path / name}: content hash mismatch (file changed or corrupt)"
    other = {"model.safetensors": "train_state.safetensors", "train_state.safetensors": "model.safetensors"}[name]
    load[other]()  # the other file is untouched and still loads


def test_an_incomplete_step_directory_is_skipped(tmp_path, key):
    """A step directory without a file it needs (as a pruning cut short leaves it) is not a checkpoint: the
    previous complete one is the last; a checkpoint without hashes needs its model file."""
    root = tmp_path / "run" / "checkpoints"
    models = {step: Mixed(4, key=jax.random.fold_in(key, step)) for step in (1, 2, 3)}
    for step, model in models.items():
        save_checkpoint(root / f"step_{step:06d}", model, {"step": step}, train_state={"n": jnp.zeros(2)})
    (root / "step_000003" / "model.safetensors").unlink()
    (root / "step_000002" / "train_state.safetensors").unlink()
    assert [step for step, _ in step_checkpoints(root)] == [1]
    assert find_checkpoint(tmp_path / "run") == root / "step_000001"
    _assert_same(load_checkpoint(find_checkpoint(tmp_path / "run"), models[1])[0], models[1])
    old = save_checkpoint(tmp_path / "old", models[1])  # as written before the hashes: no sha256 in meta
    meta = json.loads((old / "meta.json").read_text())
    del meta["sha256"]
    (old / "meta.json").write_text(json.dumps(meta))
    assert is_complete(old) and is_complete(FIXTURE)
    (old / "model.safetensors").unlink()
    assert not is_complete(old) and not is_complete(tmp_path / "missing")


def test_pruning_deletes_meta_first(tmp_path, key, monkeypatch):
    """A pruning killed after deleting meta.json leaves a directory that is not taken for a checkpoint."""
    for step in (1, 2):
        save_checkpoint(tmp_path / f"step_{step:06d}", Mixed(4, key=key), {"step": step})

    def killed(path):
        raise KeyboardInterrupt

    monkeypatch.setattr("shutil.rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        prune_checkpoints(tmp_path, keep=1)
    assert (tmp_path / "step_000001" / "model.safetensors").is_file()
    assert [step for step, _ in step_checkpoints(tmp_path)] == [2]


def fixture_tree(tree):
    """The fixture's values: leaf ``i`` (in pytree order) of shape ``S`` holds ``(arange(prod(S)) + 100 i) / 64``
    reshaped to ``S``, cast to the leaf's dtype (exact in bf16 and float32)."""
    leaves, treedef = jax.tree.flatten(tree)
    values = [
        jnp.asarray(((np.arange(leaf.size) + 100 * i) / 64).reshape(leaf.shape)).astype(leaf.dtype)
        if jnp.issubdtype(leaf.dtype, jnp.floating)
        else jnp.asarray((np.arange(leaf.size) + 100 * i).reshape(leaf.shape)).astype(leaf.dtype)
        for i, leaf in enumerate(leaves)
    ]
    return jax.tree.unflatten(treedef, values)


def fixture_skeleton():
    """What the fixture holds: an ``rx.LSTM(2, 3)``, a bf16 table and int32 ids (written by format version 1)."""
    return {
        "lstm": rx.LSTM(2, 3, key=jax.random.key(0)),
        "table": jnp.zeros((2, 2), ml_dtypes.bfloat16),
        "ids": jnp.zeros((3,), jnp.int32),
    }


def test_version_1_fixture_still_loads():
    """tests/fixtures/checkpoint_v1 was written once by ``save_checkpoint(path, fixture_tree(fixture_skeleton()),
    {"config": {"input_size": 2, "hidden_size": 3}, "step": 7})``; it must keep loading unchanged."""
    loaded, meta = load_checkpoint(FIXTURE, fixture_skeleton())
    assert meta == {"format_version": 1, "config": {"input_size": 2, "hidden_size": 3}, "step": 7}
    _assert_same(loaded, fixture_tree(fixture_skeleton()))
    assert float(loaded["lstm"].layers[0].cell.weight_ih[1, 0]) == 102 / 64  # leaf 1 (after 'ids'), element 2


def test_same_architecture_compares_structure_shapes_and_dtypes():
    """Equal for two keys of one architecture; not for another size, another cell, or another dtype."""
    base = rx.LSTM(3, 4, key=jax.random.key(0))
    assert same_architecture(base, rx.LSTM(3, 4, key=jax.random.key(1)))
    assert not same_architecture(base, rx.LSTM(3, 5, key=jax.random.key(0)))
    assert not same_architecture(base, rx.GRU(3, 4, key=jax.random.key(0)))
    assert not same_architecture(base, rx.LSTM(3, 4, dtype=jnp.bfloat16, key=jax.random.key(0)))


def test_write_atomic_replaces_whole_files_and_leaves_no_temporaries(tmp_path):
    from recurrax._files import write_atomic

    target = tmp_path / "deep" / "index.json"
    write_atomic(target, "first\n")
    write_atomic(target, b"second\n")
    assert target.read_text() == "second\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["index.json"]
