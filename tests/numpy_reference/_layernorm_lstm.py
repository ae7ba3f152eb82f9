"""Layer-normalised LSTM reference (Ba, Kiros & Hinton 2016, eq. 20-22): separate normalisation of the input
and recurrent terms over the whole 4H vector, and of the cell state before the output tanh."""

import numpy as np

from ._common import f64, sigmoid


def _ln(v, gain, shift, eps):
    mu = v.mean(axis=-1, keepdims=True)
    sigma = np.sqrt(((v - mu) ** 2).mean(axis=-1, keepdims=True) + eps)
    out = f64(gain) * (v - mu) / sigma
    return out if shift is None else out + f64(shift)


def layernorm_lstm_step(cell, carry, x):
    h, c = carry
    H, eps = cell.hidden_size, cell.eps
    z = _ln(x @ f64(cell.weight_ih).T, cell.ln_x_gain, cell.ln_x_bias, eps)
    z = z + _ln(h @ f64(cell.weight_hh).T, cell.ln_h_gain, cell.ln_h_bias, eps)
    if cell.bias is not None:
        z = z + f64(cell.bias)
    i, f, g, o = (z[:, k * H : (k + 1) * H] for k in range(4))
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h_new = sigmoid(o) * np.tanh(_ln(c_new, cell.ln_c_gain, cell.ln_c_bias, eps))
    return (h_new, c_new), h_new
