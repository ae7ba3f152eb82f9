"""The stacks users call: `RNNStack` of any cell, `LSTM`, `GRU`; attention over padded sequences."""

from ._attention import masked_softmax as masked_softmax
from ._stack import GRU as GRU
from ._stack import LSTM as LSTM
from ._stack import RNNStack as RNNStack
