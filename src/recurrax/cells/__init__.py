"""Recurrent cells: one time step each, ``(carry, x_t) -> (carry, y_t)``, plus ``init_carry``."""

from ._base import AbstractCell as AbstractCell
from ._base import broadcast_to_rank as broadcast_to_rank
from ._base import check_input_size as check_input_size
from ._base import check_sizes as check_sizes
from ._base import default_dtype as default_dtype
from ._base import glorot_uniform as glorot_uniform
from ._base import masked as masked
from ._clockwork import ClockworkRNNCell as ClockworkRNNCell
from ._depth_gated import DepthGatedLSTMCell as DepthGatedLSTMCell
from ._elman import RNNCell as RNNCell
from ._gru import GRUCell as GRUCell
from ._layernorm_lstm import LayerNormLSTMCell as LayerNormLSTMCell
from ._lstm import LSTMCell as LSTMCell
from ._mgu import MGUCell as MGUCell
from ._mut import AbstractMUTCell as AbstractMUTCell
from ._mut import MUT1Cell as MUT1Cell
from ._mut import MUT2Cell as MUT2Cell
from ._mut import MUT3Cell as MUT3Cell
from ._registry import CELLS as CELLS
from ._registry import make_cell as make_cell
from ._registry import register_cell as register_cell
