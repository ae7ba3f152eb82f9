"""What `RNNStack.outputs` and the unrolled ensemble calls save, in one process, interleaved (fwd+bwd of
``sum(sin(ys))``, gradients w.r.t. every weight, median ms, best of 3 rounds):

- **lengths**: a stack with ``lengths`` run masked (``model(xs, lengths)``: the XLA kernel, oneDNN knows no
  lengths) against `RNNStack.outputs` (every layer unmasked over its valid steps: oneDNN's LSTM), at the sizes
  of the default classifier (bidirectional, B32 T150 D1 H64) and of auto's forecaster (B256 T72 D1 H64);
- **ensembles**: three vmapped members of the forecaster's stack (no lengths) with the oneDNN calls run as
  XLA's ``"sequential"`` loop (before) and unrolled per member (now), beside one member's time.

    python benchmarks/onednn_lengths.py
"""

from __future__ import annotations

from unittest import mock

import equinox as eqx
import jax
import jax.numpy as jnp
from _cpu_timing import median_ms

import recurrax as rx
from recurrax._host import cpu_name, usable_cores
from recurrax.scan import _onednn

SIZES = [("classifier", 32, 150, 1, 64, True), ("forecaster", 256, 72, 1, 64, False)]


def lengths_rows() -> None:
    for name, batch, steps, inputs, hidden, bidirectional in SIZES:
        model = rx.RNNStack(inputs, hidden, bidirectional=bidirectional, key=jax.random.key(0))
        xs = jax.random.normal(jax.random.key(1), (batch, steps, inputs))
        lengths = jax.random.randint(jax.random.key(2), (batch,), steps // 2, steps + 1)
        params, static = eqx.partition(model, eqx.is_inexact_array)
        masked = lambda p: jnp.sum(jnp.sin(eqx.combine(p, static)(xs, lengths)[0]))  # noqa: E731
        unmasked = lambda p: jnp.sum(jnp.sin(eqx.combine(p, static).outputs(xs, lengths)))  # noqa: E731
        runs = {"masked": jax.jit(jax.grad(masked)), "outputs": jax.jit(jax.grad(unmasked))}
        best = {k: min(median_ms(f, params, rounds=30) for _ in range(3)) for k, f in runs.items()}
        print(f"lengths, {name} B{batch} T{steps} D{inputs} H{hidden}{' bidirectional' if bidirectional else ''}: "
              f"masked {best['masked']:.2f} ms, outputs {best['outputs']:.2f} ms "
              f"({best['masked'] / best['outputs']:.2f}x)", flush=True)  # fmt: skip


def ensemble_rows(members: int = 3) -> None:
    _, batch, steps, inputs, hidden, _ = SIZES[1]
    keys = jax.random.split(jax.random.key(0), members)
    stacked = eqx.filter_vmap(lambda k: rx.RNNStack(inputs, hidden, key=k))(keys)
    params, static = eqx.partition(stacked, eqx.is_inexact_array)
    xs = jax.random.normal(jax.random.key(1), (members, batch, steps, inputs))
    loss = lambda p, x: jnp.sum(eqx.combine(p, static)(x)[0] ** 2)  # noqa: E731
    member = jax.tree.map(lambda a: a[0], params)
    times = {"one member": min(median_ms(jax.jit(jax.grad(loss)), member, xs[0]) for _ in range(3))}
    for method in ("sequential", "sequential_unrolled"):
        def call(target, results, *args, vmap_method=method, **attributes):
            return jax.ffi.ffi_call(target, results, vmap_method=vmap_method)(*args, **attributes)

        with mock.patch.object(_onednn, "_call", call):  # the FFI batching of before, for this row only
            grad = jax.jit(jax.vmap(jax.grad(loss)))
            times[method] = min(median_ms(grad, params, xs) for _ in range(3))
    print(f"ensemble of {members}, B{batch} T{steps} D{inputs} H{hidden} fwd+bwd: one member "
          f"{times['one member']:.1f} ms; vmapped, sequential (before) {times['sequential']:.1f} ms, unrolled (now) "
          f"{times['sequential_unrolled']:.1f} ms ({times['sequential'] / times['sequential_unrolled']:.2f}x)")  # fmt: skip


def main() -> None:
    print(f"CPU: {cpu_name()}, {usable_cores()} usable cores; jax {jax.__version__}")
    assert _onednn.onednn_applies((jnp.zeros((1, 1, 1)),), None, None), "the oneDNN kernel is not built"
    lengths_rows()
    ensemble_rows()


if __name__ == "__main__":
    main()
