"""Weights to and from ``torch.nn.LSTM`` / ``torch.nn.GRU``: the one place where the two layouts meet.

The layouts are the same by design, so conversion is a copy, parameter by parameter. For layer ``k`` and
direction ``d`` (suffix ``""`` forward, ``"_reverse"`` backward) torch's names map to the cell of
``model.layers[k]`` (``.cell``, or ``.forward.cell`` / ``.backward.cell`` when bidirectional):

==================  ==========================  ==========================
torch               recurrax ``LSTMCell``        recurrax ``GRUCell``
==================  ==========================  ==========================
``weight_ih_lk``    ``weight_ih`` ``[4H, D]``    ``weight_ih`` ``[3H, D]``
``weight_hh_lk``    ``weight_hh`` ``[4H, P]``    ``weight_hh`` ``[3H, H]``
``bias_ih_lk``      ``bias_ih`` ``[4H]``         ``bias_ih`` ``[3H]``
``bias_hh_lk``      ``bias_hh`` ``[4H]``         ``bias_hh`` ``[3H]``
``weight_hr_lk``    ``weight_hr`` ``[P, H]``     (none)
==================  ==========================  ==========================

Gate blocks are ``i, f, g, o`` (LSTM) and ``r, z, n`` (GRU) in both libraries; ``P`` is ``proj_size`` (``H``
without a projection), ``D`` the layer's input width. Final states have torch's layout too: ``(h_n, c_n)``
(``h_n`` for a GRU), each ``[L * num_directions, B, ...]``.

torch is imported only when a function here is called; recurrax itself never needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..cells import AbstractCell, GRUCell, LSTMCell
from ..models import GRU, LSTM, RNNStack
from ..scan import RNN, Bidirectional

_LSTM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
_GRU_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
_LSTM_SWITCHES = ("input_gate", "forget_gate", "output_gate", "input_activation", "output_activation")


def from_torch(module: Any) -> LSTM | GRU:
    """An `LSTM` / `GRU` equal to a ``torch.nn.LSTM`` / ``torch.nn.GRU``: same outputs, same final state.

    Every option of the torch module carries over: ``num_layers``, ``bidirectional``, ``proj_size``,
    ``bias=False`` and ``dropout`` (active only when the recurrax model is called with a ``key``).
    ``batch_first`` does not matter: recurrax is always batch-major, ``[B, T, D]``. Parameters keep the
    torch module's floating dtype (float64 needs ``jax_enable_x64``).

    Example:
        >>> import torch, recurrax as rx
        >>> lstm = torch.nn.LSTM(3, 8, num_layers=2, bidirectional=True, batch_first=True)
        >>> model = rx.interop.from_torch(lstm)
        >>> model.layers[1].backward.cell.weight_ih.shape
        (32, 16)
    """
    import torch

    if isinstance(module, torch.nn.LSTM):
        build, names = LSTM, _LSTM_NAMES
        options = {"proj_size": module.proj_size}
    elif isinstance(module, torch.nn.GRU):
        build, names, options = GRU, _GRU_NAMES, {}
    else:
        raise TypeError(f"from_torch converts torch.nn.LSTM and torch.nn.GRU, got {type(module).__name__}")
    dtype = _jax_dtype(module.weight_ih_l0.dtype)
    skeleton = eqx.filter_eval_shape(
        build, module.input_size, module.hidden_size, module.num_layers, module.bidirectional, module.dropout,
        key=jax.random.key(0), bias=module.bias, **options,
    )  # fmt: skip
    places, values = [], []
    for index, (cell, suffix) in enumerate(_cells(skeleton)):
        layer = index // skeleton.num_directions
        for name in names:
            if getattr(cell, name) is None:
                continue
            value = _to_jax(getattr(module, f"{name}_l{layer}{suffix}"), dtype)
            if value.shape != getattr(cell, name).shape:
                raise ValueError(
                    f"{name}_l{layer}{suffix} has shape {value.shape}, expected {getattr(cell, name).shape}"
                )
            places.append((index, name))
            values.append(value)
    where = lambda model: [getattr(_cell_list(model)[index], name) for index, name in places]
    model = eqx.tree_at(where, skeleton, values)
    if any(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in jax.tree.leaves(model)):
        raise RuntimeError(f"from_torch left a parameter of {build.__name__} unset; the name table is out of date")
    return model


def to_torch(model: RNNStack) -> dict[str, Any]:
    """The ``state_dict`` of the equal ``torch.nn.LSTM`` / ``torch.nn.GRU`` (see `torch_config`).

    Keys and order are torch's (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``,
    ``weight_hr_l0``, then ``..._l0_reverse`` when bidirectional, then layer 1, ...); tensors keep the model's
    dtype. ``torch.nn.LSTM(**torch_config(model)).load_state_dict(to_torch(model))`` loads it strictly.

    Only what torch can represent converts: plain ``LSTMCell`` stacks (no peepholes, no Greff ablations) with
    or without ``proj_size``, and ``GRUCell`` stacks in torch's form (``cho=False``); zoneout changes
    evaluation outputs and is refused. Variational ``recurrent_dropout`` acts only in training and is not
    carried over.
    """
    import torch

    kind = _check_representable(model)
    names = _LSTM_NAMES if kind == "lstm" else _GRU_NAMES
    state = {}
    for index, (cell, suffix) in enumerate(_cells(model)):
        layer = index // model.num_directions
        for name in names:
            value = getattr(cell, name, None)
            if value is not None:
                state[f"{name}_l{layer}{suffix}"] = _to_tensor(torch, value)
    return state


def torch_config(model: RNNStack) -> dict[str, Any]:
    """Constructor keywords of the equal ``torch.nn.LSTM`` / ``torch.nn.GRU`` (``batch_first=True``).

    Example:
        >>> import jax, torch, recurrax as rx
        >>> model = rx.LSTM(3, 8, num_layers=2, key=jax.random.key(0))
        >>> twin = torch.nn.LSTM(**rx.interop.torch_config(model))
        >>> twin.load_state_dict(rx.interop.to_torch(model))
        <All keys matched successfully>
    """
    import torch

    kind = _check_representable(model)
    first = _cell_list(model)[0]
    config = dict(
        input_size=model.input_size,
        hidden_size=model.hidden_size,
        num_layers=model.num_layers,
        bias=first.bias_ih is not None,
        batch_first=True,
        dropout=model.dropout,
        bidirectional=model.bidirectional,
        dtype=getattr(torch, jnp.dtype(first.weight_ih.dtype).name),
    )
    if kind == "lstm":
        config["proj_size"] = first.proj_size
    return config


def _rnns(model: RNNStack) -> Iterator[tuple[RNN, str]]:
    """Every one-direction layer with torch's name suffix, in torch's order: layer 0 forward, layer 0
    backward, layer 1 forward, ..."""
    for layer in model.layers:
        if isinstance(layer, Bidirectional):
            yield layer.forward, ""
            yield layer.backward, "_reverse"
        else:
            yield layer, ""


def _cells(model: RNNStack) -> Iterator[tuple[AbstractCell, str]]:
    """Every cell with its torch name suffix, in torch's order."""
    for rnn, suffix in _rnns(model):
        yield rnn.cell, suffix


