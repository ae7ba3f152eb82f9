"""Cells by name, for `recurrax.RNNStack(cell="...")` and configs.

Every entry is a factory ``(input_size, hidden_size, *, key, layer, num_layers, **options) -> cell``;
``layer`` (0-based) and ``num_layers`` let cells that connect across depth (depth-gated LSTM) wire
themselves; the others ignore them. ``options`` go to the cell's constructor.

The Greff et al. 2017 ablations are defined, as in the paper, relative to its *vanilla* LSTM, which has
peepholes on all three gates: e.g. ``"nig"`` keeps the peepholes on ``f`` and ``o``. ``"np"`` (no peepholes)
is the plain ``"lstm"``.
"""

from __future__ import annotations

from typing import Any, Callable

from ._base import AbstractCell
from ._lstm import LSTMCell

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


def _lstm_factory(defaults: dict[str, Any]) -> CellFactory:
    def make(input_size: int, hidden_size: int, *, key, layer: int = 0, num_layers: int = 1, **options):
        return LSTMCell(input_size, hidden_size, key=key, **{**defaults, **options})

    return make


CELLS: dict[str, CellFactory] = {
    "lstm": _lstm_factory({}),
    "peephole": _lstm_factory(_GREFF_VARIANTS["vanilla"]),
    **{name: _lstm_factory(options) for name, options in _GREFF_VARIANTS.items()},
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
