"""recurrax's `rx.LSTM` against torch `nn.LSTM` on CPU in alternating blocks: ratios that the machine's drift
cannot tilt.

    python benchmarks/torch_paired.py [--configs c1 c2 c3] [--blocks 10] [--calls 5] [--out F.json] [--markdown F.md]

Why: on the shared 2-core VM both libraries' times move by 30-50% over minutes, together (c3 fwd+bwd, one
process each, 25 calls: torch 780-850 ms in one stretch and 1,100-1,300 ms in the next, recurrax 640-720 and
880-1,040 ms; every oneDNN primitive slows alike, so it is the host, not the threads). `lstm_speed.py` times
torch in its own process after the JAX rows, so a drift between the two phases moves the ratio by as much as
the difference it measures. Here torch lives in a child process that waits for requests, and the two take turns:
per config and mode, ``--blocks`` blocks, each one untimed call then ``--calls`` timed calls of recurrax (more
where they take under ``--block-s`` seconds), then the same of torch (the order flips every block), with a pause
between turns in which the other side's OpenMP threads go to sleep (torch's spin for ``GOMP_SPINCOUNT`` = 10^6
iterations, tens of ms, then wait in the kernel; recurrax's for 1,000). Each block gives a ratio (x = torch block
median / recurrax block median, above 1 faster than torch); the table shows the median of the block ratios and
their range, beside each side's median over all its calls. The model and loss are `lstm_speed.py`'s (batch-major
``[B, T, D]``, loss = sum of the top layer's outputs, gradients w.r.t. every weight; forward under ``no_grad``),
as `recurrax.bench` builds them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import jax
from _cpu_timing import write_results

from recurrax._host import cpu_name, package_version
from recurrax.bench._configs import parse_config
from recurrax.bench._peers import build_recurrax

TORCH_SERVER = r"""
import json, sys, time, warnings
import torch
warnings.simplefilter("ignore")
models = {}
for line in sys.stdin:
    batch, steps, inputs, hidden, layers, mode, calls = json.loads(line)
    shape = (batch, steps, inputs, hidden, layers)
    if shape not in models:
        torch.manual_seed(0)
        models[shape] = torch.nn.LSTM(inputs, hidden, layers, batch_first=True), torch.randn(batch, steps, inputs)
    model, xs = models[shape]
    def fwd_bwd():
        model.zero_grad(set_to_none=True); model(xs)[0].sum().backward()
    def fwd():
        with torch.no_grad(): model(xs)
    run = fwd_bwd if mode == "fwd_bwd" else fwd
    run()
    times = []
    for _ in range(calls):
        start = time.perf_counter(); run(); times.append(1000 * (time.perf_counter() - start))
    print(json.dumps(times), flush=True)
"""
TORCH_SPINCOUNT = "1000000"
PAUSE_S = 0.3


class TorchServer:
    """torch in a child process: `times` sends one request and returns the timed calls' ms."""

    def __init__(self):
        env = {**os.environ, "GOMP_SPINCOUNT": TORCH_SPINCOUNT}
        env.pop("OMP_WAIT_POLICY", None)
        self.process = subprocess.Popen([sys.executable, "-c", TORCH_SERVER], env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)  # fmt: skip

    def times(self, cfg, mode: str, calls: int) -> list[float]:
        request = [cfg.batch, cfg.steps, cfg.inputs, cfg.hidden, cfg.layers, mode, calls]
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the torch process stopped")
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def recurrax_times(run, calls: int) -> list[float]:
    """One untimed call of ``run`` (which waits for its result), then the ms of ``calls`` timed ones."""
    run()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        run()
        times.append(1000 * (time.perf_counter() - start))
    return times


def paired(cfg, mode: str, run, torch: TorchServer, blocks: int, calls: int) -> dict:
    """``blocks`` alternating blocks of recurrax and torch; the block ratios and every call's ms."""
    ours, theirs, ratios = [], [], []
    for block in range(blocks):
        turns = ("recurrax", "torch") if block % 2 == 0 else ("torch", "recurrax")
        got = {}
        for side in turns:
            time.sleep(PAUSE_S)
            got[side] = recurrax_times(run, calls) if side == "recurrax" else torch.times(cfg, mode, calls)
        ours += got["recurrax"]
        theirs += got["torch"]
        ratios.append(statistics.median(got["torch"]) / statistics.median(got["recurrax"]))
        print(f"  {cfg.name} {mode} block {block}: x {ratios[-1]:.3f}", file=sys.stderr, flush=True)
    return {"calls": calls, "recurrax_ms": statistics.median(ours), "torch_ms": statistics.median(theirs),
            "x_median": statistics.median(ratios), "x_min": min(ratios), "x_max": max(ratios),
            "block_ratios": ratios, "recurrax_calls_ms": ours, "torch_calls_ms": theirs}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["c1", "c2", "c3"])
    parser.add_argument("--modes", nargs="+", default=["fwd_bwd", "fwd"], choices=["fwd_bwd", "fwd"])
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--calls", type=int, default=5, help="timed calls per side and block, at least")
    parser.add_argument("--block-s", type=float, default=1.0, help="more calls where these fall under this many s")
    parser.add_argument("--out")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    torch = TorchServer()
    results = {}
    try:
        for name in args.configs:
            cfg = parse_config(name)
            runs = dict(zip(("fwd_bwd", "fwd"), build_recurrax(cfg, jax.random.key(0))))
            for mode in args.modes:
                runs[mode]()  # compile
                one_call_s = min(recurrax_times(runs[mode], 3)) / 1000
                calls = max(args.calls, round(args.block_s / one_call_s))
                results[f"{cfg.name} {mode}"] = paired(cfg, mode, runs[mode], torch, args.blocks, calls)
    finally:
        torch.close()
    machine = f"{cpu_name()}, {os.cpu_count()} cores; jax {package_version('jax')}, torch {package_version('torch')}"
    lines = [f"Machine: {machine}. {args.blocks} blocks per config and mode; x = torch / recurrax.", "",
             "| config, mode | timed calls per side and block | torch ms | recurrax ms | x (median of blocks) | "
             "x range over blocks |", "|---|---|---|---|---|---|"]  # fmt: skip
    for label, r in results.items():
        lines.append(f"| {label} | {r['calls']} | {r['torch_ms']:.2f} | {r['recurrax_ms']:.2f} | "
                     f"{r['x_median']:.2f}x | {r['x_min']:.2f}-{r['x_max']:.2f}x |")  # fmt: skip
    payload = {"machine": machine, "blocks": args.blocks, "results": results}
    write_results("\n".join(lines) + "\n", payload, args.out, args.markdown)


if __name__ == "__main__":
    main()
