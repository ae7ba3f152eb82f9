"""Checkpoints as data: ``model.safetensors`` + ``meta.json`` (+ ``train_state.safetensors``), written to a
temporary directory and renamed into place, so a directory under its final name is always complete.

``meta.json`` also records the sha256 of each data file (``"sha256": {"model.safetensors": ...}``); the
loaders check the file they read against it, so a file changed or corrupted after saving is an error naming
it. Checkpoints written before the hashes existed (no ``sha256`` key) load unchecked. A ``step_<n>``
directory counts as a checkpoint only when every file it needs is present (`is_complete`), so one left
half-deleted by an interrupted pruning is skipped.

Tensor names are the pytree key paths of the leaves (`jax.tree_util.keystr`, e.g.
``.layers[0].cell.weight_hh``), so files can be read by any safetensors reader. Only array data is stored;
the structure, static fields and ``None`` leaves come from the *skeleton* the checkpoint is loaded into (a
model built from the config kept in ``meta.json``), and every stored tensor must match it in name, shape and
dtype. Python numbers that are pytree leaves are stored as 0-d tensors and come back as the same type.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import tomllib
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import safetensors
import safetensors.numpy

from .._files import fsync_folder, move_into_place, write_synced

FORMAT_VERSION = 1
MODEL_FILE = "model.safetensors"
TRAIN_STATE_FILE = "train_state.safetensors"
META_FILE = "meta.json"
HASHES_KEY = "sha256"
CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
_STEP_DIR = re.compile(r"step_(\d+)")
_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}  # fmt: skip


def save_checkpoint(path: str | Path, model: Any, meta: dict | None = None, *, train_state: Any = None) -> Path:
    """Write ``model`` (any pytree) and the JSON-able ``meta`` to the directory ``path``, atomically.

    The directory holds ``model.safetensors``, ``meta.json`` (``{"format_version": 1, **meta, "sha256":
    {file: hex digest}}``, the hashes of the data files) and, when given, ``train_state.safetensors``
    (optimiser state and carry, for resuming). It is written under a temporary name and renamed; an existing
    checkpoint at ``path`` is replaced. Returns ``path``.

    Example:
        >>> import tempfile, jax, recurrax as rx
        >>> from recurrax.train import save_checkpoint, load_checkpoint
        >>> model = rx.LSTM(2, 3, key=jax.random.key(0))
        >>> path = save_checkpoint(tempfile.mkdtemp() + "/ckpt", model, {"hidden_size": 3})
        >>> loaded, meta = load_checkpoint(path, rx.LSTM(2, 3, key=jax.random.key(1)))
        >>> meta, bool((loaded.layers[0].cell.weight_hh == model.layers[0].cell.weight_hh).all())
        ({'format_version': 1, 'hidden_size': 3}, True)
    """
    path = Path(path)
    meta = dict(meta or {})
    for key in ("format_version", HASHES_KEY):
        if key in meta:
            raise ValueError(f"meta may not set {key!r}; it is written by save_checkpoint")
    files = {MODEL_FILE: _encode(model)}
    if train_state is not None:
        files[TRAIN_STATE_FILE] = _encode(train_state)
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    try:
        meta_text = json.dumps({"format_version": FORMAT_VERSION, **meta, HASHES_KEY: hashes}, indent=1)
    except TypeError as error:
        raise ValueError(f"checkpoint meta must be JSON-able: {error}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        for name, data in files.items():
            write_synced(tmp / name, data)
        write_synced(tmp / META_FILE, meta_text.encode())
        fsync_folder(tmp)
        move_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_checkpoint(path: str | Path, skeleton: Any) -> tuple[Any, dict]:
    """``(model, meta)``: the arrays of the checkpoint directory ``path`` loaded into ``skeleton``.

    ``skeleton`` is a pytree of the same structure (e.g. the model built again from ``meta["config"]``);
    its array leaves may be arrays or `jax.ShapeDtypeStruct`. A missing or extra tensor, or a shape or dtype
    that differs from the skeleton's, is a ValueError listing every difference. A ``model.safetensors`` whose
    sha256 differs from the one in ``meta.json`` is a ValueError naming it (``content hash mismatch``).
    """
    path = Path(path)
    meta, hashes = _read_meta(path)
    return _decode(path / MODEL_FILE, skeleton, hashes.get(MODEL_FILE)), meta


def same_architecture(a: Any, b: Any) -> bool:
    """Whether two models are pytrees of one structure (static fields included) with leaves of equal shapes
    and dtypes: one's weights can stand in for the other's (a warm start)."""
    def specs(tree: Any) -> list[tuple[Any, Any]]:
        return [(getattr(leaf, "shape", None), getattr(leaf, "dtype", None)) for leaf in jax.tree.leaves(tree)]

    return jax.tree.structure(a) == jax.tree.structure(b) and specs(a) == specs(b)


def load_train_state(path: str | Path, skeleton: Any) -> Any:
    """The ``train_state`` saved with a checkpoint, loaded into ``skeleton`` (see `load_checkpoint`; its
    sha256 is checked the same way)."""
    path = Path(path)
    _, hashes = _read_meta(path)
    return _decode(path / TRAIN_STATE_FILE, skeleton, hashes.get(TRAIN_STATE_FILE))


def read_meta(path: str | Path) -> dict:
    """The ``meta.json`` of a checkpoint directory, after checking its format version; the file hashes
    (``sha256``), which the loaders check, are left out."""
    return _read_meta(path)[0]


def is_complete(path: str | Path) -> bool:
    """Whether the checkpoint directory ``path`` holds ``meta.json``, ``model.safetensors`` and every other
    file whose hash ``meta.json`` records (only that they exist: the contents are checked when loaded). An
    unreadable ``meta.json`` is an error, as in `read_meta`."""
    path = Path(path)
    if not (path / META_FILE).is_file():
        return False
    _, hashes = _read_meta(path)
    return all((path / name).is_file() for name in {MODEL_FILE, *hashes})


def _read_meta(path: str | Path) -> tuple[dict, dict[str, str]]:
    """``(meta, hashes)``: ``meta.json`` without its ``sha256`` entry, and that entry (``{}`` when absent)."""
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise ValueError(f"not a checkpoint directory: {path} (no {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{meta_path} is not valid JSON: {error}") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{meta_path}: format_version {version!r} is not readable by this recurrax (reads up to {FORMAT_VERSION})"
        )
    hashes = meta.pop(HASHES_KEY, {})
    if not isinstance(hashes, dict) or not all(isinstance(v, str) for v in hashes.values()):
        raise ValueError(f"{meta_path}: {HASHES_KEY} must map file names to hex digests")
    return meta, hashes


def start_run_dir(run_dir: str | Path, config_text: str, resume: bool) -> Path:
    """Create ``run_dir`` and write its ``config.toml``; refuse a directory that holds a trained run (a
    resume, or any step checkpoint) with a different config (``train.devices`` and ``train.parallel`` may
    change: a run resumes on another device count). Returns ``run_dir`` as a `Path`."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "config.toml"
    trained = resume or any((run_dir / CHECKPOINTS_DIR).glob("step_*"))
    if trained and config_path.is_file() and _run_config(config_path.read_text()) != _run_config(config_text):
        raise ValueError(f"{run_dir} holds a run with another config ({config_path}); use a new run directory")
    config_path.write_text(config_text)
    return run_dir


