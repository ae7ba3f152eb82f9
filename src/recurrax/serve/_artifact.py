"""`load_artifact` and `Artifact`: an exported model that runs without the training code.

An artifact is a directory written by `recurrax.serve.export_run`:

- ``<function>.stablehlo``: one serialized `jax.export.Exported` per function (StableHLO with a symbolic batch
  dimension ``B`` and, where a sequence is an input, a symbolic time dimension ``T``). Each takes
  ``(weights, inputs)`` (two dicts of arrays) and returns a dict of arrays.
- ``weights.safetensors``: the ``weights`` dict, named as in the run's checkpoint (pytree key paths, e.g.
  ``.rnn.layers[0].cell.weight_hh``) plus any preprocessing tables (``scaler.loc``).
- ``meta.json``: ``format``, ``format_version``, ``recurrax_version``, ``jax_version``, ``task``, the run's
  resolved ``config``, the task's data description under ``data`` (vocabulary, class names, scaler
  statistics, quantile levels) and, under ``functions``, each function's schema::

      {"file": "step.stablehlo",
       "inputs":  [{"name": "tokens", "shape": ["B"], "dtype": "int32", "bounds": [0, 64]}, ...],
       "outputs": [{"name": "logits", "shape": ["B", 65], "dtype": "float32"}, ...],
       "state": {"names": ["state_0", "state_1"], "batch_axis": 1} | null}

  A shape entry is an int (fixed) or a symbol (``"B"`` batch, ``"T"`` time; one value per call). ``bounds``
  (optional, inclusive; an int or a symbol) limits integer inputs' values, e.g. ``lengths`` in ``[1, "T"]``;
  ``allow_nan`` (optional) marks float inputs where NaN means missing. A streaming function has ``state``:
  those names are both inputs and outputs (feed each call's returned state to the next), stacked along
  ``batch_axis``; `Artifact.init_state` gives the zero state.
- ``drift_profile.json`` (optional, named by ``meta["drift_profile"]``): the `recurrax.metrics.ReferenceProfile`
  of the training inputs, copied from the run's ``reference_profile.json``; `Artifact.drift_profile` reads it
  and the service monitors input drift against it by default.
- ``meta["sha256"]``: ``{"files": {file: sha256}, "meta": sha256}``, the hashes of every file the artifact
  lists (`listed_files`: weights, modules, ONNX, drift profile) and of ``meta.json``'s own content
  (`meta_digest`: its canonical JSON without this entry, so edited class names or scaler statistics show).
  `load_artifact` compares them; an artifact exported before the hashes existed loads without the comparison.

Loading imports only NumPy, SciPy, JAX and safetensors: no task module, no model class.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import safetensors.numpy

from ..metrics import ReferenceProfile

FORMAT = "recurrax-artifact"
FORMAT_VERSION = 1
META_FILE = "meta.json"
WEIGHTS_FILE = "weights.safetensors"
MODULE_SUFFIX = ".stablehlo"
HASHES_KEY = "sha256"
SYMBOLS = ("B", "T")


def version_tuple(version: str) -> tuple[int, ...]:
    """``"0.10.2"`` -> ``(0, 10, 2)``; a suffix (``rc1``, ``.dev0``) ends the numeric part."""
    match = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


@dataclass(frozen=True)
class Artifact:
    """A loaded artifact (see the module docstring for the files and `load_artifact` for the checks).

    - ``meta``: the parsed ``meta.json``; ``task``: ``"lm"``, ``"classify"``, ``"forecast"``, ...;
      ``functions``: the function names (e.g. ``("step",)`` for a language model).
    - `schema` gives a function's inputs, outputs and state spec; `call` runs it on NumPy arrays after checking
      them against that schema; `init_state` gives a streaming function's zero state.

    Example (an exported language model; its ``meta["data"]["tokenizer"]`` holds the vocabulary)::

        art = load_artifact("exported/lm")
        state = art.init_state(2)                                  # {"state_0": [L, 2, H], ...}
        out = art.call("step", tokens=np.array([3, 5], np.int32), **state)
        logits, state = out["logits"], {k: out[k] for k in state}  # logits [2, V]
    """

    path: Path
    meta: dict[str, Any]
    weights: dict[str, jax.Array]
    exported: dict[str, jax.export.Exported]
    runners: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self):
        # ``jax.jit(exported.call)``: compiled once per function and input shape
        object.__setattr__(self, "runners", {name: jax.jit(module.call) for name, module in self.exported.items()})

    @property
    def task(self) -> str:
        return self.meta["task"]

    @property
    def functions(self) -> tuple[str, ...]:
        return tuple(self.meta["functions"])

    @property
    def drift_profile(self) -> ReferenceProfile | None:
        """The training inputs' `ReferenceProfile` (``meta["drift_profile"]``), None when the artifact has none."""
        name = self.meta.get("drift_profile")
        return None if name is None else ReferenceProfile.load(self.path / name)

    def schema(self, name: str) -> dict[str, Any]:
        """``{"inputs": [...], "outputs": [...], "state": {...} | None}`` of function ``name`` (module docstring)."""
        if name not in self.meta["functions"]:
            raise ValueError(f"the {self.task} artifact has no function {name!r}; it has {', '.join(self.functions)}")
        spec = self.meta["functions"][name]
        return {"inputs": spec["inputs"], "outputs": spec["outputs"], "state": spec.get("state")}

    def init_state(self, batch: int, name: str | None = None) -> dict[str, np.ndarray]:
        """The zero state of ``batch`` streams for streaming function ``name`` (None: the only one)."""
        streaming = [f for f in self.functions if self.meta["functions"][f].get("state")]
        if name is None:
            if len(streaming) != 1:
                raise ValueError(f"name a streaming function; this artifact has {streaming or 'none'}")
            name = streaming[0]
        state = self.schema(name)["state"]
        if not state:
            raise ValueError(f"function {name!r} keeps no state; streaming functions: {streaming or 'none'}")
        if int(batch) < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        specs = {spec["name"]: spec for spec in self.schema(name)["inputs"]}
        return {
            key: np.zeros([batch if d == "B" else d for d in specs[key]["shape"]], specs[key]["dtype"])
            for key in state["names"]
        }

    def call(self, name: str, **arrays: Any) -> dict[str, np.ndarray]:
        """Run function ``name`` on the named input arrays; returns its outputs as NumPy arrays.

        Inputs are checked first, each failure a ValueError naming the input: missing or unknown names, rank,
        dtype kind (integer inputs take integer arrays; float inputs take real numbers, cast to the schema's
        dtype), fixed dimensions, one value per symbol (``B``, ``T`` at least 1), infinity, NaN (unless the input
        allows NaN) and ``bounds``.
        """
        spec = self.schema(name)
        inputs = check_inputs(name, spec["inputs"], arrays)
        outputs = self.runners[name](self.weights, inputs)
        return {key: np.asarray(value) for key, value in outputs.items()}


