"""Recurrent cells: one time step each, ``(carry, x_t) -> (carry, y_t)``, plus ``init_carry``."""

from ._base import AbstractCell as AbstractCell
from ._lstm import LSTMCell as LSTMCell
from ._registry import CELLS as CELLS
from ._registry import make_cell as make_cell
from ._registry import register_cell as register_cell
