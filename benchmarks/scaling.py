"""Throughput of data-parallel training (``train.devices``) against one device, on the machine's devices.

    python benchmarks/scaling.py [--devices 1 2 4 8] [--steps 60] [--per-device-batch 64] [--out F.json]
    python benchmarks/scaling.py --fake-cpu 4 --quick      # a smoke test of every path on fake CPU devices

A character-level LSTM language model (`recurrax.tasks.lm`: embedding 128, 2 layers of ``--hidden`` units,
``--seq-len`` tokens per window, random tokens over a 96-symbol vocabulary) is trained with `recurrax.train.fit`
for ``--steps`` updates on 1, 2, 4, ... devices, two ways:

- weak scaling: ``--per-device-batch`` rows per device (the global batch grows with the devices);
- strong scaling: the global batch of the largest count, split over fewer devices.

Each row reports tokens/s (median of the logged windows after the first, which holds the compilation), its
ratio to one device's and the parallel efficiency (ratio / devices). The machine is named (CPU, accelerator).
Fake CPU devices (``--fake-cpu N`` sets ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` before JAX
starts) share the host's cores: they test the code paths, they cannot show a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", help="device counts (default 1, 2, 4, ... up to all)")
    parser.add_argument("--steps", type=int, default=60, help="updates per run")
    parser.add_argument("--per-device-batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--fake-cpu", type=int, default=0, help="run on this many fake CPU devices")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps: a smoke test")
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.per_device_batch, args.hidden, args.seq_len = 6, 2, 16, 8
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.fake_cpu:
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.fake_cpu}"
        os.environ["JAX_PLATFORMS"] = "cpu"
    import jax  # after XLA_FLAGS

    from recurrax._host import cpu_name

    available = jax.device_count()
    counts = args.devices or [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= available]
    if max(counts) > available:
        sys.exit(f"asked for {max(counts)} devices, JAX sees {available}")
    print(f"{jax.devices()[0].device_kind} x {available}, host CPU {cpu_name()}, jax {jax.__version__}")
    rows = []
    largest = max(counts) * args.per_device_batch
    for mode in ("weak", "strong"):
        for count in counts:
            batch = count * args.per_device_batch if mode == "weak" else largest
            rate = tokens_per_s(args, count, batch)
            rows.append({"mode": mode, "devices": count, "global_batch": batch, "tokens_per_s": rate})
    for row in rows:
        base = next(r for r in rows if r["mode"] == row["mode"] and r["devices"] == min(counts))["tokens_per_s"]
        row["speedup"] = row["tokens_per_s"] / base
        row["efficiency"] = row["speedup"] / (row["devices"] / min(counts))
        print(f"{row['mode']:>6}  devices {row['devices']:>3}  batch {row['global_batch']:>5}  "
              f"{row['tokens_per_s']:>12,.0f} tokens/s  x{row['speedup']:.2f}  efficiency {row['efficiency']:.2f}")  # fmt: skip
    if args.out:
        machine = {"device": jax.devices()[0].device_kind, "count": available, "cpu": cpu_name()}
        with open(args.out, "w") as f:
            json.dump({"machine": machine, "settings": vars(args), "rows": rows}, f, indent=1)


def tokens_per_s(args: argparse.Namespace, devices: int, batch: int) -> float:
    """Median tokens/s of ``args.steps`` updates of the LM on ``devices`` devices at global batch ``batch``."""
    import jax
    import numpy as np

    from recurrax.tasks import lm
    from recurrax.train import OptimConfig, TrainConfig, fit

    vocab, window = 96, args.seq_len
    tokens = np.random.default_rng(0).integers(0, vocab, size=batch * window * (args.steps + 1) + 1)
    windows = lm.TokenWindows.from_documents([tokens.astype(np.int32)], batch_size=batch, seq_len=window)
    model = lm.build_model(lm.ModelConfig(hidden_size=args.hidden), vocab, key=jax.random.key(0))
    log_every = max(1, args.steps // 6)
    train = TrainConfig(steps=args.steps, log_every=log_every, eval_every=0, checkpoint_every=0, devices=devices)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        result = fit(model, lm.lm_loss, windows, optim=OptimConfig(), train=train, run_dir=run_dir,
                     init_carry=lambda: model.init_state(batch), tokens_per_batch=batch * window,
                     progress=False)  # fmt: skip
    rates = [row["tokens_per_s"] for row in result.history if row["split"] == "train"][1:]
    print(f"  {devices} device(s), batch {batch}: {time.perf_counter() - began:.1f} s", flush=True)
    return statistics.median(rates)


if __name__ == "__main__":
    main()
