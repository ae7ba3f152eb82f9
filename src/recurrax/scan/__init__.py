"""The sequence engine: `RNN` (one cell over time) and `Bidirectional`, with lengths and regularisation;
`vendor_kernels` allows or forbids the oneDNN LSTM kernel in what is traced inside it."""

from ._bidirectional import Bidirectional as Bidirectional
from ._lengths import last_valid as last_valid
from ._lengths import reverse_padded as reverse_padded
from ._lengths import time_mask as time_mask
from ._lengths import valid_mask as valid_mask
from ._onednn import vendor_kernels as vendor_kernels
from ._regularisation import check_rate as check_rate
from ._regularisation import dropout as dropout
from ._rnn import RNN as RNN
