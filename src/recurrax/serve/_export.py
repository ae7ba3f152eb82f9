"""`export_run`: a trained run -> an artifact directory that `load_artifact` reads (see `recurrax.serve._artifact`).

What is exported is the task's own inference (`recurrax.tasks.TaskSpec.inference`: the functions its library
predict runs), found in the task registry by the checkpoint's task name; nothing here knows a task.

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
from pathlib import Path
from typing import Any

import jax
import numpy as np
import safetensors.numpy

from .. import __version__
from .._files import move_into_place, write_synced
from ..metrics import REFERENCE_PROFILE_FILE, ReferenceProfile
from ..scan import vendor_kernels
from ..tasks import Function, get_task, task_names
from ..train import CHECKPOINTS_DIR, find_checkpoint, read_meta
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
from ._onnx import function_to_onnx

PLATFORMS = ("cpu", "cuda")
DRIFT_PROFILE_FILE = "drift_profile.json"


def export_function(function: Function, weights: dict[str, np.ndarray]) -> tuple[bytes, dict[str, Any]]:
    """The serialized `jax.export.Exported` of ``function`` (for CPU and CUDA) and its schema entry."""
    dims = dict(zip(SYMBOLS, jax.export.symbolic_shape(", ".join(SYMBOLS))))
    args = {
        spec.name: jax.ShapeDtypeStruct(tuple(dims[d] if isinstance(d, str) else d for d in spec.shape), spec.dtype)
        for spec in function.inputs
    }
    weight_args = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in weights.items()}
    with vendor_kernels(False):  # an artifact calls no library that the serving machine may lack
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

    The checkpoint's task (its ``meta.json``) names the `recurrax.tasks.TaskSpec` whose ``inference`` builds
    the functions, e.g. ``lm``: ``step``; ``classify``: ``predict_proba``; ``forecast``: ``forecast``;
    ``anomaly``: ``score`` and ``score_step`` (each documented by its task's inference builder, e.g.
    `recurrax.tasks.classify.classify_inference`). ``levels`` (quantile levels) is an option of the tasks
    that list it in ``inference_options`` (forecast).

    ``onnx`` adds ``<function>.onnx`` files (jax2onnx; weights inside, ``B`` dynamic, ``T`` fixed at
    ``onnx_steps``, by default the task's own, e.g. a forecaster's ``input_size``; a language model's step
    has no ``T``).

    The run's ``reference_profile.json`` (written at fit time by the classify, forecast and anomaly tasks; for
    a checkpoint path, that of the run directory holding it), when there is one, becomes the artifact's
    ``drift_profile.json``: the reference that the service monitors input drift against.

    Returns ``out_dir``.
    """
    checkpoint = find_checkpoint(run_dir)
    spec = get_task(read_meta(checkpoint).get("task"), having="inference", purpose="export")
    options = {} if levels is None else {"levels": levels}
    refused = sorted(set(options) - set(spec.inference_options))
    if refused:
        raise ValueError(f"{', '.join(refused)} do not apply to a {spec.name} run (its export options: "
                         f"{', '.join(spec.inference_options) or 'none'})")  # fmt: skip
    if onnx and not spec.onnx:
        raise ValueError(f"ONNX export is not offered for a {spec.name} run (only StableHLO); tasks with ONNX: "
                         f"{', '.join(n for n in task_names('inference') if get_task(n).onnx)}")  # fmt: skip
    inference = spec.inference(checkpoint, **options)
    if onnx and onnx_steps is None:
        onnx_steps = inference.onnx_steps
    profile = _run_profile(Path(run_dir), checkpoint)
    return write_artifact(
        out_dir, task=inference.task, functions=inference.functions, weights=inference.weights,
        config=inference.config, data=inference.data, source=inference.source, onnx=onnx,
        onnx_steps=onnx_steps if onnx else None, drift_profile=profile,
    )  # fmt: skip


def _run_profile(path: Path, checkpoint: Path) -> ReferenceProfile | None:
    """The `ReferenceProfile` in the run directory ``path`` or, for a checkpoint ``run/checkpoints/<name>``,
    in ``run``; None when there is none."""
    run_dir = checkpoint.parent.parent if checkpoint.parent.name == CHECKPOINTS_DIR else path
    found = run_dir / REFERENCE_PROFILE_FILE
    return ReferenceProfile.load(found) if found.is_file() else None
