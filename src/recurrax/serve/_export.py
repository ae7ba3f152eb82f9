"""`export_run`: a trained run -> an artifact directory that `load_artifact` reads (see `recurrax.serve._artifact`).

Design: every exported function takes the weights as its first argument (a dict of arrays named as in the
run's checkpoint) rather than closing over them. ``weights.safetensors`` then holds the only copy of the
numbers, readable by any safetensors reader (`recurrax.interop.to_torch`-style converters, inspection, weight
diffs between versions), and the StableHLO modules stay small and describe only the computation.

The batch dimension of every input is the symbol ``B`` and a sequence's time dimension the symbol ``T``
(`jax.export.symbolic_shape`), so one module serves any batch size and sequence length; XLA compiles it once
per concrete shape at call time.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np
import safetensors.numpy

from .. import __version__
from ..metrics._drift import REFERENCE_PROFILE_FILE, ReferenceProfile
from ..train import find_checkpoint, read_meta
from .._files import move_into_place, write_synced
from ..train._checkpoint import CHECKPOINTS_DIR
from ._artifact import (
    FORMAT,
    FORMAT_VERSION,
    HASHES_KEY,
    META_FILE,
    MODULE_SUFFIX,
    SYMBOLS,
    WEIGHTS_FILE,
    artifact_hashes,
)

PLATFORMS = ("cpu", "cuda")
DRIFT_PROFILE_FILE = "drift_profile.json"


@dataclass(frozen=True)
class Input:
    """One input of an exported function: ``shape`` of ints and symbols (``"B"``, ``"T"``), a NumPy
    ``dtype`` name, optional inclusive ``bounds`` (ints or symbols) and ``allow_nan`` (NaN means missing)."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str
    bounds: tuple[int | str, int | str] | None = None
    allow_nan: bool = False

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}
        if self.bounds is not None:
            out["bounds"] = list(self.bounds)
        if self.allow_nan:
            out["allow_nan"] = True
        return out


@dataclass(frozen=True)
class Function:
    """A function to export: ``fn(weights, inputs) -> outputs`` (dicts of arrays), its `Input` list and, for
    a streaming function, the names of the inputs that are also returned as its new ``state``."""

    fn: Callable[[dict[str, jax.Array], dict[str, jax.Array]], dict[str, jax.Array]]
    inputs: tuple[Input, ...]
    state: tuple[str, ...] = ()
    state_batch_axis: int = 0


def model_weights(model: Any, prefix: str = "") -> tuple[dict[str, np.ndarray], Callable[[dict], Any]]:
    """The array leaves of an equinox ``model`` by pytree key path (as checkpoints name them, e.g.
    ``.rnn.layers[0].cell.weight_hh``; ``prefix`` is prepended), and a function that rebuilds the model from
    such a dict (traced arrays allowed)."""
    params, static = eqx.partition(model, eqx.is_array)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    names = [prefix + jax.tree_util.keystr(path) for path, _ in leaves]
    weights = {name: np.asarray(leaf) for name, (_, leaf) in zip(names, leaves)}

    def rebuild(given: dict) -> Any:
        return eqx.combine(jax.tree_util.tree_unflatten(treedef, [given[n] for n in names]), static)

    return weights, rebuild


def export_function(function: Function, weights: dict[str, np.ndarray]) -> tuple[bytes, dict[str, Any]]:
    """The serialized `jax.export.Exported` of ``function`` (for CPU and CUDA) and its schema entry."""
    dims = dict(zip(SYMBOLS, jax.export.symbolic_shape(", ".join(SYMBOLS))))
    args = {
        spec.name: jax.ShapeDtypeStruct(tuple(dims[d] if isinstance(d, str) else d for d in spec.shape), spec.dtype)
        for spec in function.inputs
    }
    weight_args = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in weights.items()}
    exported = jax.export.export(jax.jit(function.fn), platforms=PLATFORMS)(weight_args, args)
    returned = jax.tree_util.tree_unflatten(exported.out_tree, exported.out_avals)
    outputs = [
        {"name": name, "shape": [d if isinstance(d, int) else str(d) for d in aval.shape], "dtype": str(aval.dtype)}
        for name, aval in returned.items()
    ]
    schema: dict[str, Any] = {"inputs": [s.schema() for s in function.inputs], "outputs": outputs, "state": None}
    if function.state:
        schema["state"] = {"names": list(function.state), "batch_axis": function.state_batch_axis}
    return bytes(exported.serialize()), schema


