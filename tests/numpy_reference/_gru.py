"""GRU reference: PyTorch/cuDNN form (reset after the recurrent matmul) and the original form of Cho et al.
2014 (reset before it), gate order r, z, n, written gate by gate."""

import numpy as np

from ._common import f64, sigmoid


def gru_step(cell, h, x, recurrent_mask=None):
    H = cell.hidden_size
    w_ih, w_hh = f64(cell.weight_ih), f64(cell.weight_hh)
    b_ih = np.zeros(3 * H) if cell.bias_ih is None else f64(cell.bias_ih)
    b_hh = np.zeros(3 * H) if cell.bias_hh is None else f64(cell.bias_hh)
    W_ir, W_iz, W_in = w_ih[:H], w_ih[H : 2 * H], w_ih[2 * H :]
    W_hr, W_hz, W_hn = w_hh[:H], w_hh[H : 2 * H], w_hh[2 * H :]
    b_ir, b_iz, b_in = b_ih[:H], b_ih[H : 2 * H], b_ih[2 * H :]
    b_hr, b_hz, b_hn = b_hh[:H], b_hh[H : 2 * H], b_hh[2 * H :]
    h_rec = h if recurrent_mask is None else h * recurrent_mask

    r = sigmoid(x @ W_ir.T + b_ir + h_rec @ W_hr.T + b_hr)
    z = sigmoid(x @ W_iz.T + b_iz + h_rec @ W_hz.T + b_hz)
    if cell.cho:
        n = np.tanh(x @ W_in.T + b_in + (r * h_rec) @ W_hn.T + b_hn)
    else:
        n = np.tanh(x @ W_in.T + b_in + r * (h_rec @ W_hn.T + b_hn))
    h_new = (1.0 - z) * n + z * h
    return h_new, h_new
