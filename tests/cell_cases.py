"""Every cell configuration the generic cell tests run: ``id -> (input_size, make(key) -> cell)``.

Add a case here for each new cell or option; tests/test_cells.py checks each against its NumPy reference,
a plain Python loop and the padding-semantics oracle.
"""

from __future__ import annotations

import recurrax as rx

D, H = 3, 4


def _registered(name: str, input_size: int = D, **options):
    return input_size, lambda key: rx.cells.make_cell(name, input_size, H, key=key, **options)


CELL_CASES = {
    "lstm": _registered("lstm"),
    "lstm_nobias": _registered("lstm", bias=False),
    "lstm_peephole_f": _registered("lstm", peepholes=("f",)),
    "lstmp": _registered("lstm", proj_size=2),
    "lstmp_peephole": _registered("peephole", proj_size=3),
    **{name: _registered(name) for name in ("vanilla", "nig", "nfg", "nog", "niaf", "noaf", "np", "cifg", "fgr")},
    "gru": _registered("gru"),
    "gru_nobias": _registered("gru", bias=False),
    "gru_cho": _registered("gru_cho"),
    "rnn_tanh": _registered("rnn_tanh"),
    "rnn_relu": _registered("rnn_relu"),
    "mgu": _registered("mgu"),
    "mut1": _registered("mut1", input_size=H),
    "mut2": _registered("mut2", input_size=H),
    "mut1_embedded": _registered("mut1"),  # D != H: x enters through the input embedding W_e
    "mut2_embedded": _registered("mut2"),
    "mut3": _registered("mut3"),
    "layernorm_lstm": _registered("layernorm_lstm"),
    "layernorm_lstm_nobias": _registered("layernorm_lstm", bias=False),
    "depth_gated": _registered("depth_gated"),  # layer 0 of 1: a plain LSTM
    "depth_gated_emit": _registered("depth_gated", layer=0, num_layers=2),  # bottom: emits (h, c)
    "depth_gated_middle": _registered("depth_gated", 2 * H, layer=1, num_layers=3),  # reads and emits memory
    "depth_gated_top": _registered("depth_gated", 2 * H, layer=1, num_layers=2),  # reads memory, emits h
    "clockwork": _registered("clockwork"),  # periods 1, 2, 4, 8: four modules of one unit
    "clockwork_relu": _registered("clockwork", periods=(1, 3), nonlinearity="relu"),
}