def write_artifact(
    out_dir: str | Path,
    *,
    task: str,
    functions: dict[str, Function],
    weights: dict[str, np.ndarray],
    config: dict[str, Any],
    data: dict[str, Any],
    source: dict[str, Any],
    onnx: bool = False,
    onnx_steps: int | None = None,
    drift_profile: ReferenceProfile | None = None,
) -> Path:
    """Export ``functions`` and write the artifact directory ``out_dir`` atomically (a temporary directory
    renamed into place; an existing artifact there is replaced, any other existing path refused).

    ``onnx`` also writes ``<function>.onnx`` per function (`recurrax.serve._onnx.function_to_onnx`, time
    dimension ``onnx_steps``), listed in ``meta["onnx"]`` as ``{name: {"file", "steps"}}``. ``drift_profile``
    is written to ``drift_profile.json``, named by ``meta["drift_profile"]``. ``meta["sha256"]`` records the
    sha256 of each of these files and of ``meta``'s own content (`recurrax.serve._artifact.artifact_hashes`)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir / META_FILE).is_file():
        if not out_dir.is_dir() or any(out_dir.iterdir()):
            raise ValueError(f"{out_dir} exists and is not an exported model; choose a new output directory")
        out_dir.rmdir()
    weights = {k: np.ascontiguousarray(v) for k, v in weights.items()}
    modules, schemas = {}, {}
    for name, function in functions.items():
        modules[name], schemas[name] = export_function(function, weights)
        schemas[name] = {"file": name + MODULE_SUFFIX, **schemas[name]}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "recurrax_version": __version__,
        "jax_version": jax.__version__,
        "task": task,
        "functions": schemas,
        "data": data,
        "config": config,
        "source": source,
        "onnx": {name: {"file": name + ".onnx", "steps": onnx_steps} for name in functions} if onnx else None,
    }
    if drift_profile is not None:
        meta["drift_profile"] = DRIFT_PROFILE_FILE
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        write_synced(tmp / WEIGHTS_FILE, safetensors.numpy.save(weights))
        for name, blob in modules.items():
            write_synced(tmp / (name + MODULE_SUFFIX), blob)
        if onnx:
            from ._onnx import function_to_onnx

            for name, function in functions.items():
                function_to_onnx(function, weights, tmp / (name + ".onnx"), steps=onnx_steps)
        if drift_profile is not None:
            drift_profile.save(tmp / DRIFT_PROFILE_FILE)
        meta[HASHES_KEY] = artifact_hashes(tmp, meta)
        write_synced(tmp / META_FILE, json.dumps(meta, indent=1).encode())
        move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def export_run(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    levels: tuple[float, ...] | None = None,
    onnx: bool = False,
    onnx_steps: int | None = None,
) -> Path:
    """Export the best (else latest) checkpoint of a run directory (or a checkpoint directory) to ``out_dir``.

    The task comes from the checkpoint's ``meta.json``; each task's own loader rebuilds the model. Functions:

    - ``lm``: ``step`` — ``tokens`` ``[B]`` int32 and the state -> ``logits`` ``[B, V]`` and the new state.
    - ``classify``: ``predict_proba`` — raw ``x`` ``[B, T, D]`` (NaN = missing), ``lengths`` ``[B]`` ->
      ``probs`` ``[B, C]`` (the run's scaling inside).
    - ``forecast``: ``forecast`` — raw ``history`` ``[B, T]`` (left-aligned), ``lengths`` ``[B]`` (and
      ``series`` ``[B]`` for series scaling; ``past`` ``[B, T, K]`` and ``future`` ``[B, H, K]`` for a model
      with covariates, data units) -> ``mean`` ``[B, H]`` (and ``quantiles`` ``[B, H, K]`` at
      ``levels``, default the config's ``quantiles``, for a probabilistic head), in data units.
    - anomaly (a ``prediction`` or ``nll`` scorer): ``score`` — raw ``values`` ``[B, T, D]``, ``lengths`` ->
      ``scores`` ``[B, T]``; ``score_step`` (streaming) — ``x`` ``[B, D]`` and the state -> ``score`` ``[B]``
      and the new state (`recurrax.serve._export_anomaly`).

    ``onnx`` adds ``<function>.onnx`` files (jax2onnx; weights inside, ``B`` dynamic, ``T`` fixed at
    ``onnx_steps``, by default a forecaster's ``input_size``; a language model's step has no ``T``).

    The run's ``reference_profile.json`` (written at fit time by the classify, forecast and anomaly tasks; for
    a checkpoint path, that of the run directory holding it), when there is one, becomes the artifact's
    ``drift_profile.json``: the reference that the service monitors input drift against.

    Returns ``out_dir``. See `recurrax.serve._export_tasks` for each function's exact definition.
    """
    from . import _export_anomaly, _export_tasks  # they import the task modules; the artifact never needs them

    checkpoint = find_checkpoint(run_dir)
    task = read_meta(checkpoint).get("task")
    task = {"anomaly_scorer": "anomaly"}.get(task, task)  # the anomaly task's name before 2026-12-05
    exporters = {"lm": _export_tasks.lm, "classify": _export_tasks.classify, "forecast": _export_tasks.forecast,
                 "anomaly": _export_anomaly.anomaly}  # fmt: skip
    if task not in exporters:
        raise ValueError(f"{checkpoint}: cannot export task {task!r}; exportable tasks: {', '.join(exporters)}")
    options = {"levels": levels} if task == "forecast" else {}
    if levels is not None and task != "forecast":
        raise ValueError(f"levels apply to forecast runs only, not to a {task} run")
    kwargs = exporters[task](checkpoint, **options)
    if onnx and onnx_steps is None and task == "forecast":
        onnx_steps = kwargs["data"]["input_size"]
    profile = _run_profile(Path(run_dir), checkpoint)
    return write_artifact(out_dir, **kwargs, onnx=onnx, onnx_steps=onnx_steps if onnx else None, drift_profile=profile)


def _run_profile(path: Path, checkpoint: Path) -> ReferenceProfile | None:
    """The `ReferenceProfile` in the run directory ``path`` or, for a checkpoint ``run/checkpoints/<name>``,
    in ``run``; None when there is none."""
    run_dir = checkpoint.parent.parent if checkpoint.parent.name == CHECKPOINTS_DIR else path
    found = run_dir / REFERENCE_PROFILE_FILE
    return ReferenceProfile.load(found) if found.is_file() else None
