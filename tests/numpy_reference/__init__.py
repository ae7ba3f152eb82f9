"""Pure-NumPy float64 reference steps, one per cell class, used only by tests.

Each reference is written from the cell's published equations, independently of the JAX code:
``reference(cell, carry, x) -> (carry, y)`` with NumPy arrays (``x`` ``[B, D]``; the carry has the layout of
the cell's ``init_carry``). The cell object only supplies its weights and static options.
"""

from __future__ import annotations

from collections.abc import Callable

import recurrax as rx

from ._clockwork import clockwork_step
from ._depth_gated import depth_gated_step
from ._elman import elman_step
from ._gru import gru_step
from ._layernorm_lstm import layernorm_lstm_step
from ._lstm import lstm_step
from ._mgu import mgu_step
from ._mut import mut1_step, mut2_step, mut3_step

REFERENCES: dict[type, Callable] = {
    rx.LSTMCell: lstm_step,
    rx.LayerNormLSTMCell: layernorm_lstm_step,
    rx.DepthGatedLSTMCell: depth_gated_step,
    rx.ClockworkRNNCell: clockwork_step,
    rx.GRUCell: gru_step,
    rx.RNNCell: elman_step,
    rx.MGUCell: mgu_step,
    rx.MUT1Cell: mut1_step,
    rx.MUT2Cell: mut2_step,
    rx.MUT3Cell: mut3_step,
}


def reference_step(cell, carry, x):
    """Dispatch to the reference of ``type(cell)``."""
    return REFERENCES[type(cell)](cell, carry, x)
