"""recurrax: LSTM-family recurrent networks on JAX.

Shapes are batch-major (``[B, T, D]`` in, ``[B, T, H]`` out); LSTM gate order is ``i, f, g, o`` and its carry
``(h, c)``, PyTorch's layout. See `recurrax.cells`, `recurrax.scan`, `recurrax.models`, `recurrax.interop`.
"""

from . import cells as cells
from . import scan as scan
from .cells import AbstractCell as AbstractCell
from .cells import LSTMCell as LSTMCell
from .models import GRU as GRU
from .models import LSTM as LSTM
from .models import RNNStack as RNNStack
from .scan import RNN as RNN
from .scan import Bidirectional as Bidirectional

__version__ = "0.1.0"
