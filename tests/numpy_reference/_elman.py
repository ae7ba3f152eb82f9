"""Elman RNN reference (Elman 1990): h' = act(W_ih x + b_ih + W_hh h + b_hh)."""

import numpy as np

from ._common import f64


def elman_step(cell, h, x, recurrent_mask=None):
    act = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0)}[cell.nonlinearity]
    h_rec = h if recurrent_mask is None else h * recurrent_mask
    pre = x @ f64(cell.weight_ih).T + h_rec @ f64(cell.weight_hh).T
    if cell.bias_ih is not None:
        pre = pre + f64(cell.bias_ih) + f64(cell.bias_hh)
    h_new = act(pre)
    return h_new, h_new
