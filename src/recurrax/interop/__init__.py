"""Interoperability: weights to and from ``torch.nn.LSTM`` / ``torch.nn.GRU`` (torch is imported on use)."""

from ._torch import from_torch as from_torch
from ._torch import to_torch as to_torch
from ._torch import torch_config as torch_config
