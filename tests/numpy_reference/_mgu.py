"""Minimal gated unit reference (Zhou et al. 2016), written gate by gate."""

import numpy as np

from ._common import f64, sigmoid


def mgu_step(cell, h, x, recurrent_mask=None):
    H = cell.hidden_size
    w_ih, w_hh = f64(cell.weight_ih), f64(cell.weight_hh)
    b = np.zeros(2 * H) if cell.bias is None else f64(cell.bias)
    W_f, W_n = w_ih[:H], w_ih[H:]
    U_f, U_n = w_hh[:H], w_hh[H:]
    b_f, b_n = b[:H], b[H:]
    h_rec = h if recurrent_mask is None else h * recurrent_mask

    f = sigmoid(x @ W_f.T + h_rec @ U_f.T + b_f)
    n = np.tanh(x @ W_n.T + (f * h_rec) @ U_n.T + b_n)
    h_new = (1.0 - f) * h + f * n
    return h_new, h_new
