"""The stacks users call: `RNNStack` of any cell, `LSTM`, `GRU`; attention over padded sequences; ensembles
of one architecture stacked on a member axis (`stack_members`, `member_at`)."""

from ._attention import masked_softmax as masked_softmax
from ._ensemble import member_at as member_at
from ._ensemble import stack_members as stack_members
from ._stack import GRU as GRU
from ._stack import LSTM as LSTM
from ._stack import RNNStack as RNNStack