def _cell_list(model: RNNStack) -> list[AbstractCell]:
    return [cell for cell, _ in _cells(model)]


def _check_representable(model: Any) -> str:
    """``"lstm"`` or ``"gru"`` when torch has an equal module, else a ValueError that says what is missing."""
    if not isinstance(model, RNNStack):
        raise TypeError(f"to_torch converts recurrax RNNStack models (LSTM, GRU), got {type(model).__name__}")
    if any(rnn.zoneout > 0.0 for rnn, _ in _rnns(model)):
        raise ValueError("torch has no zoneout; a model with zoneout > 0 has no torch equivalent")
    cells = _cell_list(model)
    if all(isinstance(cell, LSTMCell) for cell in cells):
        kind = "lstm"
        for cell in cells:
            extras = [f"peepholes={cell.peepholes}"] if cell.peepholes else []
            extras += [f"{name}=False" for name in _LSTM_SWITCHES if not getattr(cell, name)]
            extras += [f"{name}=True" for name in ("coupled", "full_gate_recurrence") if getattr(cell, name)]
            if extras:
                raise ValueError(f"torch.nn.LSTM cannot represent an LSTMCell with {', '.join(extras)}")
        if len({cell.proj_size for cell in cells}) > 1:
            raise ValueError("torch.nn.LSTM needs the same proj_size in every layer")
    elif all(isinstance(cell, GRUCell) for cell in cells):
        kind = "gru"
        if any(cell.cho for cell in cells):
            raise ValueError("torch.nn.GRU has only the cuDNN form; the Cho et al. form (cho=True) does not convert")
    else:
        found = sorted({type(cell).__name__ for cell in cells})
        raise ValueError(f"torch converts stacks of LSTMCell or GRUCell only, got {', '.join(found)}")
    if len({cell.bias_ih is None for cell in cells}) > 1:
        raise ValueError("torch needs bias in every layer or in none")
    if any(cell.hidden_size != model.hidden_size for cell in cells):
        raise ValueError("torch needs the same hidden_size in every layer")
    return kind


def _jax_dtype(torch_dtype: Any) -> Any:
    """The JAX dtype of a floating torch dtype; float64 only when JAX has 64-bit types enabled."""
    name = str(torch_dtype).removeprefix("torch.")
    if name not in ("float32", "float64", "float16", "bfloat16"):
        raise ValueError(f"from_torch converts floating-point modules, got parameters of dtype {torch_dtype}")
    if name == "float64" and not jax.config.jax_enable_x64:
        raise ValueError("a float64 torch module needs jax_enable_x64; enable it, or convert module.float()")
    return jnp.dtype(name)


def _to_jax(tensor: Any, dtype: Any) -> jax.Array:
    """A torch tensor as a JAX array of ``dtype`` (bfloat16 goes through float32: NumPy has no bfloat16)."""
    tensor = tensor.detach().cpu()
    if str(tensor.dtype) == "torch.bfloat16":
        tensor = tensor.float()
    return jnp.asarray(tensor.numpy(), dtype=dtype)


def _to_tensor(torch: Any, value: jax.Array) -> Any:
    """A JAX array as a torch tensor of the same dtype (bfloat16 through float32)."""
    name = jnp.dtype(value.dtype).name
    array = np.array(value.astype(jnp.float32) if name == "bfloat16" else value)
    return torch.from_numpy(array).to(getattr(torch, name))
