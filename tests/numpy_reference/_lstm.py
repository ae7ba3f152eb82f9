"""LSTM reference: Hochreiter & Schmidhuber 1997, Gers et al. 2000, peepholes (Gers & Schmidhuber 2000),
projection (Sak et al. 2014) and the Greff et al. 2017 ablations, written gate by gate."""

import numpy as np

from ._common import f64, sigmoid


def lstm_step(cell, carry, x):
    h, c = carry[0], carry[1]
    H = cell.hidden_size
    w_ih, w_hh = f64(cell.weight_ih), f64(cell.weight_hh)
    blocks = {name: slice(k * H, (k + 1) * H) for k, name in enumerate(cell.gate_layout)}

    def pre(name):
        out = x @ w_ih[blocks[name]].T + h @ w_hh[blocks[name]].T
        if cell.bias_ih is not None:
            out = out + f64(cell.bias_ih)[blocks[name]] + f64(cell.bias_hh)[blocks[name]]
        if cell.full_gate_recurrence and name != "g":
            # previous i, f, o activations feed every sigmoid gate through R (rows of this gate)
            k = cell.sigmoid_gates.index(name)
            r = f64(cell.weight_gate_recurrence)[k * H : (k + 1) * H]
            out = out + carry[2] @ r.T
        return out

    def peep(name, state):
        if name not in cell.peepholes:
            return 0.0
        return f64(cell.weight_peephole)[cell.peepholes.index(name)] * state

    g = np.tanh(pre("g")) if cell.input_activation else pre("g")
    f = sigmoid(pre("f") + peep("f", c)) if cell.forget_gate else np.ones_like(c)
    if cell.coupled:
        i = 1.0 - f
    elif cell.input_gate:
        i = sigmoid(pre("i") + peep("i", c))
    else:
        i = np.ones_like(c)
    c_new = f * c + i * g
    o = sigmoid(pre("o") + peep("o", c_new)) if cell.output_gate else np.ones_like(c)
    h_new = o * (np.tanh(c_new) if cell.output_activation else c_new)
    if cell.proj_size:
        h_new = h_new @ f64(cell.weight_hr).T
    if cell.full_gate_recurrence:
        gates = np.concatenate([{"i": i, "f": f, "o": o}[name] for name in cell.sigmoid_gates], axis=-1)
        return (h_new, c_new, gates), h_new
    return (h_new, c_new), h_new
