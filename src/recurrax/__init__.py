"""recurrax: LSTM-family recurrent networks on JAX.

Shapes are batch-major (``[B, T, D]`` in, ``[B, T, H]`` out); LSTM gate order is ``i, f, g, o`` and its carry
``(h, c)``, PyTorch's layout. See `recurrax.cells`, `recurrax.scan`, `recurrax.models`, `recurrax.interop`.
"""

from . import _malloc as _malloc  # first: before numpy and JAX start threads (see the module)
from . import _dispatch as _dispatch  # before any computation: JAX's CPU client reads it when it starts
from . import cells as cells
from . import data as data
from . import interop as interop
from . import scan as scan
from ._dispatch import inline_cpu_dispatch as inline_cpu_dispatch
from .cells import AbstractCell as AbstractCell
from .cells import ClockworkRNNCell as ClockworkRNNCell
from .cells import DepthGatedLSTMCell as DepthGatedLSTMCell
from .cells import GRUCell as GRUCell
from .cells import LayerNormLSTMCell as LayerNormLSTMCell
from .cells import LSTMCell as LSTMCell
from .cells import MGUCell as MGUCell
from .cells import MUT1Cell as MUT1Cell
from .cells import MUT2Cell as MUT2Cell
from .cells import MUT3Cell as MUT3Cell
from .cells import RNNCell as RNNCell
from .models import GRU as GRU
from .models import LSTM as LSTM
from .models import RNNStack as RNNStack
from .scan import RNN as RNN
from .scan import Bidirectional as Bidirectional

__version__ = "0.1.0"