def check_inputs(function: str, specs: list[dict[str, Any]], arrays: dict[str, Any]) -> dict[str, np.ndarray]:
    """``arrays`` as NumPy arrays of the schema's dtypes, after the checks listed in `Artifact.call`."""
    names = [spec["name"] for spec in specs]
    missing, unknown = [n for n in names if n not in arrays], sorted(set(arrays) - set(names))
    if missing or unknown:
        raise ValueError(f"{function}: inputs are {names}; missing {missing}, unknown {unknown}")
    sizes: dict[str, int] = {}
    out = {}
    for spec in specs:
        key, shape, dtype = spec["name"], spec["shape"], np.dtype(spec["dtype"])
        value = np.asarray(arrays[key])
        if value.ndim != len(shape):
            raise ValueError(f"{function}: {key} must have rank {len(shape)} {shape}, got shape {value.shape}")
        if np.issubdtype(dtype, np.integer) and not np.issubdtype(value.dtype, np.integer):
            raise ValueError(f"{function}: {key} must hold integers ({dtype}), got dtype {value.dtype}")
        if np.issubdtype(dtype, np.floating) and not (value.dtype.kind in "iuf"):
            raise ValueError(f"{function}: {key} must hold real numbers ({dtype}), got dtype {value.dtype}")
        for axis, (dim, size) in enumerate(zip(shape, value.shape)):
            if isinstance(dim, int) and size != dim:
                raise ValueError(f"{function}: {key} must have shape {shape}, got {value.shape} (axis {axis})")
            if isinstance(dim, str):
                if size < 1:
                    raise ValueError(f"{function}: {key} has {dim} = 0 on axis {axis}; need at least 1")
                if sizes.setdefault(dim, size) != size:
                    raise ValueError(f"{function}: {key} has {dim} = {size} on axis {axis}, other inputs {sizes[dim]}")
        if value.dtype.kind == "f" and np.isinf(value).any():
            raise ValueError(f"{function}: {key} holds infinite values")
        if value.dtype.kind == "f" and not spec.get("allow_nan", False) and np.isnan(value).any():
            raise ValueError(f"{function}: {key} holds NaN (missing) values")
        limits = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
        if limits is not None and value.size and (value.min() < limits.min or value.max() > limits.max):
            raise ValueError(f"{function}: {key} holds values outside {dtype}")
        out[key] = value.astype(dtype, copy=False)
    for spec in specs:
        if "bounds" in spec and out[spec["name"]].size:
            lo, hi = (sizes[b] if isinstance(b, str) else b for b in spec["bounds"])
            value = out[spec["name"]]
            if value.min() < lo or value.max() > hi:
                raise ValueError(
                    f"{function}: {spec['name']} must lie in [{lo}, {hi}], got values in [{value.min()}, {value.max()}]"
                )
    return out


