"""glibc's allocator tuned for XLA's large per-call buffers, at the start of ``import recurrax``.

XLA:CPU allocates every call's outputs and temporaries with ``malloc`` and frees them after: the oneDNN training
workspace (30 MiB at B32 T100 H128, 170 MiB at B64 T200 H256), the native kernels' saved gates (52 MiB at B64
T200 H256) and the layers' outputs. With glibc's defaults each such block is mapped afresh and returned to the
system when freed, so every call page-faults it in again, zeroed; and a thread's own arena (glibc gives threads
arenas of 64 MiB heaps) maps any block above 64 MiB afresh whatever the thresholds. `tune_malloc` (`mallopt`)
therefore keeps one arena, the main heap, for every thread (``M_ARENA_MAX = 1``), takes blocks up to 1 GiB from
it (``M_MMAP_THRESHOLD``) and keeps up to 1 GiB of freed memory mapped (``M_TRIM_THRESHOLD``; 64 MiB kept beyond
a shrinking heap, ``M_TOP_PAD``): a process keeps the memory of its largest call, as torch's caching allocators do
on GPUs. Measured on the 2-core Xeon, fwd+bwd of one layer (the previous settings: main-heap blocks up to 256 MiB,
threads' own arenas): B64 T200 H256 42,000 page faults and 184-194 ms a call before, none and 138 ms after; B16
T500 H512 x 2 layers 774-826 against 658 ms; B32 T100 H128 unchanged (10-11 ms, no faults either way); a 2-layer
bidirectional LSTM at B32 T100 H128 85 against 65-68 ms a step. The price is compiling: XLA's compiler threads
share the one arena's lock, and a first call took 0.55 against 0.45 s (the same stack), 0.42 against 0.29 s (a
small one); a test-suite sample of many small fits ran 12% longer (35 against 31 s). A freed thread heap was the
cause at B64 T200 H256: glibc deletes (unmaps) a thread arena's heap once it is wholly free, whatever the
thresholds, so disallowing ``mmap`` (``M_MMAP_MAX = 0``) left the faults as they were.

Threads that took an arena before the tuning keep it (``M_ARENA_MAX`` only stops new ones), hence the tuning runs
before recurrax imports numpy or JAX: a program that imports numpy or JAX first keeps the arenas that their
threads made, and some of its large blocks may still be mapped per call. Any ``MALLOC_*`` variable or a
``GLIBC_TUNABLES`` setting in the environment, or ``RECURRAX_ONEDNN=0``, leaves the allocator alone; glibc
applies such variables itself at process start, where they take effect for every thread.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -2, -3, -8  # glibc's mallopt parameters
MALLOC_SETTINGS = {M_ARENA_MAX: 1, M_MMAP_THRESHOLD: 1 << 30, M_TRIM_THRESHOLD: 1 << 30, M_TOP_PAD: 64 << 20}


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
