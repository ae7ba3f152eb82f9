"""Depth-gated LSTM reference (Yao et al. 2015): an LSTM whose cell state takes the lower layer's cell state
through the depth gate d = σ(W_xd x + w_cd ⊙ c_prev + w_ld ⊙ c_lower + b_d). With lower memory the input is
concat(h_lower, c_lower); with emitted memory the output is concat(h, c)."""

import numpy as np

from ._common import f64, sigmoid


def depth_gated_step(cell, carry, x):
    h, c = carry
    H = cell.hidden_size
    if cell.lower_memory:
        x, c_lower = x[:, :H], x[:, H:]
    w_ih, w_hh = f64(cell.weight_ih), f64(cell.weight_hh)
    b = np.zeros(w_ih.shape[0]) if cell.bias is None else f64(cell.bias)

    def rows(k):
        return slice(k * H, (k + 1) * H)

    def pre(k):  # gate k of i, f, g, o
        return x @ w_ih[rows(k)].T + h @ w_hh[rows(k)].T + b[rows(k)]

    i, f, g, o = sigmoid(pre(0)), sigmoid(pre(1)), np.tanh(pre(2)), sigmoid(pre(3))
    c_new = f * c + i * g
    if cell.lower_memory:
        d = sigmoid(
            x @ w_ih[rows(4)].T + f64(cell.weight_depth_cell) * c + f64(cell.weight_depth_lower) * c_lower + b[rows(4)]
        )
        c_new = c_new + d * c_lower
    h_new = o * np.tanh(c_new)
    y = np.concatenate([h_new, c_new], axis=-1) if cell.emit_memory else h_new
    return (h_new, c_new), y
