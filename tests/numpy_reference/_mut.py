"""MUT1, MUT2, MUT3 references (Jozefowicz, Zaremba & Sutskever 2015), each written out from the paper's
equations with its own named kernels."""

import numpy as np

from ._common import f64, sigmoid


def _kernels(cell):
    """Named ``[H, ·]`` blocks: ``W_x*`` from ``weight_ih``, ``W_h*`` from ``weight_hh_gates``, and ``W_hh``."""
    H = cell.hidden_size
    w_ih, w_gates = f64(cell.weight_ih), f64(cell.weight_hh_gates)
    named = {f"W_x{g}": w_ih[k * H : (k + 1) * H] for k, g in enumerate(cell.input_kernels)}
    named.update({f"W_h{g}": w_gates[k * H : (k + 1) * H] for k, g in enumerate(cell.recurrent_kernels)})
    named["W_hh"] = f64(cell.weight_hh)
    b = np.zeros(3 * H) if cell.bias is None else f64(cell.bias)
    named.update(b_z=b[:H], b_r=b[H : 2 * H], b_h=b[2 * H :])
    return named


def _embedded(cell, x):
    """``x`` itself (``D == H``) or the input embedding ``W_e x`` that MUT1 / MUT2 add where ``D != H``."""
    return x if cell.weight_embed is None else x @ f64(cell.weight_embed).T


def mut1_step(cell, h, x, recurrent_mask=None):
    k = _kernels(cell)
    h_rec = h if recurrent_mask is None else h * recurrent_mask
    z = sigmoid(x @ k["W_xz"].T + k["b_z"])
    r = sigmoid(x @ k["W_xr"].T + h_rec @ k["W_hr"].T + k["b_r"])
    h_new = np.tanh((r * h_rec) @ k["W_hh"].T + np.tanh(_embedded(cell, x)) + k["b_h"]) * z + h * (1.0 - z)
    return h_new, h_new


def mut2_step(cell, h, x, recurrent_mask=None):
    k = _kernels(cell)
    h_rec = h if recurrent_mask is None else h * recurrent_mask
    z = sigmoid(x @ k["W_xz"].T + h_rec @ k["W_hz"].T + k["b_z"])
    r = sigmoid(_embedded(cell, x) + h_rec @ k["W_hr"].T + k["b_r"])
    h_new = np.tanh((r * h_rec) @ k["W_hh"].T + x @ k["W_xh"].T + k["b_h"]) * z + h * (1.0 - z)
    return h_new, h_new


def mut3_step(cell, h, x, recurrent_mask=None):
    k = _kernels(cell)
    h_rec = h if recurrent_mask is None else h * recurrent_mask
    z = sigmoid(x @ k["W_xz"].T + np.tanh(h_rec) @ k["W_hz"].T + k["b_z"])
    r = sigmoid(x @ k["W_xr"].T + h_rec @ k["W_hr"].T + k["b_r"])
    h_new = np.tanh((r * h_rec) @ k["W_hh"].T + x @ k["W_xh"].T + k["b_h"]) * z + h * (1.0 - z)
    return h_new, h_new
