"""Clockwork RNN reference (Koutník et al. 2014), module by module: module i (period T_i) updates only at
steps t with t mod T_i == 0, reading the input and the modules j >= i (T_j >= T_i)."""

import numpy as np

from ._common import f64


def clockwork_step(cell, carry, x):
    h, t = carry
    act = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0)}[cell.nonlinearity]
    size = cell.hidden_size // len(cell.periods)
    w_ih, w_hh = f64(cell.weight_ih), f64(cell.weight_hh)
    h_new = h.copy()
    for i, period in enumerate(cell.periods):
        rows = slice(i * size, (i + 1) * size)
        pre = x @ w_ih[rows].T + h[:, i * size :] @ w_hh[rows, i * size :].T
        if cell.bias is not None:
            pre = pre + f64(cell.bias)[rows]
        for b in range(h.shape[0]):
            if t[b] % period == 0:
                h_new[b, rows] = act(pre[b])
    return (h_new, t + 1), h_new