def load_artifact(path: str | Path) -> Artifact:
    """The artifact in directory ``path`` (see the module docstring), checked before use.

    Raises ValueError when: ``meta.json`` or a listed module is missing or malformed; the ``format_version`` is
    not this recurrax's (`FORMAT_VERSION`); the installed jax is older than the one that exported it (StableHLO
    is read by the same or newer jax, within jax's compatibility window); a listed file is named by an absolute
    path or one outside ``path`` (``../x``); ``meta.json``'s content or a listed file differs from the sha256
    recorded at export (``content hash mismatch``, naming the file; skipped for an artifact without hashes); a
    module does not run on the current platform; or ``weights.safetensors`` lacks a weight a module takes (or
    its shape or dtype differ).
    """
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise ValueError(f"not an exported model: {path} (no {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{meta_path} is not valid JSON: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path} is not a recurrax artifact (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: artifact format_version {meta.get('format_version')!r}, this recurrax reads {FORMAT_VERSION}; "
            "export the run again with this version"
        )
    exported_with = str(meta.get("jax_version", ""))
    if version_tuple(jax.__version__) < version_tuple(exported_with):
        raise ValueError(
            f"{path} was exported with jax {exported_with}; the installed jax {jax.__version__} is older "
            f"(install jax>={exported_with} or export the run again)"
        )
    check_files(path, meta)
    weights_path = path / WEIGHTS_FILE
    if not weights_path.is_file():
        raise ValueError(f"{path}: {WEIGHTS_FILE} is missing")
    weights = {k: jnp.asarray(v) for k, v in safetensors.numpy.load_file(weights_path).items()}
    platform = jax.default_backend()
    exported = {}
    for name, spec in meta.get("functions", {}).items():
        module_path = path / spec["file"]
        if not module_path.is_file():
            raise ValueError(f"{path}: {spec['file']} (function {name!r}) is missing")
        try:
            module = jax.export.deserialize(bytearray(module_path.read_bytes()))
        except Exception as error:  # noqa: BLE001 — any decoding failure is the same user-facing problem
            raise ValueError(f"{module_path} cannot be read by jax {jax.__version__}: {error}") from None
        if platform not in module.platforms:
            raise ValueError(f"{module_path} runs on {', '.join(module.platforms)}, not on this {platform} backend")
        _check_weights(module, weights, module_path)
        exported[name] = module
    if not exported:
        raise ValueError(f"{meta_path} lists no functions")
    return Artifact(path, meta, weights, exported)


