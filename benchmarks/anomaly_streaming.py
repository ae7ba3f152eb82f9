"""Streaming anomaly scores: cost per point per series, one series and many at once (issue 15's goal: below
1 ms per point per series on 2 CPU cores, scaling to many series).

The NAB scorer's network (a one-layer LSTM forecaster, hidden 16, one feature; weights untrained: the cost does
not depend on them) scores ``S`` series: `StreamingScorer.update` (one series, one point a call),
`FleetScorer.update` (one point of every series a call: one batched step) and `FleetScorer.update_many`
(``n`` points of every series a call: one compiled scan). The peer: torch ``nn.LSTMCell`` + ``nn.Linear``, one
step of ``S`` series under ``no_grad`` (the forecast only; the scorer also computes the error), timed in a
child process with ``OMP_WAIT_POLICY=ACTIVE`` as the other CPU benchmarks do (`benchmarks/_cpu_timing.py`).

    RECURRAX_ASYNC_DISPATCH=1 python benchmarks/anomaly_streaming.py \
        --out benchmarks/results/anomaly_streaming_cpu_xeon.md
    python benchmarks/anomaly_streaming.py --out benchmarks/results/anomaly_streaming_cpu_xeon_inline.md

(``RECURRAX_ASYNC_DISPATCH=1`` keeps JAX's asynchronous CPU dispatch; ``import recurrax`` otherwise makes it
inline, `recurrax._dispatch`.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
from _cpu_timing import median_us

from recurrax._dispatch import FLAG
from recurrax._host import cpu_name
from recurrax.tasks.anomaly import FleetScorer, ScorerConfig, StreamingScorer, fit_scorer
from recurrax.train import OptimConfig, TrainConfig

TORCH_STEP = r"""
import json, statistics, sys, time
import torch
torch.manual_seed(0)
cell, head = torch.nn.LSTMCell(1, 16), torch.nn.Linear(16, 1)
out = {}
for S in map(int, sys.argv[1:]):
    x, h, c = torch.randn(S, 1), torch.zeros(S, 16), torch.zeros(S, 16)
    ts = []
    with torch.no_grad():
        for i in range(300):
            t0 = time.perf_counter(); h, c = cell(x, (h, c)); y = head(h); ts.append(time.perf_counter() - t0)
    out[S] = 1e6 * statistics.median(ts[50:])
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", nargs="+", type=int, default=[1, 16, 256, 4096])
    parser.add_argument("--block", type=int, default=1024, help="points per update_many call")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    config = ScorerConfig(kind="prediction", hidden_size=16, window=32)
    scorer = fit_scorer(rng.normal(size=(500, 1)), config, optim=OptimConfig(), train=TrainConfig(steps=0),
                        key=jax.random.key(0))  # fmt: skip
    single = StreamingScorer(scorer)
    one_point = median_us(lambda: single.update(rng.normal(size=1)), 500)
    torch_us = json.loads(subprocess.run([sys.executable, "-c", TORCH_STEP, *map(str, args.streams)], check=True,
                                         capture_output=True, text=True,
                                         env={**os.environ, "OMP_WAIT_POLICY": "ACTIVE"}).stdout)  # fmt: skip
    rows = []
    for streams in args.streams:
        fleet = FleetScorer(scorer, streams=streams)
        point, block = rng.normal(size=(streams, 1)), rng.normal(size=(args.block, streams, 1))
        step_us = median_us(lambda: fleet.update(point), 200)
        block_us = median_us(lambda: fleet.update_many(block), 5 if streams > 256 else 20)
        rows.append({"streams": streams, "update_us": step_us, "update_us_per_series": step_us / streams,
                     "update_many_us_per_point_series": block_us / (args.block * streams),
                     "torch_step_us": torch_us[str(streams)], "torch_step_us_per_series": torch_us[str(streams)] / streams})  # fmt: skip
    dispatch = "asynchronous" if jax.config.values[FLAG] else "inline"
    lines = [f"# Streaming anomaly scores, {cpu_name()} ({jax.device_count()} JAX device, CPU), {dispatch} dispatch",
             "",
             f"`StreamingScorer.update`, one series: **{one_point:.0f} µs per point**.", "",
             f"| series S | `FleetScorer.update` µs per call | µs per point per series | `update_many` ({args.block} "
             "points) µs per point per series | torch LSTMCell + Linear step µs (per series) |", "|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['streams']} | {r['update_us']:.0f} | {r['update_us_per_series']:.2f} | "
                     f"{r['update_many_us_per_point_series']:.3f} | {r['torch_step_us']:.0f} ({r['torch_step_us_per_series']:.2f}) |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps({"single_update_us": one_point, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
