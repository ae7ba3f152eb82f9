"""Pure-NumPy float64 reference steps, one per cell class, used only by tests.

Each reference is written from the cell's published equations, independently of the JAX code:
``reference(cell, carry, x) -> (carry, y)`` with NumPy arrays (``x`` ``[B, D]``; the carry has the layout of
the cell's ``init_carry``). The cell object only supplies its weights and static options.
"""

from __future__ import annotations

from typing import Callable

import recurrax as rx

from ._lstm import lstm_step

REFERENCES: dict[type, Callable] = {
    rx.LSTMCell: lstm_step,
}


def reference_step(cell, carry, x):
    """Dispatch to the reference of ``type(cell)``."""
    return REFERENCES[type(cell)](cell, carry, x)