def listed_files(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """``(file, what it is)`` for every file that ``meta`` names: the weights, each function's module, each
    ONNX file and the drift profile; file names are as written in ``meta`` (relative to the artifact)."""
    files = [(WEIGHTS_FILE, "weights")]
    files += [(spec.get("file"), f"function {name!r}") for name, spec in (meta.get("functions") or {}).items()]
    files += [(spec.get("file"), f"ONNX of {name!r}") for name, spec in (meta.get("onnx") or {}).items()]
    if meta.get("drift_profile") is not None:
        files.append((meta["drift_profile"], "drift profile"))
    return files


def meta_digest(meta: dict[str, Any]) -> str:
    """The sha256 of ``meta``'s canonical JSON (keys sorted, no spaces) without its ``sha256`` entry: equal
    for a ``meta`` and the same ``meta`` written to ``meta.json`` and read back."""
    content = json.loads(json.dumps({k: v for k, v in meta.items() if k != HASHES_KEY}))  # as read back
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def artifact_hashes(folder: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """``meta["sha256"]`` for the files of ``meta`` written under ``folder`` (see the module docstring)."""
    files = {file: _sha256(folder / file) for file, _ in listed_files(meta)}
    return {"files": files, "meta": meta_digest(meta)}


def check_files(path: Path, meta: dict[str, Any]) -> None:
    """Refuse a listed file named by an absolute path or one outside ``path``; then, when ``meta`` has hashes,
    ``meta.json``'s content and each listed file (present, and with the recorded sha256)."""
    root = path.resolve()
    for file, what in listed_files(meta):
        if not isinstance(file, str) or Path(file).is_absolute() or not (root / file).resolve().is_relative_to(root):
            raise ValueError(f"{path}: the {what} file {file!r} is an absolute path or outside the artifact folder")
    hashes = meta.get(HASHES_KEY)
    if hashes is None:
        return  # exported before the hashes existed: nothing to compare
    if not isinstance(hashes, dict) or not isinstance(hashes.get("files"), dict):
        raise ValueError(f"{path / META_FILE}: {HASHES_KEY} must be {{'files': {{file: sha256}}, 'meta': sha256}}")
    if hashes.get("meta") != meta_digest(meta):
        raise ValueError(f"{path / META_FILE}: content hash mismatch (file changed or corrupt)")
    for file, what in listed_files(meta):
        if not (path / file).is_file():
            raise ValueError(f"{path}: {file} ({what}) is missing")
        if file not in hashes["files"]:
            raise ValueError(f"{path}: {file} ({what}) has no sha256 in {META_FILE}")
        if _sha256(path / file) != hashes["files"][file]:
            raise ValueError(f"{path / file}: content hash mismatch (file changed or corrupt)")


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_weights(module: jax.export.Exported, weights: dict[str, jax.Array], module_path: Path) -> None:
    """The module's first argument (its weights dict) must match ``weights`` in names, shapes and dtypes."""
    (wanted, _), _ = jax.tree_util.tree_unflatten(module.in_tree, module.in_avals)
    absent = sorted(set(wanted) - set(weights))
    if absent:
        raise ValueError(f"{module_path} takes weights missing from {WEIGHTS_FILE}: {absent[:5]}")
    for key, aval in wanted.items():
        if weights[key].shape != aval.shape or weights[key].dtype != aval.dtype:
            raise ValueError(
                f"{WEIGHTS_FILE}: {key} is {weights[key].dtype}{list(weights[key].shape)}, "
                f"{module_path.name} expects {aval.dtype}{list(aval.shape)}"
            )
