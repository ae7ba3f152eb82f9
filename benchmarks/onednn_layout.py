"""What handing oneDNN the batch-major layout saves: one forward LSTM layer on ``xs [B, T, D]``, timed in one
process, (a) as `recurrax.RNN` runs it now (``onednn_lstm(..., batch_first=True)``: not differentiated, oneDNN
reads ``[B, T, D]`` and writes ``[B, T, H]`` itself, format ``ntc``; differentiated, XLA transposes around
oneDNN's time-major training kernels, which ran 4-14% slower batch-major) and (b) as it ran before (XLA
transposes to ``[T, B, D]``, oneDNN's ``tnc`` call, the transpose back), forward and fwd+bwd, at the CPU bench
sizes (c3 as one layer). Median of 200 (forward) / 50 (fwd+bwd) calls, best of 3 rounds, interleaved. The
fwd+bwd columns run the same kernels both ways: they show the noise.

    python benchmarks/onednn_layout.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from _cpu_timing import median_ms

import recurrax as rx
from recurrax._host import cpu_name, usable_cores
from recurrax.scan._onednn import onednn_applies, onednn_lstm

SIZES = [("c1", 32, 100, 64, 128), ("c2", 64, 200, 128, 256), ("c3 (one layer)", 16, 500, 32, 512)]


def main() -> None:
    print(f"CPU: {cpu_name()}, {usable_cores()} usable cores; jax {jax.__version__}")
    for name, batch, steps, inputs, hidden in SIZES:
        layer = rx.RNN(rx.LSTMCell(inputs, hidden, key=jax.random.key(0)))
        cell = layer.cell
        xs = jax.random.normal(jax.random.key(1), (batch, steps, inputs))
        assert onednn_applies((xs,), None, None)
        bias = cell.bias_ih + cell.bias_hh
        zeros = jnp.zeros((batch, hidden))

        def transposed(w, x):
            ys, _ = onednn_lstm(w, cell.weight_hh, bias, jnp.swapaxes(x, 0, 1), zeros, zeros)
            return jnp.swapaxes(ys, 0, 1)

        def batch_major(w, x):
            return onednn_lstm(w, cell.weight_hh, bias, x, zeros, zeros, True)[0]

        loss = lambda f: jax.jit(jax.grad(lambda w, x: jnp.sum(f(w, x) ** 2)))
        runs = {"batch-major (now)": batch_major, "transposed (before)": transposed}
        forward = {k: jax.jit(f) for k, f in runs.items()}
        backward = {k: loss(f) for k, f in runs.items()}
        best = {k: [np.inf, np.inf] for k in runs}
        for _ in range(3):
            for k in runs:
                best[k][0] = min(best[k][0], median_ms(forward[k], cell.weight_ih, xs, rounds=200, warmup=1))
                best[k][1] = min(best[k][1], median_ms(backward[k], cell.weight_ih, xs, rounds=50, warmup=1))
        now, before = best["batch-major (now)"], best["transposed (before)"]
        print(f"{name} B{batch} T{steps} D{inputs} H{hidden}: forward {now[0]:.2f} ms vs {before[0]:.2f} ms "
              f"({before[0] / now[0]:.3f}x), fwd+bwd {now[1]:.2f} ms vs {before[1]:.2f} ms ({before[1] / now[1]:.3f}x)")


if __name__ == "__main__":
    main()
