"""glibc's allocator tuned for XLA's large per-call buffers, at the start of ``import recurrax``.

XLA:CPU allocates every call's outputs and temporaries with ``malloc`` and frees them after: the oneDNN training
workspace (30 MiB at B32 T100 H128, 170 MiB at B64 T200 H256), the native kernels' saved gates (52 MiB at B64
T200 H256) and the layers' outputs. With glibc's defaults a block above 32 MiB is mapped afresh and returned to
the system when freed, so every call page-faults it in again, zeroed. `tune_malloc` (`mallopt`) takes blocks up
to 1 GiB from the heap (``M_MMAP_THRESHOLD``) and keeps up to 1 GiB of freed memory mapped (``M_TRIM_THRESHOLD``;
64 MiB kept beyond a shrinking heap, ``M_TOP_PAD``): a process keeps the memory of its largest call. At B32 T100
H128 fwd+bwd on the 2-core Xeon this took the page faults from 2,100-5,200 a call to none (15-24 against 12-13
ms). It runs before recurrax imports numpy or JAX.

Not done, measured: threads other than the main one allocate from arenas of their own, whose 64 MiB heaps map
any larger block afresh whatever the thresholds, so at B64 T200 H256 fwd+bwd still faults 42,000 pages (165 MiB)
a call. One arena for every thread (``M_ARENA_MAX = 1``, or ``MALLOC_ARENA_MAX=1`` in the environment) removed
them (184-194 against 138 ms a call there, a bidirectional 2-layer stack at B32 T100 H128 85 against 65-68 ms a
step) but made the threads queue on its lock: Cho's GRU on oneDNN at B32 T100 H128 fwd+bwd 21 against 11.6 ms,
first calls (compiling) 0.1 s slower, a sample of the test suite's small fits 12% longer. It is left to the user
(large layers: ``MALLOC_ARENA_MAX=1``).

Any ``MALLOC_*`` variable or a ``GLIBC_TUNABLES`` setting in the environment, or ``RECURRAX_ONEDNN=0``, leaves the
allocator alone; glibc applies such variables itself at process start.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters
MALLOC_SETTINGS = {M_MMAP_THRESHOLD: 1 << 30, M_TRIM_THRESHOLD: 1 << 30, M_TOP_PAD: 64 << 20}


def tune_malloc() -> bool:
    """glibc's ``mallopt`` with `MALLOC_SETTINGS` (see the module docstring). False where the C library has no
    ``mallopt`` or refused a value."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    return all([bool(mallopt(parameter, value)) for parameter, value in MALLOC_SETTINGS.items()])


def allocator_left_alone() -> bool:
    """Whether the environment sets the allocator itself or turns the native kernels off (see the module)."""
    own = any(name.startswith("MALLOC_") for name in os.environ) or "malloc" in os.environ.get("GLIBC_TUNABLES", "")
    return own or os.environ.get("RECURRAX_ONEDNN", "1") == "0"


if not allocator_left_alone():
    tune_malloc()
