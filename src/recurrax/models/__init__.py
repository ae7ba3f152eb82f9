"""The stacks users call: `RNNStack` of any cell, `LSTM`, `GRU`."""

from ._stack import GRU as GRU
from ._stack import LSTM as LSTM
from ._stack import RNNStack as RNNStack