def _run_config(text: str) -> Any:
    """A config's text as the run it defines: without its ``train`` section's ``devices`` and ``parallel``."""
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return text
    train = config.get("train")
    for key in ("devices", "parallel") if isinstance(train, dict) else ():
        train.pop(key, None)
    return config


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint that ``path`` names: ``path`` itself when it holds ``meta.json``; for a run directory,
    its best-on-validation checkpoint (``checkpoints/best``), else its last complete ``checkpoints/step_<n>``
    (`is_complete`)."""
    path = Path(path)
    if (path / META_FILE).is_file():
        return path
    best = path / CHECKPOINTS_DIR / BEST_DIR
    if is_complete(best):
        return best
    steps = step_checkpoints(path / CHECKPOINTS_DIR)
    if not steps:
        raise ValueError(f"no checkpoint at {path} (neither a checkpoint nor a run directory with checkpoints/)")
    return steps[-1][1]


def step_checkpoints(root: str | Path) -> list[tuple[int, Path]]:
    """The complete ``step_<n>`` checkpoints under ``root`` (`is_complete`), oldest first, as ``(step, path)``."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _STEP_DIR.fullmatch(child.name)
        if match and is_complete(child):
            found.append((int(match.group(1)), child))
    return sorted(found)


def prune_checkpoints(root: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` ``step_<n>`` checkpoints under ``root``; ``meta.json`` goes first,
    so a deletion cut short leaves a directory that is not taken for a checkpoint."""
    for _, path in step_checkpoints(root)[:-keep]:
        (path / META_FILE).unlink()
        shutil.rmtree(path)


def remove_leftovers(root: str | Path) -> None:
    """Clear what an interrupted `save_checkpoint` can leave under ``root``: temporary directories are
    deleted; a replaced checkpoint set aside (``.<name>.old-*``) is put back if its new copy never arrived."""
    root = Path(root)
    if not root.is_dir():
        return
    for child in sorted(root.iterdir()):
        if child.name.startswith(".") and ".tmp-" in child.name:
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(".") and ".old-" in child.name:
            target = root / child.name[1:].split(".old-")[0]
            if target.exists():
                shutil.rmtree(child, ignore_errors=True)
            else:
                os.rename(child, target)


def _is_stored(leaf: Any) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray, np.generic, jax.ShapeDtypeStruct, bool, int, float))


def _encode(tree: Any) -> bytes:
    tensors = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if not _is_stored(leaf):
            continue
        name = jax.tree_util.keystr(path)
        if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            raise ValueError(f"cannot store the PRNG key at {name}; store jax.random.key_data(key) instead")
        tensors[name] = np.array(leaf, order="C")  # a C-contiguous copy; keeps 0-d arrays 0-d
    return safetensors.numpy.save(tensors, metadata={"format": "recurrax", "format_version": str(FORMAT_VERSION)})


def _decode(file: Path, skeleton: Any, sha256: str | None = None) -> Any:
    """The tensors of ``file`` loaded into ``skeleton``, after checking the file's ``sha256`` (when given)."""
    if not file.is_file():
        raise ValueError(f"checkpoint file missing: {file}")
    data = file.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{file}: content hash mismatch (file changed or corrupt)")
    stored = {}
    for name, info in safetensors.deserialize(data):
        if info["dtype"] not in _DTYPES:
            raise ValueError(f"{file}: tensor {name} has unsupported dtype {info['dtype']}")
        stored[name] = np.frombuffer(info["data"], _DTYPES[info["dtype"]]).reshape(info["shape"])
    flat, treedef = jax.tree_util.tree_flatten_with_path(skeleton)
    leaves, problems, expected = [], [], set()
    for path, leaf in flat:
        if not _is_stored(leaf):
            leaves.append(leaf)
            continue
        name = jax.tree_util.keystr(path)
        expected.add(name)
        array = stored.get(name)
        problem = _mismatch(name, array, leaf)
        if problem:
            problems.append(problem)
            leaves.append(leaf)
        else:
            leaves.append(_restore(array, leaf))
    problems += [f"{name}: in the file, not in the skeleton" for name in sorted(set(stored) - expected)]
    if problems:
        shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
        raise ValueError(f"checkpoint {file} does not match the model it is loaded into: {shown}")
    return jax.tree.unflatten(treedef, leaves)


def _mismatch(name: str, array: np.ndarray | None, leaf: Any) -> str | None:
    if array is None:
        return f"{name}: in the skeleton, not in the file"
    if isinstance(leaf, (bool, int, float)):
        if array.shape != ():
            return f"{name}: shape {array.shape} in the file, a Python number in the skeleton"
        return None
    shape, dtype = tuple(leaf.shape), np.dtype(leaf.dtype)
    if array.shape != shape:
        return f"{name}: shape {array.shape} in the file, {shape} in the skeleton"
    if array.dtype != dtype:
        return f"{name}: dtype {array.dtype} in the file, {dtype} in the skeleton"
    return None


def _restore(array: np.ndarray, leaf: Any) -> Any:
    if isinstance(leaf, (bool, int, float)):
        return type(leaf)(array.item())
    if isinstance(leaf, np.generic):
        return array[()].copy()
    if isinstance(leaf, np.ndarray):
        return array.copy()
    return jnp.asarray(array)
