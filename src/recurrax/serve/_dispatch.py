"""`inline_cpu_dispatch`: run every CPU computation on the thread that calls it, as a service wants.

JAX's CPU client hands each computation that holds a matmul to a worker thread and the caller waits for it
(asynchronous dispatch, made for training loops that queue work ahead). A service waits for every answer, so
it only pays the hand-over: tens of microseconds on a VM, more than one step of a served LSTM. On the 2-core
Xeon (`benchmarks/step_latency.py`, medians of four runs), a served B1 D64 H128 LSTM step took 83.9 µs
asynchronously and 15.2 µs inline (torch's ``nn.LSTMCell`` 27.0 µs). Training in one process measured the same
either way (the LM quickstart, 300 steps: 12.8-14.5 s both, two runs each). JAX reads the setting once, when
it creates its CPU client, so this must run before the process's first computation; ``recurrax serve`` calls it
first.
"""

from __future__ import annotations

import jax

FLAG = "jax_cpu_enable_async_dispatch"


def inline_cpu_dispatch() -> bool:
    """Make JAX's CPU client run computations on the calling thread. Returns whether it will: False when the
    process has already created its backends (with asynchronous dispatch, JAX's default)."""
    if not jax.config.values[FLAG]:
        return True
    from jax._src import xla_bridge  # jax 0.10 has no public test for "a backend exists"

    if xla_bridge.backends_are_initialized():
        return False
    jax.config.update(FLAG, False)
    return True
