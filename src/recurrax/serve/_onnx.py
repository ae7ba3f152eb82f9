"""`export_onnx`: an LSTM or GRU stack (`recurrax.models.RNNStack`) as an ONNX model, through jax2onnx.

The graph is the stack's evaluation-mode forward pass (no dropout), ``lax.scan`` lowered to an ONNX ``Loop``
and the fused LSTM kernel's ``custom_vjp`` to its forward computation:

- inputs ``xs`` ``[B, T, D]`` float32, ``lengths`` ``[B]`` int32 (optional: ``lengths=False`` reads all ``T``
  steps), and the initial state (optional: ``initial_state=False`` starts from zeros) ``h0`` (and ``c0`` for
  an LSTM), each ``[L * num_directions, B, H]`` as torch's;
- outputs ``ys`` ``[B, T, H * num_directions]`` and the final state ``hn`` (and ``cn``).

``B`` is dynamic. ``T`` is fixed at export (``steps``): pad shorter sequences and pass ``lengths``. (jax2onnx
0.17 cannot trace the ``arange(T)[:, None]`` of `recurrax.scan.time_mask` with a symbolic ``T``.)

jax2onnx is optional (``pip install recurrax[onnx]``); it is imported only here. Its first conversion imports
every bundled plugin, and the equinox plugins build and compile example layers at import (about 30 s on two
CPU cores); a recurrent stack traces to plain `jax.lax` primitives, so only the ``jax`` plugin tree is
imported (about 4 s).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from .._files import write_atomic
from ..models import RNNStack
from ..scan import vendor_kernels


def _jax2onnx() -> Any:
    """The ``jax2onnx.to_onnx`` function with the ``jax`` plugins registered (see the module docstring)."""
    try:
        importlib.import_module("onnx")
        jax2onnx = importlib.import_module("jax2onnx")
        plugin_system = importlib.import_module("jax2onnx.plugins.plugin_system")
    except ImportError as error:
        raise ImportError(f"ONNX export needs jax2onnx and onnx ({error}); pip install 'recurrax[onnx]'") from None
    if not plugin_system._already_imported_plugins:
        root = Path(plugin_system.__file__).parent
        plugin_system._import_tree(root / "jax", "jax2onnx.plugins.jax")
        plugin_system._already_imported_plugins = True
    return jax2onnx.to_onnx


def export_onnx(
    model: RNNStack,
    path: str | Path,
    *,
    steps: int,
    lengths: bool = True,
    initial_state: bool = True,
    opset: int = 23,
) -> Path:
    """Write ``model`` (an `rx.LSTM`, `rx.GRU` or LSTM/GRU-cell `RNNStack`) as an ONNX file at ``path``.

    ``steps`` is the fixed time dimension ``T``; see the module docstring for the graph's inputs and outputs.
    The file is written under a temporary name and renamed. Returns ``path``.

    Example:
        >>> import jax, numpy as np, onnxruntime, tempfile, recurrax as rx
        >>> model = rx.GRU(3, 4, key=jax.random.key(0))
        >>> path = export_onnx(model, tempfile.mkdtemp() + "/gru.onnx", steps=5)  # doctest: +SKIP
        >>> session = onnxruntime.InferenceSession(str(path))  # doctest: +SKIP
        >>> feeds = {"xs": np.ones((2, 5, 3), np.float32), "lengths": np.array([5, 2], np.int32),
        ...          "h0": np.zeros((1, 2, 4), np.float32)}  # doctest: +SKIP
        >>> ys, hn = session.run(None, feeds)  # doctest: +SKIP
    """
    if not isinstance(model, RNNStack):
        raise TypeError(f"export_onnx takes an RNNStack (rx.LSTM, rx.GRU), got {type(model).__name__}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    _, final = jax.eval_shape(model, jax.ShapeDtypeStruct((1, 1, model.input_size), jnp.float32))
    leaves, state_def = jax.tree.flatten(final)
    if len(leaves) not in (1, 2):
        raise ValueError(f"export_onnx takes LSTM or GRU stacks; this stack's state has {len(leaves)} arrays")
    names = ("h", "c")[: len(leaves)]

    def forward(*args: jax.Array) -> tuple[jax.Array, ...]:
        xs, rest = args[0], list(args[1:])
        given_lengths = rest.pop(0) if lengths else None
        state = jax.tree.unflatten(state_def, rest) if initial_state else None
        ys, final = model(xs, given_lengths, state=state)
        return (ys, *jax.tree.leaves(final))

    specs = [jax.ShapeDtypeStruct(("B", steps, model.input_size), jnp.float32)]
    inputs = ["xs"]
    if lengths:
        specs.append(jax.ShapeDtypeStruct(("B",), jnp.int32))
        inputs.append("lengths")
    if initial_state:
        specs += [jax.ShapeDtypeStruct((a.shape[0], "B", *a.shape[2:]), a.dtype) for a in leaves]
        inputs += [f"{n}0" for n in names]
    outputs = ["ys", *(f"{n}n" for n in names)]
    return write_onnx(forward, specs, inputs, outputs, path, opset=opset)


def function_to_onnx(function: Any, weights: dict[str, Any], path: str | Path, *, steps: int | None) -> Path:
    """Write an exported `Function` (see `recurrax.serve._export`) as a self-contained ONNX model at ``path``:
    its weights become initializers, its inputs and outputs keep their schema names (an output that is also an
    input, a streaming function's state, is named ``<name>_out``), ``B`` stays dynamic and the symbol ``T``
    becomes ``steps`` (required when an input has a time dimension)."""
    if steps is None and any("T" in spec.shape for spec in function.inputs):
        raise ValueError("this function reads sequences: give the ONNX time dimension (onnx_steps, --onnx-steps)")
    if steps is not None and steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    constants = {k: jnp.asarray(v) for k, v in weights.items()}
    names = [spec.name for spec in function.inputs]
    specs = [
        jax.ShapeDtypeStruct(tuple(steps if d == "T" else d for d in spec.shape), spec.dtype)
        for spec in function.inputs
    ]
    returned = jax.eval_shape(lambda *args: function.fn(constants, dict(zip(names, args))), *specs_concrete(specs))

    def forward(*args: jax.Array) -> tuple[jax.Array, ...]:
        out = function.fn(constants, dict(zip(names, args)))
        return tuple(out[k] for k in returned)

    outputs = [f"{k}_out" if k in names else k for k in returned]  # ONNX value names are unique
    return write_onnx(forward, specs, names, outputs, path)


def specs_concrete(specs: list[jax.ShapeDtypeStruct]) -> list[jax.ShapeDtypeStruct]:
    """``specs`` with the batch symbol ``"B"`` set to 1 (for `jax.eval_shape`)."""
    return [jax.ShapeDtypeStruct(tuple(1 if d == "B" else d for d in s.shape), s.dtype) for s in specs]


def write_onnx(
    fn: Any, specs: list, inputs: list[str], outputs: list[str], path: str | Path, *, opset: int = 23
) -> Path:
    """Convert ``fn`` with jax2onnx (dimension ``"B"`` dynamic) and write the model to ``path`` atomically."""
    to_onnx = _jax2onnx()
    with vendor_kernels(False):  # ONNX has no oneDNN custom call
        proto = to_onnx(fn, specs, model_name="recurrax", opset=opset, input_names=inputs, output_names=outputs)
    return write_atomic(path, proto.SerializeToString())
