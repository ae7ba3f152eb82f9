"""JAX's CPU computations run on the thread that calls them (``inline_cpu_dispatch``), set at ``import recurrax``.

JAX's CPU client by default hands each computation that holds a matmul to a worker thread and the caller waits
for it (asynchronous dispatch, made to queue work ahead). On CPU that costs recurrax twice:

- **Page faults.** XLA allocates a call's buffers (oneDNN's training workspace, the saved gates, the layers'
  outputs) with ``malloc`` on the thread that runs the call. A worker thread allocates from a glibc arena of
  its own, whose 64 MiB heaps map any larger block afresh and unmap it when freed, whatever `recurrax._malloc`
  sets, so every call faults its memory in again, zeroed. On the main thread the tuned main heap keeps it. On
  the 2-core Xeon (`benchmarks/dispatch_training.py`, two processes per mode; docs/benchmarks.md section 11):
  ``jax.grad`` of a B64 T200 D128 H256 `RNNStack` faulted 42,000 pages and took 189-205 ms a call
  asynchronously, 131-157 ms inline; at B32 T100 D64 H128 the same either way. Whole 300-step fits: a
  3-member M3 Monthly forecaster 33 s against 22-23 s, a 3-member LSTM-FCN GunPoint classifier 39-41 s
  against 30 s.
- **The hand-over** itself: 50-70 µs a call on a VM, more than a served LSTM step (B1 H128: 84 µs
  asynchronously, 15 µs inline; `benchmarks/step_latency.py`).

JAX reads the setting once, when it creates its CPU client, so it only takes effect when recurrax is imported
before the process's first computation (importing jax first is fine). ``RECURRAX_ASYNC_DISPATCH=1`` keeps JAX's
asynchronous dispatch. It does not touch GPU computations.
"""

from __future__ import annotations

import os

import jax

FLAG = "jax_cpu_enable_async_dispatch"
ASYNC_ENV = "RECURRAX_ASYNC_DISPATCH"


def inline_cpu_dispatch() -> bool:
    """Make JAX's CPU client run computations on the calling thread. Returns whether it will: False when the
    process has already created its backends with asynchronous dispatch (JAX's default)."""
    if not jax.config.values[FLAG]:
        return True
    from jax._src import xla_bridge  # jax 0.10 has no public test for "a backend exists"

    if xla_bridge.backends_are_initialized():
        return False
    jax.config.update(FLAG, False)
    return True


if os.environ.get(ASYNC_ENV) != "1":
    inline_cpu_dispatch()
