"""Speed of a single-direction LSTM: recurrax against torch, flax, equinox and cuDNN.

    python benchmarks/lstm_speed.py [--device cpu|gpu] [--quick] [--repeats N] [--out F.json] [--markdown F.md]

Times fwd+bwd (loss = sum of the top layer's outputs, gradients w.r.t. all weights) and forward only; each
number is the median over repeats after a first (compiling) call and warm-up. ``x`` = reference time /
implementation time, the reference being torch (``nn.LSTM``: oneDNN on CPU, cuDNN on GPU); above 1 is faster.
Also times every registered recurrax cell against the plain ``"lstm"`` and the first-call (compile) time of
recurrax fwd+bwd at T=100 and T=1000. ``--quick`` runs every code path at tiny sizes with 1-2 repeats, and
``--device gpu --quick`` does so on the CPU when there is no GPU (a smoke test of the GPU code paths).

Method: the JAX implementations of a config are timed in one process in interleaved rounds, so drifting load
on a shared machine hits all of them alike. torch runs last: on CPU in a fresh process with
``OMP_WAIT_POLICY=ACTIVE`` (its fastest setting on small CPUs), because its spinning OpenMP threads and those of
recurrax's oneDNN kernel would take each other's cores in one process (`recurrax.bench._torch_process`).

The timing core is the library's `recurrax.bench` (also run by ``recurrax bench``); this script is its
command line with the options above.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX and torch share the GPU

from recurrax.bench import make_plan, markdown_report, print_report, run_benchmark


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1-2 repeats: a smoke test of every path")
    parser.add_argument("--repeats", type=int, default=0, help="timed rounds per config (default 10 CPU, 30 GPU)")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--markdown", help="write markdown tables here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        plan = make_plan(args.device, args.quick, args.repeats, started)
    except ValueError as err:
        sys.exit(str(err))
    report = run_benchmark(plan, started)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_report(report, plan))
    print_report(report, plan)


if __name__ == "__main__":
    main()
