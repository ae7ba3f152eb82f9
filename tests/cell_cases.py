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
}
