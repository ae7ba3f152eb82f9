"""Cells by name, for `recurrax.RNNStack(cell="...")` and configs.

Every entry is a factory ``(input_size, hidden_size, *, key, layer, num_layers, **options) -> cell``;
``layer`` (0-based) and ``num_layers`` let cells that connect across depth (depth-gated LSTM) wire
themselves; the others ignore them. ``options`` go to the cell's constructor.

The Greff et al. 2017 ablations are defined, as in the paper, relative to its *vanilla* LSTM, which has
peepholes on all three gates: e.g. ``"nig"`` keeps the peepholes on ``f`` and ``o``. ``"np"`` (no peepholes)
is the plain ``"lstm"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._base import AbstractCell
from ._clockwork import ClockworkRNNCell
from ._depth_gated import DepthGatedLSTMCell
from ._elman import RNNCell
from ._gru import GRUCell
from ._layernorm_lstm import LayerNormLSTMCell
from ._lstm import LSTMCell
from ._mgu import MGUCell
from ._mut import MUT1Cell, MUT2Cell, MUT3Cell

CellFactory = Callable[..., AbstractCell]

_GREFF_VARIANTS: dict[str, dict[str, Any]] = {
    "vanilla": dict(peepholes=("i", "f", "o")),
    "nig": dict(peepholes=("f", "o"), input_gate=False),
    "nfg": dict(peepholes=("i", "o"), forget_gate=False),
    "nog": dict(peepholes=("i", "f"), output_gate=False),
    "niaf": dict(peepholes=("i", "f", "o"), input_activation=False),
    "noaf": dict(peepholes=("i", "f", "o"), output_activation=False),
    "np": dict(),
    "cifg": dict(peepholes=("f", "o"), coupled=True),
    "fgr": dict(peepholes=("i", "f", "o"), full_gate_recurrence=True),
}


def _cell_factory(cls: type[AbstractCell], **defaults: Any) -> CellFactory:
    """A factory for a cell that ignores depth: ``cls(input_size, hidden_size, key=key, **defaults, **options)``."""

    def make(input_size: int, hidden_size: int, *, key, layer: int = 0, num_layers: int = 1, **options):
        return cls(input_size, hidden_size, key=key, **{**defaults, **options})

    return make


_GRU_FAMILY: dict[str, CellFactory] = {
    "gru": _cell_factory(GRUCell),
    "gru_cho": _cell_factory(GRUCell, cho=True),
    "rnn": _cell_factory(RNNCell, nonlinearity="tanh"),
    "rnn_tanh": _cell_factory(RNNCell, nonlinearity="tanh"),
    "rnn_relu": _cell_factory(RNNCell, nonlinearity="relu"),
    "mgu": _cell_factory(MGUCell),
    "mut1": _cell_factory(MUT1Cell),
    "mut2": _cell_factory(MUT2Cell),
    "mut3": _cell_factory(MUT3Cell),
}


def _depth_gated(input_size: int, hidden_size: int, *, key, layer: int = 0, num_layers: int = 1, **options):
    """Layer ``l`` of an ``L``-layer stack reads the memory of layer ``l - 1`` and emits its own to ``l + 1``."""
    wiring = dict(lower_memory=layer > 0, emit_memory=layer < num_layers - 1)
    return DepthGatedLSTMCell(input_size, hidden_size, key=key, **wiring, **options)


CELLS: dict[str, CellFactory] = {
    "lstm": _cell_factory(LSTMCell),
    "peephole": _cell_factory(LSTMCell, **_GREFF_VARIANTS["vanilla"]),
    **{name: _cell_factory(LSTMCell, **options) for name, options in _GREFF_VARIANTS.items()},
    **_GRU_FAMILY,
    "layernorm_lstm": _cell_factory(LayerNormLSTMCell),
    "depth_gated": _depth_gated,
    "clockwork": _cell_factory(ClockworkRNNCell),
}


def register_cell(name: str, factory: CellFactory) -> None:
    """Make a cell available to `RNNStack` under ``name``."""
    CELLS[name] = factory


def make_cell(
    name: str, input_size: int, hidden_size: int, *, key, layer: int = 0, num_layers: int = 1, **options
) -> AbstractCell:
    """Build the cell registered as ``name``; unknown names raise with the list of known ones."""
    if name not in CELLS:
        raise ValueError(f"unknown cell {name!r}; known cells: {', '.join(sorted(CELLS))}")
    return CELLS[name](input_size, hidden_size, key=key, layer=layer, num_layers=num_layers, **options)
